"""Gradient-free baselines: Powell, the (1+1) evolution strategy and Nelder-Mead (Amoeba).

They show what the gradient methods buy: on a 6-parameter affine they get there in many more metric
evaluations; on a B-spline (dozens of parameters) their budget runs out first. Iteration counts mean different
things (reference §3.5): a Powell iteration is a sweep of line searches over every parameter (and it runs one
more than the cap), a 1+1 iteration is one mutation, an Amoeba "iteration" is one function evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import SimpleITK as sitk

import regbench
from regbench import corner_shift_scales, param
from regbench_plugins.support import SCALES, resolve_scales, set_scales

GF_SCALES = ("auto", "corner_shift", *SCALES[1:])
_SCALES_HELP = (
    "parameter scales; 'corner_shift': the largest fixed-image corner displacement per unit change of each "
    "parameter (mm per unit, not squared like ITK's shift estimators, which suits steps taken in parameter "
    "space); 'auto': corner_shift, but none for a B-spline"
)


class GradientFreeParams(Protocol):
    """What every gradient-free strategy's parameters have."""

    @property
    def scales(self) -> str: ...


P = TypeVar("P", bound=GradientFreeParams)


class GradientFree(regbench.SingleRunStrategy, Generic[P]):
    """One execution of a gradient-free optimizer with a scales choice; subclasses implement ``configure`` (the
    optimizer only: ``run`` sets the scales, since corner-shift scales need the case's fixed image)."""

    iteration_cap_param = "number_of_iterations"  # per level (sweeps, mutations or evaluations): see the params

    def run(self, ctx: regbench.RunContext, params: P) -> sitk.Transform | None:
        scales = params.scales
        if scales == "auto":
            scales = "none" if ctx.setup.transform == "bspline" else "corner_shift"
            ctx.note(f"scales 'auto' resolved to {scales!r} for this {ctx.setup.transform} case")
        method = ctx.new_method()
        self.configure(method, params)
        if scales == "corner_shift":
            # Fixed per run, computed at the starting transform (global transforms: exact for affine maps).
            method.SetOptimizerScales(corner_shift_scales(method.GetInitialTransform(), ctx.fixed))
        else:
            set_scales(method, resolve_scales(ctx, scales))
        return ctx.execute(method).transform


@dataclass(frozen=True)
class PowellParams:
    number_of_iterations: int = param(5, "cap on sweeps over all parameters, per level (Powell runs one more)", min=1)
    maximum_line_iterations: int = param(10, "cap on Brent iterations per line search", min=1)
    step_length: float = param(1.0, "initial bracket of each line search (scaled units)", min=0, min_exclusive=True)
    step_tolerance: float = param(1e-6, "line-search tolerance on the step", min=0)
    value_tolerance: float = param(1e-6, "stop when a sweep improves the metric by less than this", min=0)
    scales: str = param("auto", _SCALES_HELP, choices=GF_SCALES)


class Powell(GradientFree[PowellParams]):
    """Powell's conjugate-direction method with Brent line searches."""

    Params = PowellParams
    # Powell's iteration event reports a value that is neither f at its position nor at the previous one
    # (measured: tests/test_pairing.py), so its best visited position is not tracked.

    def configure(self, method: sitk.ImageRegistrationMethod, params: PowellParams) -> None:
        method.SetOptimizerAsPowell(
            numberOfIterations=params.number_of_iterations,
            maximumLineIterations=params.maximum_line_iterations,
            stepLength=params.step_length,
            stepTolerance=params.step_tolerance,
            valueTolerance=params.value_tolerance,
        )


@dataclass(frozen=True)
class OnePlusOneParams:
    number_of_iterations: int = param(200, "cap on mutations per level", min=1)
    epsilon: float = param(1.5e-4, "stop when the search radius (Frobenius norm) falls below this", min=0)
    initial_radius: float = param(1.01, "initial search radius (scaled units)", min=0, min_exclusive=True)
    growth_factor: float = param(1.05, "radius multiplier after a successful mutation", min=1, min_exclusive=True)
    shrink_factor: float | None = param(
        None,
        "radius multiplier after a failed mutation (none: growth_factor^-0.25)",
        min=0,
        max=1,
        min_exclusive=True,
    )
    scales: str = param("auto", _SCALES_HELP, choices=GF_SCALES)


@dataclass(frozen=True)
class SeededOnePlusOneParams(OnePlusOneParams):
    """One run's parameters with the seed it drew from the run's generator (not a user parameter)."""

    seed: int = 0


class OnePlusOne(GradientFree[OnePlusOneParams]):
    """The (1+1) evolution strategy, seeded from the run's seed (SimpleITK's default seeds from the clock)."""

    Params = OnePlusOneParams
    metric_pairing = "current"

    def run(self, ctx: regbench.RunContext, params: OnePlusOneParams) -> sitk.Transform | None:
        # The seed is drawn per run (the strategy instance is shared), before the method exists: new_method
        # draws nothing from ctx.rng, so the seed is the one it always was.
        seed = int(ctx.rng.integers(1, 2**31 - 1))  # 0 would mean "seed from the wall clock"
        ctx.record.measures["one_plus_one_seed"] = seed
        return super().run(ctx, SeededOnePlusOneParams(**dataclasses.asdict(params), seed=seed))

    def configure(self, method: sitk.ImageRegistrationMethod, params: SeededOnePlusOneParams) -> None:
        shrink = params.shrink_factor if params.shrink_factor is not None else params.growth_factor**-0.25
        method.SetOptimizerAsOnePlusOneEvolutionary(
            numberOfIterations=params.number_of_iterations,
            epsilon=params.epsilon,
            initialRadius=params.initial_radius,
            growthFactor=params.growth_factor,
            shrinkFactor=shrink,
            seed=params.seed,
        )


@dataclass(frozen=True)
class AmoebaParams:
    simplex_delta: float = param(
        1.0, "initial simplex size along each parameter (scaled units)", min=0, min_exclusive=True
    )
    number_of_iterations: int = param(500, "cap on function evaluations per level", min=1)
    parameters_convergence_tolerance: float = param(1e-8, "stop when the simplex is this small (and ...)", min=0)
    function_convergence_tolerance: float = param(
        1e-4, "... the values at its vertices differ by less than this", min=0
    )
    with_restarts: bool = param(False, "restart from the best vertex after converging (vnl's restart)")
    scales: str = param("auto", _SCALES_HELP, choices=GF_SCALES)


class Amoeba(GradientFree[AmoebaParams]):
    """Nelder-Mead downhill simplex (vnl amoeba)."""

    Params = AmoebaParams
    metric_pairing = "current"
    count_iterations = "optimizer"  # an event fires per function evaluation

    def configure(self, method: sitk.ImageRegistrationMethod, params: AmoebaParams) -> None:
        method.SetOptimizerAsAmoeba(
            simplexDelta=params.simplex_delta,
            numberOfIterations=params.number_of_iterations,
            parametersConvergenceTolerance=params.parameters_convergence_tolerance,
            functionConvergenceTolerance=params.function_convergence_tolerance,
            withRestarts=params.with_restarts,
        )


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    register(
        Powell(
            "powell",
            "Powell's direction-set method (gradient-free baseline; a sweep line-searches every parameter, "
            "so B-splines take minutes)",
        )
    )
    register(OnePlusOne("one-plus-one", "(1+1) evolution strategy seeded from the run's seed (gradient-free baseline)"))
    register(Amoeba("amoeba", "Nelder-Mead simplex (gradient-free baseline; iterations are function evaluations)"))
