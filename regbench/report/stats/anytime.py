"""Anytime figures of one run, from its anytime curve (:class:`regbench.record.Anytime`): when it first reached
a target, and where its best dense value was.

First-hit times are read at the evaluated positions (the trace's position schedule), so they are the time of the
first *kept* position at or below the target: an upper bound, exact to the schedule's resolution. The report
computes the same first hits for every run at once (:func:`regbench.report.stats.anytime_curves.first_hits`, on the
curves loaded as columns; a test checks that the two agree) and its statistics over instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from regbench.record import Anytime, RunRecord

#: Targets relative to the run's initial error, for ``show``: half, a tenth and a hundredth of it.
RELATIVE_TARGETS = (0.5, 0.1, 0.01)


def measure_of(curve: Anytime, fg: bool | None = None) -> tuple[str, list[float | None]]:
    """The error measure the verdict uses: the foreground error where the curve has one, else the whole domain."""
    if fg is None:
        fg = any(v is not None for v in curve.error_mean_fg)
    return ("error_mean_fg", curve.error_mean_fg) if fg else ("error_mean", curve.error_mean)


def first_hit(curve: Anytime, values: list[float | None], target: float) -> tuple[float, int] | None:
    """(time since the run started, iterations) at the first point of ``values`` at or below ``target``."""
    for time_s, iterations, value in zip(curve.time_s, curve.iterations, values, strict=True):
        if value is not None and value <= target:
            return time_s, iterations
    return None


@dataclass
class TraceBest:
    """The best dense value over every evaluated position of every level, and where it was."""

    dense_metric: float
    row: int
    segment: int
    level: int
    iteration: int
    time_s: float | None
    error_mean: float | None


def trace_best(record: RunRecord) -> TraceBest | None:
    """The evaluated trace position with the lowest dense metric (every level: dense values compare)."""
    trace = record.trace
    evaluated = [(value, i) for i in trace.positions() if (value := trace.dense_metric[i]) is not None]
    if not evaluated:
        return None
    value, row = min(evaluated, key=lambda pair: pair[0])  # the first row among ties
    return TraceBest(
        value,
        row,
        trace.segment[row],
        trace.level[row],
        trace.iteration[row],
        trace.time_s[row],
        trace.error_mean[row],
    )
