"""``regbench switch-check A B --store S``: the engine-switch gate, two strategies of one store compared instance
for instance (a paired equivalence test per case, the runs that fail under B but not under A, the stop
categories that changed). The statistics and text are the upgrade gate's (:mod:`~regbench.report.gates.paired`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regbench.report.gates.compare import GateError
from regbench.report.gates.paired import Limits, Pair, PairedCase, assess, case_line, verdict_lines
from regbench.report.load.columns import solver_labels
from regbench.report.stats.across_instances import STAND_INS
from regbench.store.sqlite import Store, StoreError


@dataclass
class SwitchReport:
    store: str
    a: str
    b: str
    error: str
    margin: float
    one_sided: bool
    cases: list[PairedCase]
    unpaired: int  # runs of A or B on the checked cases without a counterpart instance
    copies: int  # runs left out as copies of a paired instance (another seed or repeat of the same problem)
    failed: list[str] = field(default_factory=list)  # the gate's failure messages (empty: passed)

    @property
    def passed(self) -> bool:
        return not self.failed


def _instance(row: dict[str, Any]) -> tuple[str, str, Any]:
    """The problem a run solved, under the same conditions: its case, its instance hash (its seed for records
    that predate it) and its ITK threads."""
    instance = row.get("instance") or f"seed {int(row.get('seed') or 0)}"
    return (row["case"], instance, row.get("threads"))


def _one_per_instance(rows: list[dict[str, Any]]) -> tuple[dict[tuple[str, str, Any], dict[str, Any]], int]:
    """Per instance, its run of the lowest seed and repeat (the others are copies of one problem: counting them
    as pairs would narrow the interval without new evidence), and how many copies were left out."""
    chosen: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (int(r.get("seed") or 0), int(r.get("repeat") or 0))):
        chosen.setdefault(_instance(row), row)
    return chosen, len(rows) - len(chosen)


def _select(rows: list[dict[str, Any]], labels: np.ndarray, name: str, store: str) -> list[dict[str, Any]]:
    """The runs of strategy ``name``: a strategy of the store, or one of its parameter sets as reports label it
    (``gd[learning_rate=0.5]``); a clear refusal listing what the store holds otherwise."""
    by_label = [r for r, label in zip(rows, labels, strict=True) if label == name]
    if by_label:
        return by_label
    variants = sorted({str(label) for r, label in zip(rows, labels, strict=True) if r["strategy"] == name})
    if variants:
        raise GateError(
            f"strategy {name!r} ran with {len(variants)} parameter sets in {store}: name one of {', '.join(variants)}"
        )
    held = sorted({str(label) for label in labels})
    raise GateError(f"no strategy {name!r} in {store}; it holds: {', '.join(held) or 'no runs'}")


def _evidence(name: str) -> str:
    """What a case needs for a run to have error column ``name``."""
    if name.startswith("tre"):
        return "landmarks"
    return "a truth transform and a foreground mask" if name.endswith("_fg") else "a truth transform"


def _measure(case: str, case_rows: list[dict[str, Any]], error: str) -> str:
    """The error column the gate tests on ``case``: ``error``, else its stand-in (landmark TRE for a truth error,
    and back) when no run of the case has ``error``; a usage error naming the missing evidence when neither."""
    stand_in = STAND_INS.get(error)
    for name in (error, stand_in):
        if name and any(r.get(name) is not None or r.get(f"initial_{name}") is not None for r in case_rows):
            return name
    missing = f"{error} ({_evidence(error)})" + (f" nor {stand_in} ({_evidence(stand_in)})" if stand_in else "")
    raise GateError(
        f"case {case!r}: no run has {missing}, so there is no error in physical units to test equivalence on; "
        "leave the case out (-c names the cases to check) or choose another --error"
    )


def switch_check(
    rows: list[dict[str, Any]],
    a: str,
    b: str,
    margin: float,
    *,
    cases: Sequence[str] = (),
    error: str = "error_mean",
    max_newly_failing: int = 0,
    max_stop_shift: float | None = None,
    one_sided: bool = False,
    store: str = "the store",
) -> SwitchReport:
    """The switch gate of strategy B against strategy A on the runs ``rows`` of one store, instance for instance
    (same case, instance and threads; one run per instance): per case a paired equivalence test (TOST,
    α = 0.05) that the mean change of ``error`` lies within ±``margin`` physical units (with ``one_sided``, only
    a rise of ``margin`` or more fails), the runs that fail under B but not under A (at most ``max_newly_failing``
    per case) and the share of pairs whose stop category changed (at most ``max_stop_shift``, when given).
    ``cases``: only these (every case both ran, by default). A strategy the store does not hold, a case without
    paired instances or without the error measure is a :class:`GateError`."""
    if a == b:
        raise GateError(f"A and B are the same strategy ({a!r}): name two")
    labels = solver_labels(np.array([r["strategy"] for r in rows], dtype=object), [r.get("params") or {} for r in rows])
    rows_a, rows_b = _select(rows, labels, a, store), _select(rows, labels, b, store)
    ran_a, ran_b = {r["case"] for r in rows_a}, {r["case"] for r in rows_b}
    unknown = [c for c in cases if c not in {r["case"] for r in rows}]
    if unknown:
        held = sorted({r["case"] for r in rows})
        raise GateError(f"no case {', '.join(map(repr, unknown))} in {store}; it holds: {', '.join(held)}")
    chosen = list(dict.fromkeys(cases)) or sorted(ran_a & ran_b)
    if not chosen:
        raise GateError(
            f"no case has runs of both {a} and {b}: {a} ran on {', '.join(sorted(ran_a))}; "
            f"{b} on {', '.join(sorted(ran_b))}"
        )
    index_a, copies_a = _one_per_instance([r for r in rows_a if r["case"] in chosen])
    index_b, copies_b = _one_per_instance([r for r in rows_b if r["case"] in chosen])
    common = sorted(set(index_a) & set(index_b), key=str)
    by_case: dict[str, list[Pair]] = {case: [] for case in chosen}
    for key in common:
        by_case[key[0]].append((index_a[key], index_b[key]))
    lonely = [case for case, pairs in by_case.items() if not pairs]
    if lonely:
        raise GateError(
            f"no paired instance on {', '.join(lonely)}: pairs need a run of {a} and one of {b} on the same "
            f"instance (case, instance or seed, threads); {a} has {_count(index_a, lonely)}, "
            f"{b} has {_count(index_b, lonely)} there"
        )
    limits = Limits(max_newly_failing, max_stop_shift, one_sided, (f"with {a}", f"with {b}"))
    unpaired = len(set(index_a) ^ set(index_b))
    report = SwitchReport(store, a, b, error, margin, one_sided, [], unpaired, copies_a + copies_b)
    for case, pairs in by_case.items():
        name = _measure(case, [r for r in rows if r["case"] == case], error)
        item, messages = assess(f"{a} → {b}", case, pairs, name, margin, limits, " physical units")
        if name != error:
            item.notes.insert(0, f"{name} stands in for {error}, which no run of the case has")
        report.cases.append(item)
        report.failed += messages
    return report


def _count(index: dict[tuple[str, str, Any], dict[str, Any]], cases: list[str]) -> str:
    counts = Counter(key[0] for key in index if key[0] in cases)
    return ", ".join(f"{counts[c]} instance(s) on {c}" for c in cases)


def switch_check_store(path: str | Path, a: str, b: str, margin: float, **options: Any) -> SwitchReport:
    """:func:`switch_check` of the runs of one result store."""
    try:
        with Store.read_only(path) as store:
            rows = store.summaries()
    except StoreError as exc:
        raise GateError(str(exc)) from exc
    return switch_check(rows, a, b, margin, store=str(path), **options)


def switch_lines(report: SwitchReport, drill_down: bool = True) -> list[str]:
    """The switch check as text: the two strategies, one line per case, and the verdict."""
    bound = (
        f"+{report.margin:g} physical units (one-sided)" if report.one_sided else f"±{report.margin:g} physical units"
    )
    copies = f", {report.copies} copies of a paired instance left out" if report.copies else ""
    lines = [
        f"A: {report.a}   B: {report.b}   ({report.store}) {report.error} margin {bound}; "
        f"{report.unpaired} unpaired run(s){copies}"
    ]
    if drill_down:
        lines += [case_line(c, report.one_sided) for c in report.cases]
    return lines + verdict_lines("switch gate", report.failed)


def switch_to_jsonable(report: SwitchReport) -> dict[str, Any]:
    return {**asdict(report), "passed": report.passed}
