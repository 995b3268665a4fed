"""One run: the RunContext a strategy drives, ``ctx.execute()`` and its event capture.

The harness owns ``Execute()``. It attaches observers exactly as SimpleITK fires them (reference §3.2):

    start  mres(L0)  iter×n0  mres(L1)  iter×n1 ...  end

At ``start`` nothing is queried (the position getter raises there). At each ``mres`` the level is the new one but
the iteration counter and metric are the *previous* level's final values, so they close that level. At ``end``
the level getter is one past the last index and the metric value is what ``GetMetricValue()`` will return after
``Execute``: that is the reported final metric.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import (
    Case,
    CaseData,
    Setup,
    apply_setup_levels,
    as_float,
    configure_masks,
    configure_metric,
    full_mapping,
    initial_model_transform,
    uses_moving_initial,
)
from regbench.engines.external import ExternalExecution, build_segment
from regbench.record import IterationEvent, Level, RunRecord, Segment, Trace
from regbench.trace import DEFAULT_POSITIONS, PositionSchedule
from regbench.util.itk_text import without_addresses
from regbench.util.strict_json import finite_or_none


class RunHooks(Protocol):
    """What a run asks of the plugins; :class:`~regbench.plugin.manager.RegbenchPluginManager` is one. Named here, not
    imported, because the manager's hooks take a :class:`RunContext`: the harness stays below the manager."""

    def has_iteration_observers(self) -> bool: ...

    def classify_stop(self, text: str, segment: Segment | None = None) -> str: ...

    def record_iteration(self, run: RunContext, event: IterationEvent) -> None: ...

    def probe_families(self) -> Mapping[str, Any]: ...  # name → regbench.diagnostics.probe.ProbeFamily


# GetOptimizerConvergenceValue() returns DBL_MAX until the convergence window is full.
_NOT_YET = 1.0e308


@dataclass
class BestVisited:
    """The best position the optimizer visited at the case's last pyramid level, by its own metric values
    (sampled where the level samples): re-evaluated densely after the run to answer "best or last?"."""

    value: float
    position: tuple[float, ...]
    segment: int
    iteration: int
    row: int | None = None  # the trace row whose saved position this is (None: where the execution started)


class ExecutionFailed(RuntimeError):
    """``Execute`` raised. The segment is already recorded; the run becomes an ``error`` record."""

    def __init__(self, segment: Segment) -> None:
        super().__init__(segment.error)
        self.segment = segment


@dataclass
class _Prepared:
    method: sitk.ImageRegistrationMethod  # held so its id() cannot be reused by another object
    transform: sitk.Transform
    levels: list[int]


class RunContext:
    """What a strategy sees of a run: the case, the seed, a way to get a prepared method and to execute it."""

    def __init__(
        self,
        case: Case,
        seed: int,
        threads: int,
        pm: RunHooks,
        record: RunRecord,
        *,
        count_iterations: str = "events",
        metric_pairing: str | None = None,
        positions: PositionSchedule = DEFAULT_POSITIONS,
    ) -> None:
        """``count_iterations`` and ``metric_pairing`` are the strategy's declarations
        (:attr:`Strategy.count_iterations`, :attr:`Strategy.metric_pairing`); ``positions`` which positions the
        trace keeps."""
        self.case = case
        self.seed = seed
        self.threads = threads
        self.pm = pm
        self.record = record
        self.rng = np.random.default_rng(seed)  # for anything random in a strategy
        self.sampling_seed = seed + 1  # SimpleITK treats 0 as "seed from the wall clock"
        data = case.load()
        self.data: CaseData = data
        self.fixed = as_float(data.fixed)
        self.moving = as_float(data.moving)
        self._prepared: dict[int, _Prepared] = {}
        self._observe = pm.has_iteration_observers()
        self.count_iterations = count_iterations
        self.metric_pairing = metric_pairing
        self.best_visited: BestVisited | None = None
        self.positions = positions
        self.position_floats = 0  # parameters copied into the trace so far (for the memory cap)
        self.started = time.perf_counter()  # the run's clock: trace times count from here

    @property
    def setup(self) -> Setup:
        return self.case.setup

    @property
    def segments(self) -> list[Segment]:
        return self.record.segments

    def note(self, message: str) -> None:
        """Add a plain-words note to the record (e.g. a limit of the optimizer that applied)."""
        if message not in self.record.notes:
            self.record.notes.append(message)

    # -- preparing --------------------------------------------------------------------------------------------

    def new_method(
        self,
        initial_transform: sitk.Transform | None = None,
        levels: Sequence[int] | None = None,
    ) -> sitk.ImageRegistrationMethod:
        """A method set up from the case: metric, interpolator, masks, sampling (seeded), pyramid and the
        transform to optimize, with no optimizer yet.

        ``initial_transform`` continues from a previous execution's result (it is copied); ``levels`` selects
        pyramid levels of the case (e.g. ``[2]`` for the finest of three) for one-execution-per-level
        strategies; the sampling seed follows SimpleITK's per-level sequence so results stay comparable.
        """
        levels = list(range(self.setup.levels)) if levels is None else [int(x) for x in levels]
        if not levels or any(not 0 <= x < self.setup.levels for x in levels):
            raise ValueError(f"levels must be indices into the case's {self.setup.levels} pyramid levels")
        method = sitk.ImageRegistrationMethod()
        method.SetNumberOfWorkUnits(self.threads)
        configure_metric(method, self.setup)
        configure_masks(method, self.data)
        if uses_moving_initial(self.setup, self.data):
            method.SetMovingInitialTransform(self.data.initial_transform)
        if initial_transform is None:
            transform = initial_model_transform(self.setup, self.data, self.seed)
        else:
            transform = sitk.Transform(initial_transform).Downcast()
        apply_setup_levels(method, self.setup, levels, transform, self.sampling_seed + 2 * levels[0])
        self._prepared[id(method)] = _Prepared(method, transform, levels)
        return method

    # -- executing --------------------------------------------------------------------------------------------

    def execute(self, method: sitk.ImageRegistrationMethod) -> Segment:
        """Run ``method.Execute`` with event capture; return the :class:`Segment`.

        Raises :class:`ExecutionFailed` (after recording the segment) when ``Execute`` raises.
        """
        prepared = self._prepared.get(id(method))
        if prepared is None or prepared.method is not method:
            raise ValueError("ctx.execute() takes a method made by ctx.new_method()")
        segment = Segment(index=len(self.record.segments))
        capture = _Capture(self, method, segment, prepared, observe=self._observe)
        capture.attach()
        wall, cpu, failure = time.perf_counter(), time.process_time(), None
        try:
            result = method.Execute(self.fixed, self.moving)
        except Exception as exc:  # SimpleITK raises RuntimeError; a callback's error arrives the same way
            segment.error = _clean_error(str(exc))
            result, failure = None, exc  # kept as the cause: a MemoryError may be inside (the run is then `memory`)
        finally:
            segment.wall_time_s = time.perf_counter() - wall
            segment.cpu_time_s = time.process_time() - cpu
            method.RemoveAllCommands()
        capture.finish()
        segment.stop_condition = without_addresses(method.GetOptimizerStopConditionDescription())
        segment.stop_category = "error" if segment.error else self.pm.classify_stop(segment.stop_condition, segment)
        if result is not None:
            segment.transform = sitk.Transform(result).Downcast()
        self.record.segments.append(segment)
        if segment.error:
            raise ExecutionFailed(segment) from failure
        return segment

    def record_external(self, execution: ExternalExecution) -> Segment:
        """Record an execution another engine made (:class:`~regbench.engines.external.ExternalExecution`) as a segment,
        as :meth:`execute` records ``Execute``: its levels, iterations and metric per iteration into the trace, each
        level's stop text classified by the stop hook, its transform. Raises :class:`ExecutionFailed` (after
        recording) when the execution reports an error."""
        started_s = execution.started_s
        if started_s is None:
            started_s = time.perf_counter() - execution.wall_time_s
        segment = build_segment(
            execution,
            self.setup,
            self.record.trace,
            len(self.record.segments),
            started_s - self.started,
            self.pm.classify_stop,
            (lambda event: self.pm.record_iteration(self, event)) if self._observe else None,
        )
        if execution.threads is not None and execution.threads != self.threads:
            self.note(f"{execution.engine} ran with {execution.threads} threads, not the run's {self.threads}")
        self.record.deterministic = execution.deterministic  # measured for this engine, else not known
        self.record.segments.append(segment)
        if segment.error:
            raise ExecutionFailed(segment)
        return segment

    def full_transform(self, transform: sitk.Transform) -> sitk.Transform:
        """The mapping from fixed to moving space of an optimized transform."""
        return full_mapping(self.setup, self.data, transform)


class _Capture:
    """Event observers for one Execute, and the per-level summary built from them."""

    def __init__(
        self,
        ctx: RunContext,
        method: sitk.ImageRegistrationMethod,
        segment: Segment,
        prepared: _Prepared,
        observe: bool,
    ) -> None:
        self.ctx = ctx
        self.method = method
        self.segment = segment
        self.initial = prepared.transform  # where a single-level execution starts (set in place)
        self.case_levels = prepared.levels
        self.observe = observe  # a plugin observes iterations: tell it each event
        self.trace: Trace = ctx.record.trace
        self.start = len(self.trace)
        self.level = -1
        self.level_starts: list[int] = []
        self.optimizer_iterations: list[int | None] = []
        self.final_metric: float | None = None
        # Best-visited tracking, at the case's last level only (values at other levels are on other images).
        self.pairing = ctx.metric_pairing
        self.last_case_level = ctx.setup.levels - 1
        self.previous: tuple[float, ...] | None = None
        self.previous_row: int | None = None
        self._copied: tuple[float, ...] | None = None
        self.schedule = ctx.positions
        self.schedule_next = 0
        self.started = time.perf_counter()

    def attach(self) -> None:
        m = self.method
        m.AddCommand(sitk.sitkMultiResolutionIterationEvent, self.on_level)
        m.AddCommand(sitk.sitkIterationEvent, self.on_iteration)
        m.AddCommand(sitk.sitkEndEvent, self.on_end)

    def _position(self) -> tuple[float, ...]:
        # At most one copy per event, shared by the schedule and the best-visited tracking (copying costs ~1.7 µs
        # per parameter: reference §8).
        if self._copied is None:
            self._copied = tuple(self.method.GetOptimizerPosition())
        return self._copied

    def _close_level(self) -> None:
        # The level's last position is always kept (it is where the next level, or the run, goes on from).
        last = len(self.trace) - 1
        if self.level >= 0 and last >= self.level_starts[-1] and self.trace.position[last] is None:
            self.trace.position[last] = list(self._position())

    def on_level(self) -> None:
        self._copied = None
        if self.level >= 0:  # stale values: the previous level's final iteration counter
            self.optimizer_iterations.append(self.method.GetOptimizerIteration())
            self._close_level()
        self.level = self.method.GetCurrentLevel()
        self.level_starts.append(len(self.trace))
        self.schedule_next = 0
        if self.pairing == "previous" and self._at_last_level():
            # The first value of the level is f at where the level starts: the initial transform (set in place)
            # on a single-level execution, else the previous level's result (a grown B-spline mesh has another
            # size: that pair is skipped).
            self.previous = tuple(self.initial.GetParameters()) if self.level == 0 else self._position()
            self.previous_row = None if self.level == 0 else len(self.trace) - 1

    def _at_last_level(self) -> bool:
        return 0 <= self.level < len(self.case_levels) and self.case_levels[self.level] == self.last_case_level

    def _track_best(self, value: float | None) -> None:
        if value is None or value >= _NOT_YET or value != value:  # no-overlap or NaN values never win
            return
        best = self.ctx.best_visited
        row: int | None = len(self.trace) - 1
        if self.pairing == "previous":
            position, self.previous = self.previous, self._position()
            row, self.previous_row = self.previous_row, row
            if position is None or len(position) != len(self.previous):
                return
        elif best is not None and value >= best.value:
            return
        else:
            position = self._position()
        if best is None or value < best.value:
            iteration = self.method.GetOptimizerIteration()
            self.ctx.best_visited = BestVisited(value, position, self.segment.index, iteration, row)

    def on_iteration(self) -> None:
        now = time.perf_counter()
        self._copied = None
        m = self.method
        convergence = m.GetOptimizerConvergenceValue()
        event = IterationEvent(
            segment=self.segment.index,
            level=self.case_levels[self.level] if 0 <= self.level < len(self.case_levels) else self.level,
            iteration=m.GetOptimizerIteration(),
            metric=m.GetMetricValue(),
            learning_rate=m.GetOptimizerLearningRate(),
            convergence=None if convergence >= _NOT_YET else convergence,
            time_s=now - self.ctx.started,
            exec_time_s=now - self.started,
        )
        self.trace.append(event)
        k = len(self.trace) - 1 - self.level_starts[-1]  # events so far in this level
        if k >= self.schedule_next and self.ctx.position_floats < self.schedule.max_floats:
            position = self._position()
            self.trace.position[-1] = list(position)
            self.ctx.position_floats += len(position)
            self.schedule_next = self.schedule.next_after(k, len(position))
        if self.pairing and self._at_last_level():
            self._track_best(event.metric)
        if self.observe:
            self.ctx.pm.record_iteration(self.ctx, event)

    def on_end(self) -> None:
        self._copied = None
        if self.level >= 0:
            self.optimizer_iterations.append(self.method.GetOptimizerIteration())
            self._close_level()
        self.final_metric = self.method.GetMetricValue()

    def finish(self) -> None:
        seg = self.segment
        seg.final_metric = finite_or_none(self.final_metric)
        setup = self.ctx.setup
        bounds = [*self.level_starts, len(self.trace)]
        count_by = self.ctx.count_iterations
        for i in range(len(self.level_starts)):
            lo, hi = bounds[i], bounds[i + 1]
            metrics = self.trace.metric[lo:hi]
            rates = self.trace.learning_rate[lo:hi]
            case_level = self.case_levels[i]
            level = Level(
                index=case_level,
                optimizer_iteration=self.optimizer_iterations[i] if i < len(self.optimizer_iterations) else None,
                shrink_factor=int(setup.shrink_factors[case_level]),
                smoothing_sigma=float(setup.smoothing_sigmas[case_level]),
                sampling_percentage=None if setup.sampling == "none" else setup.percentage(case_level),
            )
            level.iterations = hi - lo
            if count_by == "optimizer" and level.optimizer_iteration is not None:
                level.iterations = level.optimizer_iteration
            if metrics:
                level.first_metric, level.last_metric = (
                    finite_or_none(metrics[0]),
                    finite_or_none(metrics[-1]),
                )
                best = int(np.argmin(np.asarray(metrics, dtype=float)))  # floats: GetMetricValue's
                level.best_metric = finite_or_none(metrics[best])
                level.best_iteration = int(self.trace.iteration[lo + best])
                level.learning_rate_first, level.learning_rate_last = rates[0], rates[-1]
            seg.levels.append(level)
        seg.iterations = sum(level.iterations for level in seg.levels)
        seg.learning_rate = seg.levels[-1].learning_rate_last if seg.levels else None


def _clean_error(text: str) -> str:
    # SimpleITK prefixes "<build path>/file.cxx:123:\nsitk::ERROR: "; keep what a user can act on.
    marker = "sitk::ERROR:"
    if marker in text:
        text = text.split(marker, 1)[1]
    return without_addresses(text).strip()
