"""Runs of a store chosen by strategy and case glob patterns: for ``regbench export`` and ``regbench runs``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from regbench.record import RunRecord
from regbench.store.sqlite import Store
from regbench.util.names import select

# Record fields the selection does not need; SQLite drops them before they reach Python.
_HEAVY = ("trace", "transform", "segments", "notes", "provenance", "versions", "measures", "params")


def select_summaries(
    store: Store, strategies: Sequence[str] = (), cases: Sequence[str] = (), without: tuple[str, ...] = _HEAVY
) -> list[dict[str, Any]]:
    """The stored records (as dicts ``without`` those fields) of the strategies and cases matching the glob
    patterns (all when none are given), in finishing order. A pattern matching nothing raises
    :class:`MatrixError` listing the names in the store."""
    rows = store.summaries(without=without)
    empty = "(the store holds no runs)"
    chosen_strategies = set(select(sorted({r["strategy"] for r in rows}), strategies, "strategy", empty))
    chosen_cases = set(select(sorted({r["case"] for r in rows}), cases, "case", empty))
    return [
        row
        for row in rows
        if (not strategies or row["strategy"] in chosen_strategies) and (not cases or row["case"] in chosen_cases)
    ]


def select_records(store: Store, strategies: Sequence[str] = (), cases: Sequence[str] = ()) -> Iterator[RunRecord]:
    """The complete records :func:`select_summaries` selects, in finishing order."""
    return store.records(keys={row["key"] for row in select_summaries(store, strategies, cases)})
