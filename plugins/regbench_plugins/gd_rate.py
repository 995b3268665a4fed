"""Learning-rate policies of plain gradient descent, and regbench's default one: ``first_level``.

A fixed rate does not survive a change of metric or intensity range (a rate tuned for mean squares on [0, 1]
images diverges under Mattes MI or on 0-255 images), and SimpleITK's ``Once`` re-estimates at every level from
an already small gradient and diverges (reference §1.3, §10). ``first_level`` (:func:`run_first_level_rate`)
estimates the rate once, where the gradient is large, and holds it:

1. The first level runs with ``Once`` and a scales estimator: its first step moves the farthest sample point
   by the maximum step (default: the coarsest level's spacing). The rate ITK chose is read back from the
   record (``levels[0].learning_rate_first``): the *estimated rate*.
2. Every later level is its own execution under ``Never`` at that rate (times a per-level factor), continuing
   from the previous result, **with the first level's scales frozen**: ITK re-estimates scales at each level,
   and for a B-spline the shift scales fall 64× from the coarse to the fine grid (1.4e-7 to 2.1e-9 on the
   built-in case), which would turn the held rate into a divergent one.
3. A fixed rate that is too large for a level shows in its own trace: the metric rises above the best value
   already reached (gradient descent at a stable rate decreases monotonically). Mattes MI's sharp optimum
   does this where mean squares does not. The level is then run again from its start at half the rate (up to
   ``MAX_HALVINGS`` times), and later levels keep the reduced rate. Each attempt is a segment of the record.

Not a plugin module: the gradient-descent strategies use it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import SimpleITK as sitk

import regbench
from regbench.stops import is_no_overlap, is_no_overlap_error
from regbench_plugins.return_best import execute_returning_best
from regbench_plugins.support import set_scales

if TYPE_CHECKING:
    from regbench_plugins.gradient_descent import GradientDescentParams

ESTIMATE = {"never": 0, "once": 1, "each_iteration": 2}
FIRST_LEVEL = "first_level"
# A level whose metric rises above its best so far by more than this fraction of the progress it made had a
# rate too large for it (a stable gradient-descent trace is monotone; MI's approximate gradient adds small
# wiggles, well under this).
RISE_TOLERANCE = 0.05
# A finer level starts near the optimum and makes little progress; wiggles there at the interpolation's noise
# floor are not instability. Rises below this fraction of the first level's progress are ignored.
NOISE_FLOOR = 0.01
MAX_HALVINGS = 6


def configure_gradient_descent(method: sitk.ImageRegistrationMethod, params: GradientDescentParams) -> None:
    """Plain gradient descent with ``params`` (and its scales) on ``method``. ``first_level`` is a sequence
    of executions, not an ITK mode: :func:`run_first_level_rate` runs it."""
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


class _ScalesProbe:
    """Reads the scales ITK estimated, at the first iteration event (they are readable only during Execute)."""

    def __init__(self, method: sitk.ImageRegistrationMethod) -> None:
        self.method = method
        self.scales: tuple[float, ...] | None = None
        method.AddCommand(sitk.sitkIterationEvent, self._on_iteration)

    def _on_iteration(self) -> None:
        if self.scales is None:
            self.scales = tuple(self.method.GetOptimizerScales())


@dataclass(frozen=True)
class HeldRate:
    """What :func:`run_first_level_rate` ended with."""

    transform: sitk.Transform
    rate: float  # the estimated rate after any halvings: factor 1 at the last level
    scales: tuple[float, ...]  # the first level's scales, frozen


def run_first_level_rate(
    ctx: regbench.RunContext,
    params: GradientDescentParams,
    factors: Sequence[float],
    *,
    return_best: bool = False,
) -> HeldRate:
    """Gradient descent over the case's levels, the rate estimated at the first and held (module docstring).

    ``factors[i]`` multiplies the estimated rate at level i (the first level's factor scales its maximum
    step). ``params.scales`` must name an estimator. The estimated rate (for factor 1) is stored in
    ``measures.estimated_learning_rate`` and the number of halvings in ``measures.learning_rate_halvings``.
    """
    if len(factors) != ctx.setup.levels:
        raise ValueError(f"need one rate factor per level, got {len(factors)} for {ctx.setup.levels} levels")
    maximum_step = params.maximum_step_size or coarsest_spacing(ctx)
    estimated: float | None = None
    frozen: tuple[float, ...] | None = None
    reduction = 1.0  # halvings so far, carried to the finer levels
    first_progress: float | None = None  # the metric decrease of the first level's accepted attempt
    transform = None
    last = ctx.setup.levels - 1
    for level, factor in enumerate(factors):
        start = transform
        for attempt in range(MAX_HALVINGS + 1):
            method = ctx.new_method(initial_transform=start, levels=[level])
            if estimated is None:
                once = dataclasses.replace(
                    params, estimate_learning_rate="once", maximum_step_size=factor * maximum_step
                )
                configure_gradient_descent(method, once)
                probe = _ScalesProbe(method)
            else:
                configure_held(ctx, method, params, factor * estimated * reduction, frozen)
            result = _execute(ctx, method, return_best=return_best and level == last)
            if estimated is None:
                estimated, frozen = _estimated_rate(ctx, factor, maximum_step), probe.scales
            progress, rise = _progress_and_rise(ctx.segments[-1].index, ctx.record.trace)
            reference = progress if first_progress is None else first_progress
            if result is not None and rise <= RISE_TOLERANCE * max(progress, NOISE_FLOOR * reference):
                transform = result
                break
            if attempt == MAX_HALVINGS:
                if result is None:
                    raise regbench.ExecutionFailed(ctx.segments[-1])
                transform = result
                ctx.note(f"level {level}: still unstable after {MAX_HALVINGS} halvings of the learning rate")
                break
            reduction /= 2
            why = "a step left the moving image" if result is None else "the metric rose"
            ctx.note(
                f"level {level}: {why} with the held learning rate (too large for this level): run again from "
                "the level's start at half the rate"
            )
        if first_progress is None:
            first_progress = progress
    ctx.record.measures["learning_rate_halvings"] = round(-math.log2(reduction))
    return HeldRate(transform, estimated * reduction, frozen)


def _execute(
    ctx: regbench.RunContext, method: sitk.ImageRegistrationMethod, return_best: bool
) -> sitk.Transform | None:
    """The execution's transform, or None when Mattes MI threw because no sample mapped inside the moving
    image (a step far too long: the segment is recorded with its error)."""
    try:
        if return_best:
            return execute_returning_best(ctx, method, 1)
        return ctx.execute(method).transform
    except regbench.ExecutionFailed:
        segment = ctx.segments[-1]
        stepped = bool(segment.levels and segment.levels[0].iterations)
        if not is_no_overlap_error(segment.error) or not stepped:
            raise  # another error, or no overlap before any step: the rate is not the cause
        return None


def _progress_and_rise(segment: int, trace) -> tuple[float, float]:
    """How far the segment's metric fell from its first value to its best, and the largest rise above the
    best value reached before it (infinite when a value is SimpleITK's no-overlap value)."""
    values = [v for s, v in zip(trace.segment, trace.metric, strict=True) if s == segment]
    if not values:
        return 0.0, 0.0
    if any(v is None or is_no_overlap(v) for v in values):
        return 0.0, math.inf
    best, rise = values[0], 0.0
    for value in values[1:]:
        rise = max(rise, value - best)
        best = min(best, value)
    return values[0] - best, rise


def configure_held(
    ctx: regbench.RunContext,
    method: sitk.ImageRegistrationMethod,
    params: GradientDescentParams,
    rate: float,
    frozen: tuple[float, ...] | None,
) -> None:
    """Gradient descent under ``Never`` at ``rate`` with ``frozen`` scales (the first level's) instead of an
    estimator, so that a rate estimated at the first level means the same step at every level."""
    if not frozen:
        raise RuntimeError("the first level's scales were not read")
    held = dataclasses.replace(params, estimate_learning_rate="never", learning_rate=rate, scales="none")
    if ctx.setup.transform == "bspline" and any(int(f) > 1 for f in ctx.setup.mesh_scale_factors):
        # A growing mesh changes the parameter count, and scales must match it. B-spline shift scales are all
        # equal, and ITK divides the gradient by the scales: no scales at rate/s is the same step.
        held = dataclasses.replace(held, learning_rate=rate / frozen[0])
        ctx.note(f"B-spline with a growing mesh: the held rate is applied without scales, as rate / {frozen[0]:.4g}")
        configure_gradient_descent(method, held)
        return
    configure_gradient_descent(method, held)
    method.SetOptimizerScales(frozen)


def _estimated_rate(ctx: regbench.RunContext, factor: float, step: float) -> float:
    # GetOptimizerLearningRate() at the first iteration event is the rate ITK estimated (the harness records it).
    levels = ctx.segments[-1].levels
    rate = levels[0].learning_rate_first if levels else None
    if rate is None or not rate > 0:
        raise regbench.ParameterError(
            "the learning rate could not be estimated: the first level ran no iteration (number_of_iterations "
            "is 0?); use estimate_learning_rate 'never' with a learning_rate"
        )
    estimated = rate / factor
    ctx.record.measures["estimated_learning_rate"] = estimated
    ctx.note(
        f"learning rate estimated at the start of the first level: {estimated:.4g} (its first step moves the "
        f"farthest sample point {step:g} mm); held fixed, with the first level's scales, for the finer levels"
    )
    return estimated
