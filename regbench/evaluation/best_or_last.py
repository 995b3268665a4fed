"""Best or last, on the dense metric: is the returned transform at least as good as every position the run kept
at the case's last pyramid level?

Read from the record alone (its trace's dense values, evaluated after the run by :mod:`regbench.evaluation.postrun`), so
the run's answer (``returned_best`` and the regret) and ``regbench show``'s lines about it come from one rule.
The optimizer's own values cannot decide it: where a level samples, the position they rank best is often not
the best on the dense metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from regbench.evaluation.stops import is_no_overlap
from regbench.record import RunRecord
from regbench.trace import Trace

#: The returned transform is the best when its dense metric is within this share of the best one's.
RETURNED_BEST_RTOL = 1e-6
#: The note that names the better position starts with this (``show`` and reports read it as such).
NOTE_PREFIX = "returned transform is not the best kept at the last level"


@dataclass(frozen=True)
class Compared:
    """A position the returned transform is compared with: its dense metric and truth error (after the run),
    and where the run visited it."""

    dense_metric: float
    error_mean: float | None
    where: str


def where(trace: Trace, row: int) -> str:
    """A trace row as ``show`` names it: the execution, the case's pyramid level and the optimizer iteration."""
    return f"execution {trace.segment[row]}, level {trace.level[row]}, iteration {trace.iteration[row]}"


def within_tolerance(returned: float, best: float) -> bool:
    """Is ``returned`` at least as good as ``best`` (lower is better), up to :data:`RETURNED_BEST_RTOL`?"""
    return returned - best <= RETURNED_BEST_RTOL * max(abs(best), 1e-12)


def _comparable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and not is_no_overlap(value)


def kept_at_last_level(record: RunRecord, last_level: int, best_row: int | None = None) -> list[Compared]:
    """Every trace position of the case's ``last_level`` that has a dense value (every execution, rejected
    attempts too: the run did visit them), plus the row ``best_row`` of the optimizer's own best visited (for
    the gradient-descent family it can be where the level started, the previous level's last row)."""
    trace = record.trace
    compared = []
    for row in trace.positions():
        value = trace.dense_metric[row]
        if value is not None and _comparable(value) and (trace.level[row] == last_level or row == best_row):
            compared.append(Compared(value, trace.error_mean[row], where(trace, row)))
    return compared


def reported_at_last_level(record: RunRecord, last_level: int) -> list[Compared]:
    """The optimizer's own best value of each execution's ``last_level`` where that level is dense (full
    resolution, unsmoothed, unsampled: its values are dense values of positions it evaluated). For a strategy
    whose values are not paired with positions (Powell): evidence with no position, so no error."""
    return [
        Compared(
            level.best_metric,
            None,
            f"a value the optimizer reported (execution {segment.index}, level "
            f"{level.index}, its event {level.best_iteration}; position not known)",
        )
        for segment in record.segments
        for level in segment.levels
        if level.index == last_level
        and level.is_dense
        and level.best_metric is not None
        and _comparable(level.best_metric)
    ]


def answer(record: RunRecord, compared: Sequence[Compared]) -> Compared | None:
    """Set ``returned_best``, ``best_visited_metric_dense``/``best_visited_error_mean`` (the best of
    ``compared`` on the dense metric; its error, not the lowest error) and the regrets (returned minus best),
    and note where the better position was when the returned transform is not the best. Returns the best, or
    None (nothing is set) when nothing is comparable or the returned transform has no dense value."""
    candidates = [c for c in compared if _comparable(c.dense_metric)]
    if not candidates or record.final_metric_dense is None:
        return None
    best = min(candidates, key=lambda c: c.dense_metric)
    record.best_visited_metric_dense, record.best_visited_error_mean = best.dense_metric, best.error_mean
    record.notes = [n for n in record.notes if not n.startswith(("returned_best unknown", NOTE_PREFIX))]
    if is_no_overlap(record.final_metric_dense):  # no regret figure against DBL_MAX: the returned one failed
        record.regret_metric_dense = record.regret_error_mean = None
        record.returned_best = False
        return best
    record.regret_metric_dense = record.final_metric_dense - best.dense_metric
    record.regret_error_mean = (
        record.error_mean - best.error_mean if record.error_mean is not None and best.error_mean is not None else None
    )
    record.returned_best = within_tolerance(record.final_metric_dense, best.dense_metric)
    if not record.returned_best:
        record.notes.append(
            f"{NOTE_PREFIX}: {best.where} has dense metric {best.dense_metric:.6g} against "
            f"{record.final_metric_dense:.6g} returned (the best of {len(candidates)} positions compared)"
        )
    return best


def best_row(record: RunRecord) -> int | None:
    """The trace row whose dense value is the record's ``best_visited_metric_dense`` (a row of the latest level
    first), or None: the best is not a trace row, or the record has no answer."""
    trace, value = record.trace, record.best_visited_metric_dense
    if value is None:
        return None
    rows = [row for row in trace.positions() if trace.dense_metric[row] == value]
    return max(rows, key=lambda row: (trace.level[row], row)) if rows else None


def where_best(record: RunRecord) -> str | None:
    """Where the record's best-or-last best was, from the record alone (None: no answer): "at" a trace row, a
    value the optimizer reported, or where an execution or its last level started (evaluated, not a row)."""
    if record.best_visited_metric_dense is None:
        return None
    row = best_row(record)
    if row is not None:
        return f"at {where(record.trace, row)}"
    last = max((level.index for level in record.levels), default=0)
    reported = [c for c in reported_at_last_level(record, last) if c.dense_metric == record.best_visited_metric_dense]
    return reported[0].where if reported else "where an execution or its last level started"
