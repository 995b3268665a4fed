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
   ``MAX_HALVINGS`` times, until an attempt passes), and later levels keep the reduced rate. Each attempt is a
   segment of the record.
4. **Which attempt is kept.** A level whose first attempt passes keeps it (its trace fell steadily: there is
   nothing to compare). Otherwise the attempts are compared on one measure, the same for each: the case
   metric of the attempt's result at full resolution without sampling (one dense evaluation each,
   :func:`regbench_plugins.support.last_level_metric`), not the values in the traces (those are the metric
   *before* the last step, on the level's shrunk, smoothed or sampled images, reference §3.3–3.4). The
   attempt with the lowest value is kept, whichever rate it ran at, and the level's start is a candidate too:
   when no attempt ends below it (or every attempt left the moving image), the level continues from its start.
   The rate carried to later levels is still the reduced one: the rise showed the larger rate too large, even
   where its attempt ended better. Every attempt not kept is marked ``Segment.rejected``, and a note lists
   the compared values. Under ``return_best`` an attempt's result at the last level is its best-or-last
   transform, and the record's ``return_best_*`` measures describe the kept attempt. The evaluations are part
   of the strategy, so their time is in the run's, not in any segment's.

Not a plugin module: the gradient-descent strategies use it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import is_no_overlap, is_no_overlap_error
from regbench_plugins.gd_params import ESTIMATE, FIRST_LEVEL, GradientDescentParams
from regbench_plugins.return_best import execute_returning_best
from regbench_plugins.support import last_level_metric, set_scales

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
    scales: tuple[float, ...] | None  # the first level's scales, frozen (None: not read; configure_held refuses)


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
    first_progress: float | None = None  # the metric decrease of the first level's kept attempt
    transform = None  # the case's start
    last = ctx.setup.levels - 1
    for level, factor in enumerate(factors):
        start = transform
        attempts: list[_Attempt] = []
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
            tried = _execute(ctx, method, return_best=return_best and level == last)
            if estimated is None:
                estimated, frozen = _estimated_rate(ctx, factor, maximum_step), probe.scales
            tried.progress, rise = _progress_and_rise(tried.segment.index, ctx.record)
            reference = tried.progress if first_progress is None else first_progress
            tried.passed = tried.transform is not None and rise <= RISE_TOLERANCE * max(
                tried.progress, NOISE_FLOOR * reference
            )
            attempts.append(tried)
            if tried.passed:
                break
            if attempt == MAX_HALVINGS:
                ctx.note(f"level {level}: still unstable after {MAX_HALVINGS} halvings of the learning rate")
                break
            reduction /= 2
            why = "a step left the moving image" if tried.transform is None else "the metric rose"
            ctx.note(
                f"level {level}: {why} with the held learning rate (too large for this level): run again from "
                "the level's start at half the rate"
            )
        transform = _keep_best(ctx, level, start, attempts)
        kept = next((a for a in attempts if not a.segment.rejected), None)
        if first_progress is None:
            first_progress = (kept or attempts[-1]).progress
    if transform is None or estimated is None:
        # Unreachable: the first level (there is one, factors has one per level) estimates the rate or raises.
        raise RuntimeError("run_first_level_rate ran no level")
    ctx.record.measures["learning_rate_halvings"] = round(-math.log2(reduction))
    return HeldRate(transform, estimated * reduction, frozen)


@dataclass
class _Attempt:
    """One execution of a level: its segment, its result (None: a step left the moving image) and, under
    ``return_best``, the measures and notes that describe its own execution (added to the record only if it
    is kept)."""

    segment: regbench.Segment
    transform: sitk.Transform | None
    measures: dict = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    progress: float = 0.0
    passed: bool = False


def _case_start(ctx: regbench.RunContext) -> sitk.Transform:
    """The transform the case starts from (what ``new_method`` would optimize from), as a copy."""
    return sitk.Transform(ctx.new_method(levels=[0]).GetInitialTransform()).Downcast()


def _keep_best(
    ctx: regbench.RunContext, level: int, start: sitk.Transform | None, attempts: list[_Attempt]
) -> sitk.Transform:
    """The transform the level ends with: the kept attempt's, or ``start`` (None: the case's start) when no
    attempt is better (module docstring, step 4). Marks every attempt not kept ``rejected`` and notes the
    values compared."""
    only = attempts[0]
    if len(attempts) == 1 and only.passed and only.transform is not None:  # a passed attempt has a result
        _describe(ctx, only)
        return only.transform
    if start is None:
        start = _case_start(ctx)
    values = [None if a.transform is None else last_level_metric(ctx, a.transform) for a in attempts]
    start_value = last_level_metric(ctx, start)
    ranked = [(v, i) for i, v in enumerate(values) if v is not None]
    if ranked:
        value, index = min(ranked)
        kept = None if start_value is not None and start_value < value else attempts[index]
    elif start_value is not None:
        kept = None  # every attempt left the moving image
    else:
        # Nothing has a value, not even the start: keep the last attempt with a result (the start when none has).
        kept = next((a for a in reversed(attempts) if a.transform is not None), None)
    for attempt in attempts:
        if attempt is not kept:
            attempt.segment.rejected = True
    if kept is not None:
        _describe(ctx, kept)
    ctx.note(_attempts_note(level, start_value, attempts, values, kept))
    # A kept attempt has a result: it was ranked by its value, or picked for having one.
    return start if kept is None or kept.transform is None else kept.transform


def _describe(ctx: regbench.RunContext, kept: _Attempt) -> None:
    """The record's measures and notes describe the kept execution, not the last one tried."""
    ctx.record.measures.update(kept.measures)
    for note in kept.notes:
        ctx.note(note)


def _attempts_note(
    level: int, start_value: float | None, attempts: list[_Attempt], values: list, kept: _Attempt | None
) -> str:
    def value(v: float | None) -> str:
        return "no value (no sample inside the moving image)" if v is None else f"{v:.6g}"

    parts = []
    for attempt, v in zip(attempts, values, strict=True):
        what = "left the moving image" if attempt.transform is None else value(v)
        verdict = "kept" if attempt is kept else "rejected"
        rate = attempt.segment.learning_rate
        at = "" if rate is None else f" at rate {rate:.4g}"
        parts.append(f"segment {attempt.segment.index}{at}: {what}, {verdict}")
    compared = f"level {level}: attempts compared on the dense metric of their results (start {value(start_value)}; "
    compared += "; ".join(parts) + ")"
    if kept is None:
        return compared + ": no attempt ended better than the level's start, so the level continues from its start"
    if kept is attempts[-1]:
        return compared
    return compared + ": a rejected later attempt at a lower rate ended worse than the kept one"


def _execute(ctx: regbench.RunContext, method: sitk.ImageRegistrationMethod, return_best: bool) -> _Attempt:
    """Execute one attempt. Its transform is None when Mattes MI threw because no sample mapped inside the
    moving image (a step far too long: the segment is recorded with its error)."""
    record = ctx.record
    measures, notes = record.measures, record.notes
    if return_best:  # what it writes about its execution is set aside (see _describe)
        record.measures, record.notes = {}, []
    try:
        if return_best:
            transform = execute_returning_best(ctx, method, 1)
            segment = ctx.segments[-1]  # the segment ctx.execute returned inside execute_returning_best
        else:
            segment = ctx.execute(method)
            transform = segment.transform
    except regbench.ExecutionFailed as exc:
        segment = exc.segment
        stepped = bool(segment.levels and segment.levels[0].iterations)
        if not is_no_overlap_error(segment.error) or not stepped:
            raise  # another error, or no overlap before any step: the rate is not the cause
        transform = None
    finally:
        own_measures, own_notes = record.measures, record.notes
        record.measures, record.notes = measures, notes
    if not return_best:
        own_measures, own_notes = {}, []
    return _Attempt(segment, transform, own_measures, own_notes)


def _progress_and_rise(segment: int, record: regbench.RunRecord) -> tuple[float, float]:
    """How far the segment's metric fell from its first value to its best, and the largest rise above the
    best value reached before it (infinite when a value is SimpleITK's no-overlap value)."""
    trace = record.trace
    values = [v for s, v in zip(trace.segment, trace.metric, strict=True) if s == segment]
    if not values:
        return 0.0, 0.0
    numbers = [v for v in values if v is not None and not is_no_overlap(v)]
    if len(numbers) < len(values):
        return 0.0, math.inf
    best, rise = numbers[0], 0.0
    for value in numbers[1:]:
        rise = max(rise, value - best)
        best = min(best, value)
    return numbers[0] - best, rise


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
