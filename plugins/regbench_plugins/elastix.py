"""elastix's optimizers as strategies, through itk-elastix (``pip install 'regbench[elastix]'``).

Each run maps the case onto an elastix parameter map (:mod:`regbench_plugins.elastix_map`; docs/engines.md has the
table), starts elastix where SimpleITK would start (the case's starting transform, seeded jitter included, given as
elastix's external initial transform, which elastix applies before the transform it optimizes), and reports the
execution through ``ctx.record_external``: per level the iterations and metric values of elastix's iteration table,
its ``Stopping condition:`` text and, for the stochastic gradient descents, its step size per iteration and its
estimated ``SP_a``, ``SP_A``, ``SP_alpha``, all read from ``elastix.log``. The result is elastix's combined
transform (initial, then optimized), fixed → moving as the case's convention.

itk loads lazily and its first use in a process costs 10–16 s: it is imported once per worker process, before the
first run's clock starts (``prepare_process``), never at plugin load, so regbench works without the extra. Without
itk-elastix the strategies are listed as unavailable with the ``pip install`` line, as the BrainWeb cases are
without their images.
"""

from __future__ import annotations

import functools
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

import regbench
from regbench import ExternalExecution, ExternalLevel, UnsupportedSetup, param
from regbench_plugins.elastix_map import LogLevel, parameter_map, read_log
from regbench_plugins.stop_texts import rule_classifier

INSTALL = "needs itk-elastix: pip install 'regbench[elastix]' (or pip install 'itk-elastix>=0.25')"


@functools.cache
def _itk() -> Any:
    """itk, imported once per process (its first use costs 10–16 s)."""
    import itk

    itk.ElastixRegistrationMethod  # noqa: B018  (loads the elastix module now, not inside the timed execution)
    return itk


@dataclass(frozen=True)
class ElastixParams:
    number_of_iterations: int = param(256, "MaximumNumberOfIterations: elastix's iteration cap per level", min=1)
    new_samples_every_iteration: bool = param(
        False,
        "NewSamplesEveryIteration, for a randomly sampled case: false keeps one sample set per level as SimpleITK "
        "does; true draws new samples every iteration (elastix's stochastic default for ASGD)",
    )


class Elastix(regbench.Strategy):
    """One elastix registration with the given optimizer, on the case's setup."""

    Params = ElastixParams
    engine = "elastix"
    iteration_cap_param = "number_of_iterations"

    def __init__(
        self,
        name: str,
        description: str,
        optimizer: str,
        settings: dict[str, str] | None = None,
        unavailable: str | None = None,
    ) -> None:
        super().__init__(name, description, unavailable=unavailable)
        self.optimizer = optimizer
        self.settings = dict(settings or {})

    def engine_versions(self) -> dict[str, str]:
        return {"itk-elastix": regbench.package_version("itk-elastix")} if self.unavailable is None else {}

    def prepare_process(self) -> None:
        _itk()  # itk's first use in this process (10–16 s), outside the run's clock; cached after

    def run(self, ctx: regbench.RunContext, params: ElastixParams) -> sitk.Transform | None:
        start = ctx.new_method().GetInitialTransform()  # where SimpleITK starts: the model, seeded jitter included
        if ctx.full_transform(start) is not start:
            raise UnsupportedSetup(
                "a case whose initial transform is not of the model's type (SimpleITK's moving initial transform) "
                "is not mapped onto elastix yet: elastix composes its initial transform the other way round"
            )
        fixed = ctx.fixed
        pmap = parameter_map(
            ctx.setup,
            fixed.GetSize(),
            fixed.GetSpacing(),
            self.optimizer,
            params.number_of_iterations,
            ctx.sampling_seed,
            params.new_samples_every_iteration,
            self.settings,
        )
        execution = execute(ctx, pmap, start, self.optimizer)
        ctx.record_external(execution)
        return execution.transform


def execute(
    ctx: regbench.RunContext, pmap: dict[str, list[str]], start: sitk.Transform, optimizer: str
) -> ExternalExecution:
    """Run elastix with ``pmap`` from ``start`` on the case's images; the execution as read from its log."""
    itk = _itk()  # loaded by prepare_process, before the run's clock
    with tempfile.TemporaryDirectory(prefix="regbench-elastix-") as out:
        method = _method(itk, ctx, pmap, start, out)
        started, cpu, error = time.perf_counter(), time.process_time(), None
        try:
            method.Update()
        except RuntimeError as exc:
            error = " ".join(str(exc).split())[-400:]
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        log = (Path(out) / "elastix.log").read_text(errors="replace") if (Path(out) / "elastix.log").is_file() else ""
        transform = None if error else _result(itk, method, out)
    if error is not None:
        error = "elastix failed: " + (_log_error(log) or error)
    levels = [_level(level, optimizer) for level in read_log(log)]
    return ExternalExecution(
        engine="elastix",
        optimizer=optimizer,
        metric=f"elastix {pmap['Metric'][0]}",
        levels=levels,
        transform=transform,
        version=_version(log),
        threads=ctx.threads,
        seed=int(pmap["RandomSeed"][0]),
        wall_time_s=wall,
        cpu_time_s=cpu,
        started_s=started,
        error=error,
        settings=pmap,
        unavailable={"final_metric": "elastix's final value is on its own metric, not the case's SimpleITK metric"},
    )


def _method(itk: Any, ctx: regbench.RunContext, pmap: dict[str, list[str]], start: sitk.Transform, out: str) -> Any:
    fixed, moving = _to_itk(itk, ctx.fixed), _to_itk(itk, ctx.moving)
    parameters = itk.ParameterObject.New()
    parameters.AddParameterMap({k: list(v) for k, v in pmap.items()})
    method = itk.ElastixRegistrationMethod[type(fixed), type(moving)].New()
    method.SetFixedImage(fixed)
    method.SetMovingImage(moving)
    method.SetParameterObject(parameters)
    method.SetNumberOfThreads(ctx.threads)
    if ctx.data.fixed_mask is not None:
        method.SetFixedMask(_to_itk(itk, ctx.data.fixed_mask > 0, np.uint8))
    if ctx.data.moving_mask is not None:
        method.SetMovingMask(_to_itk(itk, ctx.data.moving_mask > 0, np.uint8))
    path = str(Path(out) / "start.tfm")
    sitk.WriteTransform(start, path)
    method.SetExternalInitialTransform(itk.transformread(path)[0])
    method.SetOutputDirectory(out)
    method.SetLogToFile(True)
    method.SetLogToConsole(False)
    return method


def _to_itk(itk: Any, image: sitk.Image, dtype: type = np.float32) -> Any:
    """A SimpleITK image as an itk image of ``dtype``, its geometry kept."""
    out = itk.image_from_array(sitk.GetArrayFromImage(image).astype(dtype))
    out.SetOrigin(image.GetOrigin())
    out.SetSpacing(image.GetSpacing())
    dim = image.GetDimension()
    out.SetDirection(itk.matrix_from_array(np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)))
    return out


def _result(itk: Any, method: Any, out: str) -> sitk.Transform:
    """elastix's combined transform (the external initial, then the optimized one) as a SimpleITK transform."""
    combined = method.ConvertToItkTransform(method.GetCombinationTransform())
    path = str(Path(out) / "result.tfm")
    itk.transformwrite([combined], path)
    return sitk.ReadTransform(path).Downcast()


def _level(level: LogLevel, optimizer: str) -> ExternalLevel:
    metric = level.column("Metric") or []
    step = level.column("StepSize")
    times = level.column("Time[ms]")
    unavailable = {}
    if step is None:
        unavailable["learning_rate"] = f"elastix's {optimizer} logs no step size per iteration"
    if level.stop is None:
        unavailable["stop"] = "elastix logged no stopping condition for this resolution"
    return ExternalLevel(
        metric=metric,
        stop_condition=level.stop,
        learning_rate=step,
        time_s=None if times is None else list(np.cumsum(times) / 1000.0),
        engine=dict(level.settings),
        unavailable=unavailable,
    )


def _log_error(log: str) -> str | None:
    """What elastix wrote to its log about its failure, in one line (its exception only says "see the log"): the
    ITK exception's description, else the first error line."""
    lines = [" ".join(line.split()) for line in log.splitlines()]
    described = [line.removeprefix("Description: ") for line in lines if line.startswith("Description:")]
    errors = [line for line in lines if "ERROR" in line or line.startswith("Stopping condition: Error")]
    found = next(iter(described + errors), None)
    return None if found is None else re.sub(r"\(0x[0-9a-fA-F]+\)", "", found)[:300]  # addresses vary by run


def _version(log: str) -> str | None:
    for line in log.splitlines():
        if line.startswith("ELASTIX version:"):
            return line.split(":", 1)[1].strip()
    return None


# -- stop texts ---------------------------------------------------------------------------------------------------

#: elastix's ``Stopping condition:`` texts (its optimizers' AfterEachResolution), each anchored at the start.
STOP_RULES: tuple[tuple[str, str], ...] = (
    (r"Maximum number of iterations has been reached", "max_iterations"),
    (r"Simplex: Maximum number of iterations exceeded", "max_evaluations"),  # vnl's amoeba counts evaluations
    (r"Simplex: Both parameters convergence tolerance", "converged"),
    (r"Powell: Cost function values at the current parameter", "converged"),
    (r"Powell: Maximum number of iterations", "max_iterations"),
    (r"Almost no (?:decrease in function value|change in parameters)", "converged"),
    (r"The gradient magnitude has \(nearly\) vanished", "gradient_tolerance"),
    (r"Gradient magnitude tolerance", "gradient_tolerance"),
    (r"(?:The last step size was \(nearly\) zero|Minimum step size has been reached)", "step_too_small"),
    # QuasiNewtonLBFGS: its line search ended without the Wolfe conditions, LBFGS2's "rounding error" counterpart
    (r"Wolfe conditions are not satisfied", "line_search"),
    (r"Error in LineSearch", "line_search"),
    (r"(?:The diagonal matrix is invalid|The InvalidDiagonalMatrix)", "error"),
    (r"Error in metric", "error"),
)
_classify = rule_classifier(STOP_RULES)


@regbench.hookimpl
def regbench_classify_stop(text: str) -> str | None:
    return _classify(text)


# -- registration -------------------------------------------------------------------------------------------------

#: (name, elastix optimizer, settings, description)
VARIANTS: tuple[tuple[str, str, dict[str, str], str], ...] = (
    (
        "elastix-asgd",
        "AdaptiveStochasticGradientDescent",
        {},
        "elastix's default: adaptive stochastic gradient descent, its step size estimated (SP_a) and decayed",
    ),
    (
        "elastix-psgd",
        "PreconditionedStochasticGradientDescent",
        {},
        "elastix's preconditioned stochastic gradient descent (estimated preconditioner and step size)",
    ),
    ("elastix-lbfgs", "QuasiNewtonLBFGS", {}, "elastix's quasi-Newton LBFGS (More-Thuente line search)"),
    ("elastix-cg", "ConjugateGradient", {}, "elastix's nonlinear conjugate gradient with a line search"),
    (
        "elastix-rsgd",
        "RegularStepGradientDescent",
        {},
        "elastix's regular-step gradient descent (step halved on a direction change)",
    ),
    ("elastix-cmaes", "CMAEvolutionStrategy", {}, "elastix's CMA evolution strategy (gradient-free)"),
    ("elastix-simplex", "Simplex", {}, "elastix's Nelder-Mead simplex (gradient-free)"),
    ("elastix-powell", "Powell", {}, "elastix's Powell direction-set search with line searches (gradient-free)"),
)


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    # once per plugin manager: package metadata, no import of itk
    unavailable = regbench.missing_package("itk-elastix", INSTALL)
    for name, optimizer, settings, description in VARIANTS:
        register(Elastix(name, description, optimizer, settings, unavailable))
