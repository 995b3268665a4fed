"""How much repeats of one run move: the spread per strategy × case × seed group of ``regbench run --repeat K``.

A group is every record with the same inputs (strategy, parameters, case and its instance, seed, ITK threads,
software versions) and a different ``repeat``. Where a setup is deterministic its repeats are bit-identical; where
it is not (Mattes MI with more than one ITK thread), the spread says how far apart the same inputs land::

    from regbench.report.stats.repeats import repeat_spreads
    from regbench.report.text.repeats_table import repeats_table

    rows = repeat_spreads(records)  # or store_spreads(store)
    console.print(repeats_table(rows))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from regbench.record import TRACE_COLUMNS, RunRecord
from regbench.trace import AFTER_RUN_COLUMNS
from regbench.util.strict_json import dumps

# A full record or a store summary (a dict): grouping reads only the key's inputs, which both have.
_Row = TypeVar("_Row", RunRecord, dict[str, Any])

#: What the spread is measured on: the error against the truth where the case has one, else the dense metric.
MEASURES = ("error_mean", "final_metric_dense")


@dataclass(frozen=True)
class RepeatSpread:
    """One group of repeats: how far its records are apart.

    ``low``/``high`` are the min and max of ``measure`` over the repeats that have it; ``identical`` says whether
    every repeat returned the same transform with the same trace (and status), bit for bit; ``distinct`` counts
    the different results. ``deterministic`` is what the records claim (None when unknown or when they
    disagree: ``deterministic_flags`` has each record's flag).
    """

    strategy: str
    case: str
    seed: int
    threads: int | None
    params: dict[str, Any] = field(compare=False)
    repeats: int
    measure: str | None
    low: float | None
    high: float | None
    iterations_low: int
    iterations_high: int
    identical: bool
    distinct: int
    deterministic: bool | None
    deterministic_flags: tuple[bool | None, ...]
    keys: tuple[str, ...]

    @property
    def spread(self) -> float | None:
        """``high − low``: 0 for bit-identical repeats."""
        return None if self.low is None or self.high is None else self.high - self.low

    @property
    def contradicts(self) -> bool:
        """The records claim to be deterministic, yet the repeats differ."""
        return self.deterministic is True and not self.identical


def _get(record: RunRecord | dict[str, Any], name: str, default: Any = None) -> Any:
    return record.get(name, default) if isinstance(record, dict) else getattr(record, name, default)


def group_key(record: RunRecord | dict[str, Any]) -> tuple:
    """What the repeats of one run share: every input of its key but ``repeat`` (the case's definition is in
    ``instance``)."""
    return (
        _get(record, "strategy"),
        _get(record, "case"),
        _get(record, "seed"),
        _get(record, "threads"),
        dumps(_get(record, "params") or {}, sort_keys=True),
        dumps(_get(record, "versions") or {}, sort_keys=True),
        _get(record, "instance"),
    )


def repeat_groups(records: Iterable[_Row]) -> list[list[_Row]]:
    """The records grouped by :func:`group_key`, only groups of more than one record with some ``repeat`` > 0,
    each in repeat order; groups in the order of their first record."""
    groups: dict[tuple, list[_Row]] = {}
    for record in records:
        groups.setdefault(group_key(record), []).append(record)
    return [
        sorted(members, key=lambda r: _get(r, "repeat", 0) or 0)
        for members in groups.values()
        if len(members) > 1 and any((_get(r, "repeat", 0) or 0) > 0 for r in members)
    ]


# The trace columns that must repeat bit for bit: what the optimizer did. The clocks measure the machine; the values
# evaluated after the run follow from the kept positions, and a repeat may still wait for them (completion).
_REPEATED_COLUMNS = tuple(
    name for name in TRACE_COLUMNS if name not in ("time_s", "exec_time_s") and name not in AFTER_RUN_COLUMNS
)


def _result(record: RunRecord) -> str:
    """The part of a record that must be bit-identical between repeats: what it returned and how it got there.
    ``repr`` of floats is exact, and far cheaper than JSON on stores with thousands of long traces."""
    trace = record.trace
    return repr((record.status, record.transform, [getattr(trace, name) for name in _REPEATED_COLUMNS]))


def spread_of(records: Sequence[RunRecord]) -> RepeatSpread:
    """The spread of one group of repeats (full records: the transform and trace are compared)."""
    first = records[0]
    measure = next((m for m in MEASURES if any(getattr(r, m) is not None for r in records)), None)
    values = [getattr(r, measure) for r in records if getattr(r, measure) is not None] if measure else []
    iterations = [r.iterations for r in records]
    results = {_result(r) for r in records}
    flags = tuple(r.deterministic for r in records)
    return RepeatSpread(
        strategy=first.strategy,
        case=first.case,
        seed=first.seed,
        threads=first.threads,
        params=dict(first.params),
        repeats=len(records),
        measure=measure,
        low=min(values) if values else None,
        high=max(values) if values else None,
        iterations_low=min(iterations),
        iterations_high=max(iterations),
        identical=len(results) == 1,
        distinct=len(results),
        deterministic=flags[0] if len(set(flags)) == 1 else None,
        deterministic_flags=flags,
        keys=tuple(r.key or "" for r in records),
    )


def repeat_spreads(records: Iterable[RunRecord]) -> list[RepeatSpread]:
    """One row per group of repeats (:func:`repeat_groups`) among ``records``, sorted by strategy, case, seed."""
    rows = [spread_of(group) for group in repeat_groups(records)]
    return sorted(rows, key=lambda r: (r.strategy, r.case, r.seed, dumps(r.params, sort_keys=True), r.threads or 0))


def store_spreads(store: Any) -> list[RepeatSpread]:
    """:func:`repeat_spreads` of a :class:`~regbench.store.sqlite.Store`, reading full records only for the groups that
    have repeats (the others are grouped from their summaries), so a large store without repeats costs little."""
    summaries = store.summaries(without=("trace", "transform", "segments", "provenance", "notes", "measures"))
    keys = [summary["key"] for group in repeat_groups(summaries) for summary in group]
    return repeat_spreads(store.get_many(keys)) if keys else []
