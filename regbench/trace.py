"""A run's trace: what the harness saw at each optimizer iteration (:class:`IterationEvent`), the per-iteration
columns of a whole run (:class:`Trace`) and its compact anytime curve on dense values (:class:`Anytime`). Part
of the run record (:mod:`regbench.record`), which re-exports them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class IterationEvent:
    """One ``sitkIterationEvent`` as the harness saw it (passed to ``regbench_record_iteration``).

    ``metric`` is SimpleITK's value at the event: for the gradient-descent family that is f at the position
    *before* the step just taken (reference §3.3).
    """

    segment: int
    level: int
    iteration: int
    metric: float | None
    learning_rate: float | None
    convergence: float | None
    #: Seconds since the run started, and since this execution's ``Execute`` started.
    time_s: float | None = None
    exec_time_s: float | None = None


@dataclass
class Trace:
    """Per-iteration samples of a whole run, stored column-wise (compact JSON, cheap to append).

    The event columns come from each :class:`IterationEvent`. ``position`` holds the optimizer's position at the
    event (the parameters it holds *after* the event) where the position schedule saved one, else None; after
    the run, outside the timed executions, each saved position is evaluated: ``dense_metric`` (the case metric
    at full resolution, unsampled) and, where the case has truth, ``error_mean`` and ``error_mean_fg``.
    """

    segment: list[int] = field(default_factory=list)
    level: list[int] = field(default_factory=list)
    iteration: list[int] = field(default_factory=list)
    metric: list[float | None] = field(default_factory=list)
    learning_rate: list[float | None] = field(default_factory=list)
    convergence: list[float | None] = field(default_factory=list)
    time_s: list[float | None] = field(default_factory=list)
    exec_time_s: list[float | None] = field(default_factory=list)
    position: list[list[float] | None] = field(default_factory=list)
    dense_metric: list[float | None] = field(default_factory=list)
    error_mean: list[float | None] = field(default_factory=list)
    error_mean_fg: list[float | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Records written before a column existed (or hand-made traces) get it filled with None.
        for name in TRACE_COLUMNS:
            column = getattr(self, name)
            if len(column) < len(self.iteration):
                column.extend([None] * (len(self.iteration) - len(column)))

    def append(self, event: IterationEvent) -> None:
        for name in EVENT_COLUMNS:
            getattr(self, name).append(getattr(event, name))
        for name in AFTER_RUN_COLUMNS:
            getattr(self, name).append(None)

    def __len__(self) -> int:
        return len(self.iteration)

    def positions(self) -> list[int]:
        """Indices of the samples with a saved position."""
        return [i for i, p in enumerate(self.position) if p is not None]

    def to_frame(self) -> pd.DataFrame:
        """The trace as a pandas DataFrame: one row per iteration event, one column per trace column (None
        becomes NaN in the numeric columns; ``position`` stays a column of lists). Needs pandas (the optional
        extra ``regbench[pandas]``)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Trace.to_frame needs pandas: pip install 'regbench[pandas]'") from exc
        data = {}
        for name in TRACE_COLUMNS:
            column = getattr(self, name)
            if name == "position":
                data[name] = pd.Series(column, dtype=object)
            else:
                data[name] = pd.to_numeric(pd.Series(column, dtype=object), errors="coerce")
        frame = pd.DataFrame(data)
        for name in ("segment", "level", "iteration"):
            frame[name] = frame[name].astype("Int64")
        return frame


TRACE_COLUMNS = tuple(f.name for f in dataclasses.fields(Trace))
EVENT_COLUMNS = tuple(f.name for f in dataclasses.fields(IterationEvent))
AFTER_RUN_COLUMNS = tuple(name for name in TRACE_COLUMNS if name not in EVENT_COLUMNS)


@dataclass
class Anytime:
    """The run's anytime curve on dense values: the start, then every evaluated trace position in time order.

    A compact copy of the trace's evaluated rows (tens of points) kept beside the summary, so statistics over
    thousands of runs (first-hit times, fixed-budget values) never need the traces. ``iterations`` counts
    iteration events since the run started; ``time_s`` is seconds since the run started.
    """

    time_s: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    dense_metric: list[float | None] = field(default_factory=list)
    error_mean: list[float | None] = field(default_factory=list)
    error_mean_fg: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.time_s)


@dataclass(frozen=True)
class PositionSchedule:
    """Which optimizer positions the trace keeps (each costs a copy of the parameters during Execute, and an
    evaluation after the run).

    Transforms with at most ``every_up_to`` parameters keep every iteration's position; the others keep
    iterations 0, 1, 2, ... of each level on a geometric schedule (the next kept iteration is at least ``growth``
    times the last: 0, 1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 30, 38, ...). The default is geometric for every
    transform: copying a few parameters is cheap, but each kept position costs one dense evaluation after the
    run, and a dense metric evaluation costs about as much as a gradient-descent iteration, so keeping every
    iteration would double the cost of a cheap run (docs/reports.md has the figures). Each level's last
    position is always kept, and the best visited one where the strategy declares its metric pairing. Past
    ``max_floats`` copied parameters in a run (the memory cap) only those are kept.
    """

    every_up_to: int = 0
    growth: float = 1.25
    max_floats: int = 250_000  # 2 MB of parameters per run
    #: After the run, kept positions are evaluated for at most this fraction of the run's Execute time (each
    #: level's last and the best visited always; then an evenly thinned set of the others).
    evaluation_budget: float = 0.5

    def __post_init__(self) -> None:
        if self.every_up_to < 0 or self.growth < 1 or self.max_floats < 0 or not self.evaluation_budget >= 0:
            raise ValueError(
                f"position schedule needs every_up_to ≥ 0, growth ≥ 1, max_floats ≥ 0, evaluation_budget ≥ 0: {self}"
            )

    def next_after(self, kept: int, parameters: int) -> int:
        """The next iteration of a level to keep after keeping iteration ``kept``."""
        if parameters <= self.every_up_to:
            return kept + 1
        return max(kept + 1, math.ceil(kept * self.growth)) if self.growth > 1 else 1 << 62


DEFAULT_POSITIONS = PositionSchedule()
#: Keep no positions during Execute (each level's last position is still kept).
NO_POSITIONS = PositionSchedule(every_up_to=0, growth=1.0, max_floats=0)
