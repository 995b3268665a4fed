"""The gradient-descent family: SimpleITK's GradientDescent, RegularStepGradientDescent,
GradientDescentLineSearch and ConjugateGradientLineSearch optimizers.

Every member takes a scales estimator as a parameter (learning-rate estimation silently does nothing without
one, reference §1.3) and can return the best visited position instead of SimpleITK's last iterate
(``return_best``, §6). Jacobian scales on a B-spline transform are refused up front with the reason (ITK would
throw "m_Scales values must be > epsilon").

Plain gradient descent defaults to the ``first_level`` learning-rate policy (:mod:`.gd_rate`): the rate is
estimated once, at the start of the coarsest level where the gradient is large, and held for the finer levels;
a level whose metric rises is rerun at half the rate, and keeps whichever attempt (or its start) ends best.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.gd_params import ESTIMATE, FIRST_LEVEL, ConvergenceParams, GradientDescentParams, StepParams
from regbench_plugins.gd_rate import configure_gradient_descent, run_first_level_rate
from regbench_plugins.return_best import execute_returning_best
from regbench_plugins.support import SCALES, resolve_scales, set_scales

__all__ = [
    "ESTIMATE",
    "SCALES",
    "GradientDescent",
    "GradientDescentFamily",
    "configure_gradient_descent",
    "set_scales",
]


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
    """One ``Execute`` of a gradient-descent-family optimizer; subclasses implement ``configure`` (the optimizer,
    then :func:`set_scales` with ``params.scales``, which ``run`` has resolved for the case)."""

    Params = StepParams
    metric_pairing = "previous"  # the event's value is f before the step just taken (reference §3.3)
    iteration_cap_param = "number_of_iterations"  # per level: hit_iteration_limit reads it

    def run(self, ctx: regbench.RunContext, params: StepParams) -> sitk.Transform | None:
        scales = resolve_scales(ctx, params.scales, params.estimate_learning_rate)
        params = dataclasses.replace(params, scales=scales)
        if params.estimate_learning_rate != "never" and scales == "none":
            ctx.note(
                f"estimate_learning_rate={params.estimate_learning_rate!r} has no effect without a scales "
                f"estimator: learning_rate {params.learning_rate} was used as given"
            )
            params = dataclasses.replace(params, estimate_learning_rate="never")
        # Only plain gradient descent offers the first_level policy (its Params' choices).
        if isinstance(params, GradientDescentParams) and params.estimate_learning_rate == FIRST_LEVEL:
            factors = (params.learning_rate,) * ctx.setup.levels  # multiples of the estimated rate
            return run_first_level_rate(ctx, params, factors, return_best=params.return_best).transform
        method = ctx.new_method()
        self.configure(method, params)
        if params.return_best:
            return execute_returning_best(ctx, method, ctx.setup.levels)
        return ctx.execute(method).transform


class GradientDescent(GradientDescentFamily):
    """Plain gradient descent (GradientDescentOptimizerv4) with a fixed or estimated learning rate."""

    Params = GradientDescentParams

    def configure(self, method: sitk.ImageRegistrationMethod, params: GradientDescentParams) -> None:
        configure_gradient_descent(method, params)


class RegularStepGradientDescent(GradientDescentFamily):
    """Regular-step gradient descent: a step of learning_rate·relaxation^k along the normalised gradient."""

    Params = RegularStepParams

    def configure(self, method: sitk.ImageRegistrationMethod, params: RegularStepParams) -> None:
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=params.learning_rate,
            minStep=params.minimum_step,
            numberOfIterations=params.number_of_iterations,
            relaxationFactor=params.relaxation_factor,
            gradientMagnitudeTolerance=params.gradient_magnitude_tolerance,
            estimateLearningRate=ESTIMATE[params.estimate_learning_rate],
            maximumStepSizeInPhysicalUnits=params.maximum_step_size,
        )
        set_scales(method, params.scales)


def line_search_options(params: LineSearchParams) -> dict[str, float | int]:
    """The keyword arguments of SimpleITK's two line-search optimizers, which take the same ones."""
    return {
        "learningRate": params.learning_rate,
        "numberOfIterations": params.number_of_iterations,
        "convergenceMinimumValue": params.convergence_minimum_value,
        "convergenceWindowSize": params.convergence_window_size,
        "lineSearchLowerLimit": params.line_search_lower_limit,
        "lineSearchUpperLimit": params.line_search_upper_limit,
        "lineSearchEpsilon": params.line_search_epsilon,
        "lineSearchMaximumIterations": params.line_search_maximum_iterations,
        "estimateLearningRate": ESTIMATE[params.estimate_learning_rate],
        "maximumStepSizeInPhysicalUnits": params.maximum_step_size,
    }


class GradientDescentLineSearch(GradientDescentFamily):
    """Gradient descent with a golden-section line search on the learning rate each iteration."""

    Params = LineSearchParams

    def configure(self, method: sitk.ImageRegistrationMethod, params: LineSearchParams) -> None:
        method.SetOptimizerAsGradientDescentLineSearch(**line_search_options(params))
        set_scales(method, params.scales)


class ConjugateGradientLineSearch(GradientDescentLineSearch):
    """Polak-Ribière conjugate gradient with the same golden-section line search."""

    def configure(self, method: sitk.ImageRegistrationMethod, params: LineSearchParams) -> None:
        method.SetOptimizerAsConjugateGradientLineSearch(**line_search_options(params))
        set_scales(method, params.scales)


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
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
