"""The gradient-descent family: SimpleITK's GradientDescent, RegularStepGradientDescent,
GradientDescentLineSearch and ConjugateGradientLineSearch optimizers.

Every member takes a scales estimator as a parameter (learning-rate estimation silently does nothing without
one, reference §1.3) and can return the best visited position instead of SimpleITK's last iterate
(``return_best``, §6). Jacobian scales on a B-spline transform are refused up front with the reason (ITK would
throw "m_Scales values must be > epsilon").

Plain gradient descent defaults to the ``first_level`` learning-rate policy (:func:`run_first_level_rate`): a
fixed rate does not survive a change of metric or intensity range (a rate tuned for mean squares on [0, 1]
images diverges under Mattes MI or on 0-255 images), and SimpleITK's ``Once`` re-estimates at every level from
an already small gradient and diverges (§1.3). So the rate is estimated once, at the start of the coarsest
level where the gradient is large, and held for the finer levels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.return_best import execute_returning_best
from regbench_plugins.support import SCALES, resolve_scales, set_scales

__all__ = [
    "ESTIMATE",
    "SCALES",
    "GradientDescent",
    "GradientDescentFamily",
    "configure_gradient_descent",
    "run_first_level_rate",
    "set_scales",
]

ESTIMATE = {"never": 0, "once": 1, "each_iteration": 2}
FIRST_LEVEL = "first_level"  # regbench's policy for plain gradient descent (run_first_level_rate)


@dataclass(frozen=True)
class StepParams:
    """What every member of the family shares."""

    learning_rate: float = param(
        1.0,
        "step multiplier of the scaled gradient; used as given only when estimate_learning_rate is 'never' "
        "(or scales is 'none')",
        min=0,
        min_exclusive=True,
    )
    number_of_iterations: int = param(200, "iteration cap per pyramid level", min=0)
    estimate_learning_rate: str = param(
        "never",
        "learning-rate estimation: 'never' (use learning_rate), 'once' (at the start of each level), "
        "'each_iteration'; needs a scales estimator to take effect",
        choices=tuple(ESTIMATE),
    )
    maximum_step_size: float = param(
        0.0,
        "largest physical step (mm) an estimated rate allows; 0: the coarsest level's smallest spacing, "
        "kept for every level",
        min=0,
    )
    scales: str = param(
        "auto",
        "parameter scales estimator; 'auto': physical_shift, but none for a B-spline under a fixed rate; "
        "'jacobian' is refused for B-spline transforms",
        choices=SCALES,
    )
    return_best: bool = param(
        False,
        "return the best position visited at the last level instead of the last iterate (copies the "
        "position each iteration; the cost is recorded)",
    )


@dataclass(frozen=True)
class ConvergenceParams(StepParams):
    convergence_minimum_value: float = param(
        1e-6, "stop when the windowed relative decrease of the metric falls below this", min=0
    )
    convergence_window_size: int = param(10, "iterations in the convergence window", min=2)


@dataclass(frozen=True)
class GradientDescentParams(ConvergenceParams):
    estimate_learning_rate: str = param(
        FIRST_LEVEL,
        "learning-rate policy: 'first_level' (estimated at the start of the coarsest level, then held fixed for "
        "every level: one execution per level), 'never' (use learning_rate as given), 'once' (SimpleITK: "
        "re-estimated at the start of each level), 'each_iteration'; estimation needs a scales estimator",
        choices=(FIRST_LEVEL, *ESTIMATE),
    )


@dataclass(frozen=True)
class LineSearchParams(ConvergenceParams):
    line_search_lower_limit: float = param(0.0, "smallest multiple of the learning rate tried", min=0)
    line_search_upper_limit: float = param(
        5.0, "largest multiple of the learning rate tried", min=0, min_exclusive=True
    )
    line_search_epsilon: float = param(0.01, "golden-section search tolerance", min=0, min_exclusive=True)
    line_search_maximum_iterations: int = param(20, "golden-section iterations per line search", min=1)


@dataclass(frozen=True)
class RegularStepParams(StepParams):
    minimum_step: float = param(1e-4, "stop when the step length falls below this", min=0)
    relaxation_factor: float = param(
        0.5, "step length multiplier each time the gradient direction reverses", min=0, max=1, min_exclusive=True
    )
    gradient_magnitude_tolerance: float = param(
        1e-6, "stop when the scaled gradient norm falls below this (it scales with intensity²)", min=0
    )


class GradientDescentFamily(regbench.SingleRunStrategy):
    """One ``Execute`` of a gradient-descent-family optimizer; subclasses set the optimizer."""

    Params = StepParams

    def set_optimizer(self, method: sitk.ImageRegistrationMethod, params: StepParams) -> None:
        raise NotImplementedError

    def configure(self, method: sitk.ImageRegistrationMethod, params: StepParams) -> None:
        self.set_optimizer(method, params)
        set_scales(method, params.scales)

    def run(self, ctx: regbench.RunContext, params: StepParams) -> sitk.Transform | None:
        scales = resolve_scales(ctx, params.scales, params.estimate_learning_rate)
        params = dataclasses.replace(params, scales=scales)
        if params.estimate_learning_rate != "never" and scales == "none":
            ctx.note(
                f"estimate_learning_rate={params.estimate_learning_rate!r} has no effect without a scales "
                f"estimator: learning_rate {params.learning_rate} was used as given"
            )
            params = dataclasses.replace(params, estimate_learning_rate="never")
        if params.estimate_learning_rate == FIRST_LEVEL:
            factors = (1.0,) * ctx.setup.levels
            return run_first_level_rate(ctx, params, factors, return_best=params.return_best)
        method = ctx.new_method()
        self.configure(method, params)
        if params.return_best:
            return execute_returning_best(ctx, method, ctx.setup.levels)
        return ctx.execute(method).transform


def configure_gradient_descent(method: sitk.ImageRegistrationMethod, params: GradientDescentParams) -> None:
    """Plain gradient descent with ``params`` (and its scales) on ``method``; shared by the multi-execution
    strategies (per-level schedule, restarts). ``first_level`` is a sequence of executions, not an ITK mode:
    see :func:`run_first_level_rate`."""
    if params.estimate_learning_rate == FIRST_LEVEL:
        raise ValueError("estimate_learning_rate 'first_level' is run by run_first_level_rate, not one method")
    method.SetOptimizerAsGradientDescent(
        learningRate=params.learning_rate,
        numberOfIterations=params.number_of_iterations,
        convergenceMinimumValue=params.convergence_minimum_value,
        convergenceWindowSize=params.convergence_window_size,
        estimateLearningRate=ESTIMATE[params.estimate_learning_rate],
        maximumStepSizeInPhysicalUnits=params.maximum_step_size,
    )
    set_scales(method, params.scales)


def coarsest_spacing(ctx: regbench.RunContext) -> float:
    """ITK's automatic maximum step: the smallest spacing of the virtual domain at the first level (§1.3)."""
    return min(ctx.fixed.GetSpacing()) * int(ctx.setup.shrink_factors[0])


def run_first_level_rate(
    ctx: regbench.RunContext,
    params: GradientDescentParams,
    factors: Sequence[float],
    *,
    levels: Sequence[int] | None = None,
    return_best: bool = False,
) -> sitk.Transform:
    """Gradient descent over ``levels`` (default: all the case's) with the rate estimated once, at the first.

    The first level runs with SimpleITK's ``Once`` estimation: its first step moves the farthest sample point
    by ``factors[0]`` × the maximum step (``params.maximum_step_size``, 0: the coarsest spacing). That rate,
    read back from the record, divided by ``factors[0]``, is the *estimated rate* E (stored in
    ``measures.estimated_learning_rate``). Each later level is its own execution under ``Never`` at
    ``factors[i]`` × E, continuing from the previous result. Unlike ``Once``, the estimate comes from the
    large gradient far from the optimum, not from the small one at a finer level, and unlike a fixed rate it
    follows the metric's scale. Needs a scales estimator (``params.scales`` not 'none').
    """
    levels = list(range(ctx.setup.levels)) if levels is None else list(levels)
    if len(factors) != len(levels):
        raise ValueError(f"need one rate factor per level, got {len(factors)} for {len(levels)} levels")
    maximum_step = params.maximum_step_size or coarsest_spacing(ctx)
    transform = None
    estimated: float | None = None
    for i, (level, factor) in enumerate(zip(levels, factors, strict=True)):
        if i == 0:
            level_params = dataclasses.replace(
                params, estimate_learning_rate="once", maximum_step_size=factor * maximum_step
            )
        else:
            level_params = dataclasses.replace(params, estimate_learning_rate="never", learning_rate=factor * estimated)
        method = ctx.new_method(initial_transform=transform, levels=[level])
        configure_gradient_descent(method, level_params)
        if return_best and i == len(levels) - 1:
            transform = execute_returning_best(ctx, method, 1)
        else:
            transform = ctx.execute(method).transform
        if i == 0:
            estimated = _estimated_rate(ctx, params, factor, maximum_step)
    return transform


def _estimated_rate(ctx: regbench.RunContext, params: GradientDescentParams, factor: float, step: float) -> float:
    # GetOptimizerLearningRate() at the first iteration event is the rate ITK estimated (the harness records it).
    rate = ctx.segments[-1].levels[0].learning_rate_first if ctx.segments[-1].levels else None
    if rate is None or not rate > 0:
        ctx.note(
            "the learning rate could not be estimated (no iteration at the first level): "
            f"learning_rate {params.learning_rate} was used as given for the other levels"
        )
        return params.learning_rate
    estimated = rate / factor
    ctx.record.measures["estimated_learning_rate"] = estimated
    ctx.note(
        f"learning rate estimated at the start of the first level ({estimated:.4g}: the first step moves the "
        f"farthest sample point {step:g} mm) and held fixed for the finer levels"
    )
    return estimated


class GradientDescent(GradientDescentFamily):
    """Plain gradient descent (GradientDescentOptimizerv4) with a fixed or estimated learning rate."""

    Params = GradientDescentParams

    def configure(self, method, params):
        configure_gradient_descent(method, params)


class RegularStepGradientDescent(GradientDescentFamily):
    """Regular-step gradient descent: a step of learning_rate·relaxation^k along the normalised gradient."""

    Params = RegularStepParams

    def set_optimizer(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=params.learning_rate,
            minStep=params.minimum_step,
            numberOfIterations=params.number_of_iterations,
            relaxationFactor=params.relaxation_factor,
            gradientMagnitudeTolerance=params.gradient_magnitude_tolerance,
            estimateLearningRate=ESTIMATE[params.estimate_learning_rate],
            maximumStepSizeInPhysicalUnits=params.maximum_step_size,
        )


class GradientDescentLineSearch(GradientDescentFamily):
    """Gradient descent with a golden-section line search on the learning rate each iteration."""

    Params = LineSearchParams
    setter = "SetOptimizerAsGradientDescentLineSearch"

    def set_optimizer(self, method, params):
        getattr(method, self.setter)(
            learningRate=params.learning_rate,
            numberOfIterations=params.number_of_iterations,
            convergenceMinimumValue=params.convergence_minimum_value,
            convergenceWindowSize=params.convergence_window_size,
            lineSearchLowerLimit=params.line_search_lower_limit,
            lineSearchUpperLimit=params.line_search_upper_limit,
            lineSearchEpsilon=params.line_search_epsilon,
            lineSearchMaximumIterations=params.line_search_maximum_iterations,
            estimateLearningRate=ESTIMATE[params.estimate_learning_rate],
            maximumStepSizeInPhysicalUnits=params.maximum_step_size,
        )


class ConjugateGradientLineSearch(GradientDescentLineSearch):
    """Polak-Ribière conjugate gradient with the same golden-section line search."""

    setter = "SetOptimizerAsConjugateGradientLineSearch"


@regbench.hookimpl
def regbench_register_strategies(register):
    register(
        GradientDescent(
            "gd",
            "gradient descent, rate estimated at the start of the first level and held for the others "
            "(physical-shift scales); estimate_learning_rate=never takes a raw learning_rate",
        )
    )
    register(
        GradientDescent(
            "gd-best",
            "gd returning the best position visited at the last level instead of the last iterate",
            return_best=True,
        )
    )
    register(
        RegularStepGradientDescent(
            "rsgd",
            "regular-step gradient descent: first step 2 (mm for B-splines), halved when the gradient reverses",
            learning_rate=2.0,
        )
    )
    register(
        GradientDescentLineSearch(
            "gdls",
            "gradient descent with a golden-section line search, rate estimated once per level",
            estimate_learning_rate="once",
        )
    )
    register(
        ConjugateGradientLineSearch(
            "cg",
            "conjugate gradient (Polak-Ribière) with a golden-section line search, rate estimated once per level",
            estimate_learning_rate="once",
        )
    )
