"""ANTs' linear registration as the strategy ``ants``, through antspyx (``pip install 'regbench[ants]'``): its
Rigid, Affine, Translation or Similarity stage, the one of the case's transform model.

Each run maps the case onto an ``antsRegistration`` command (:mod:`regbench_plugins.ants_map`; docs/engines.md has
the table) with ANTs' own optimizer settings (its conjugate-gradient line search: gradient step 0.25, convergence
1e-6 over 10 iterations, the iteration schedule of antspyx's 'Rigid' and 'Affine'), starts where SimpleITK would
start (the case's starting transform, seeded jitter included, as ANTs' initial moving transform) and reports the
execution through ``ctx.record_external``. ANTs prints its iterations only to the C++ standard output, one
``DIAGNOSTIC`` block per level: it is captured at the file-descriptor level and read back (iterations and ANTs'
metric per iteration). ANTs prints no stop reason: the stop of each level is inferred (its cap reached, else the
convergence window) and marked so. The result is ANTs' collapsed affine (initial transform included), fixed → moving,
as a transform of the case's model.

Reproducibility: the run's sampling seed is ANTs' ``--random-seed`` (and ``ANTS_RANDOM_SEED``), the run's threads
ITK's ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` inside the call. antspyx is imported inside the run (or by
``prepare_process``), never at plugin load: regbench works without the extra, which lists the strategy as
unavailable with the ``pip install`` line.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk

import regbench
from regbench import ExternalExecution, ExternalLevel, UnsupportedSetup, param
from regbench_plugins import ants_map
from regbench_plugins.ants_map import read_diagnostics
from regbench_plugins.stop_texts import rule_classifier

INSTALL = "needs antspyx: pip install 'regbench[ants]' (or pip install 'antspyx>=0.6')"


@functools.cache
def _ants() -> Any:
    """antspyx, imported once per process (its import loads ANTs' libraries)."""
    import ants

    return ants


#: The ITK thread count ANTs' library took in this process: ITK reads the variable once, at its first use.
_THREADS: dict[str, int] = {}


@dataclass(frozen=True)
class AntsParams:
    number_of_iterations: int = param(
        0,
        "iteration cap per level; 0: ANTs' schedule (antspyx's 2100x1200x1200x10, its last n for n levels)",
        min=0,
    )
    single_precision: bool = param(True, "ANTs computes in float (its default, --float 1); false: double")


class Ants(regbench.Strategy):
    """ANTs' linear stage of the case's model (Translation, Rigid, Similarity, Affine) with ANTs' settings."""

    Params = AntsParams
    engine = "ANTs"
    iteration_cap_param = "number_of_iterations"

    def engine_versions(self) -> dict[str, str]:
        return {"antspyx": regbench.package_version("antspyx")} if self.unavailable is None else {}

    def prepare_process(self) -> None:
        _ants()  # loads ANTs' libraries outside the run's clock; cached after

    def run(self, ctx: regbench.RunContext, params: AntsParams) -> sitk.Transform | None:
        model = ctx.setup.transform
        if model not in ants_map.STAGES:
            raise UnsupportedSetup(
                f"transform {model!r} has no ANTs linear stage (ANTs' deformable stages, SyN and BSplineSyN, are "
                f"not mapped); ANTs runs the models {', '.join(ants_map.STAGES)}"
            )
        start = ctx.new_method().GetInitialTransform()  # where SimpleITK starts: the model, seeded jitter included
        if ctx.full_transform(start) is not start:
            raise UnsupportedSetup(
                "a case whose initial transform is not of the model's type (SimpleITK's moving initial transform) "
                "is not mapped onto ANTs yet"
            )
        execution = execute(ctx, start, ants_map.STAGES[model], model, params)
        ctx.record_external(execution)
        return execution.transform


def execute(
    ctx: regbench.RunContext, start: sitk.Transform, stage: str, model: str, params: AntsParams
) -> ExternalExecution:
    """Run antsRegistration's ``stage`` from ``start`` on the case's images; the execution as read from its output."""
    ants = _ants()
    setup, dim = ctx.setup, ctx.fixed.GetDimension()
    caps = ants_map.schedule(setup.levels, params.number_of_iterations)
    threads = _THREADS.setdefault("itk", ctx.threads)
    unavailable = {
        "final_metric": "ANTs' last value is on its own metric (single precision by default), not the case's",
        "stop": "ANTs prints no stop reason: each level's stop is inferred from its iterations and cap",
    }
    if threads != ctx.threads:
        unavailable["threads"] = f"ITK took {threads} threads at ANTs' first use in this process, not {ctx.threads}"
    with tempfile.TemporaryDirectory(prefix="regbench-ants-") as out:
        paths = _write_inputs(ctx, start, Path(out))
        args = ants_map.command(setup, stage, paths, caps, ctx.sampling_seed, params.single_precision, dim)
        env = {"ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": str(threads), "ANTS_RANDOM_SEED": str(ctx.sampling_seed)}
        started, cpu, error = time.perf_counter(), time.process_time(), None
        with _environment(env), _captured(Path(out) / "stdout.txt", 1), _captured(Path(out) / "stderr.txt", 2):
            try:
                ants.registration(args, None)  # antspyx's list form: antsRegistration with these arguments
            except RuntimeError as exc:
                error = str(exc)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        text = (Path(out) / "stdout.txt").read_text(errors="replace")
        result = Path(out) / "out0GenericAffine.mat"
        if error is None and not result.is_file():
            error = "ANTs wrote no 0GenericAffine.mat"
        if error is not None:
            told = " ".join((Path(out) / "stderr.txt").read_text(errors="replace").split())[-300:]
            error = f"ANTs failed: {error}" + (f": {told}" if told else "")
        transform = None if error else ants_map.to_model(sitk.ReadTransform(str(result)), model, start)
    blocks = read_diagnostics(text)
    if error is None and len(blocks) != setup.levels:
        error = f"ANTs printed {len(blocks)} DIAGNOSTIC blocks for the case's {setup.levels} levels"
    levels = [_level(index, block, caps[index]) for index, block in enumerate(blocks[: setup.levels])]
    _, metric = ants_map.metric_argument(setup, "fixed", "moving")
    return ExternalExecution(
        engine="ANTs",
        optimizer=f"ConjugateGradientLineSearch ({stage} stage)",
        metric=metric,
        levels=levels,
        transform=transform,
        version=regbench.package_version("antspyx"),
        threads=threads,
        seed=ctx.sampling_seed,
        wall_time_s=wall,
        cpu_time_s=cpu,
        started_s=started,
        error=error,
        settings={"antsRegistration": [arg.replace(out, "<tmp>") for arg in args], "caps": caps},
        unavailable=unavailable,
        deterministic=_deterministic(threads, setup.metric),
    )


def _deterministic(threads: int, metric: str) -> bool | None:
    """As measured (docs/engines.md): one thread and a seed, bit-identical reruns; two threads with Mattes MI,
    reruns differ (its joint histogram is summed in thread order, as in SimpleITK); otherwise not known."""
    if threads == 1:
        return True
    return False if metric == "mattes" else None


def _level(index: int, block: ants_map.DiagnosticLevel, cap: int) -> ExternalLevel:
    iterations = len(block.metric)
    converged = [v for v in block.convergence if v is not None]
    return ExternalLevel(
        metric=block.metric,
        stop_condition=ants_map.stop_text(index, iterations, cap),
        stop_inferred=True,
        time_s=block.time_s,
        iterations=iterations,
        index=index,
        engine={"iteration_cap": cap, "last_convergence_value": converged[-1] if converged else None},
        unavailable={"learning_rate": "ANTs prints no step size (its line search picks one per iteration)"},
    )


def _write_inputs(ctx: regbench.RunContext, start: sitk.Transform, out: Path) -> dict[str, str]:
    """The images (MetaImage keeps the geometry exactly), masks and start as files antsRegistration reads."""
    paths = {"fixed": str(out / "fixed.mha"), "moving": str(out / "moving.mha"), "out": str(out / "out")}
    sitk.WriteImage(sitk.Cast(ctx.fixed, sitk.sitkFloat32), paths["fixed"])
    sitk.WriteImage(sitk.Cast(ctx.moving, sitk.sitkFloat32), paths["moving"])
    for name, mask in (("fixed_mask", ctx.data.fixed_mask), ("moving_mask", ctx.data.moving_mask)):
        if mask is not None:
            paths[name] = str(out / f"{name}.mha")
            sitk.WriteImage(sitk.Cast(mask > 0, sitk.sitkUInt8), paths[name])
    paths["start"] = str(out / "start.mat")
    sitk.WriteTransform(ants_map.as_affine(start), paths["start"])
    return paths


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _captured(path: Path, fd: int) -> Iterator[None]:
    """What the process writes to file descriptor ``fd`` (ANTs' C++ std::cout is 1), into ``path``."""
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.flush()
    saved = os.dup(fd)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            _flush_c_streams()  # C stdio buffers what std::cout wrote: flush it into the file, not the terminal
            os.dup2(saved, fd)
            os.close(saved)


def _flush_c_streams() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


# -- stop texts and registration ------------------------------------------------------------------------------------


_classify = rule_classifier(ants_map.STOP_RULES)


@regbench.hookimpl
def regbench_classify_stop(text: str) -> str | None:
    return _classify(text)


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    # once per plugin manager: package metadata, no import of antspyx
    unavailable = regbench.missing_package("antspyx", INSTALL)
    description = (
        "ANTs' linear stage of the case's model (antspyx's 'Rigid', 'Affine'... presets: conjugate-gradient line "
        "search, gradient step 0.25, ANTs' iteration schedule)"
    )
    register(Ants("ants", description, unavailable=unavailable))
