"""``regbench upgrade-check A B``: the SimpleITK upgrade gate, two stores from different SimpleITK versions
compared run for run (a paired equivalence test per strategy × case, the runs that newly fail, the stop
categories that changed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regbench.report.gates.compare import GateError
from regbench.report.gates.paired import Limits, Pair, PairedCase, assess, case_line, verdict_lines
from regbench.store.sqlite import Store, StoreError

# One strategy × case of an upgrade check (the shared paired verdicts).
UpgradeCase = PairedCase


@dataclass
class UpgradeReport:
    versions_a: list[str]
    versions_b: list[str]
    margin: float
    cases: list[UpgradeCase]
    unpaired: int  # runs in one store only
    failed: list[str] = field(default_factory=list)  # the gate's failure messages (empty: passed)

    @property
    def passed(self) -> bool:
        return not self.failed


def _pair_key(row: dict[str, Any]) -> tuple:
    params = json.dumps(row.get("params") or {}, sort_keys=True, default=str)
    return (
        row["strategy"],
        params,
        row["case"],
        int(row.get("seed") or 0),
        int(row.get("repeat") or 0),
        row.get("threads"),
    )


def _rows(path: str | Path) -> list[dict[str, Any]]:
    with Store.read_only(path) as store:
        return store.summaries()


def upgrade_check(
    rows_a: list[dict[str, Any]],
    rows_b: list[dict[str, Any]],
    margin: float,
    *,
    max_newly_failing: int = 0,
    max_stop_shift: float | None = None,
    metric_margin: float | None = None,
) -> UpgradeReport:
    """The upgrade gate of B (new SimpleITK) against A (the pinned one), run for run (same strategy, parameters,
    case, seed, repeat and threads): per strategy × case a paired equivalence test (TOST, α = 0.05) that the
    mean change of ``error_mean`` lies within ±``margin`` physical units (cases without truth use
    ``final_metric_dense`` with ``metric_margin``, untested when it is None), the runs that fail in B but not
    in A (at most ``max_newly_failing`` per strategy × case), and the share of pairs whose stop category changed
    (at most ``max_stop_shift``, when given). The gate fails on any violation, and when nothing was paired."""
    index_a = {_pair_key(r): r for r in rows_a}
    index_b = {_pair_key(r): r for r in rows_b}
    common = sorted(set(index_a) & set(index_b), key=str)
    by_case: dict[tuple[str, str], list[Pair]] = {}
    for key in common:
        by_case.setdefault((key[0], key[2]), []).append((index_a[key], index_b[key]))
    limits = Limits(max_newly_failing=max_newly_failing, max_stop_shift=max_stop_shift)
    cases: list[UpgradeCase] = []
    failed: list[str] = []
    for (strategy, case), pairs in sorted(by_case.items()):
        truth = all(a.get("error_mean") is not None for a, _ in pairs)
        name, bound = ("error_mean", margin) if truth else ("final_metric_dense", metric_margin)
        item, messages = assess(strategy, case, pairs, name, bound, limits, " physical units" if truth else "")
        cases.append(item)
        failed += messages
    if not common:
        failed.append("no run of A has a counterpart in B (same strategy, parameters, case, seed, repeat, threads)")

    def versions(rows):
        return sorted({str((r.get("versions") or {}).get("SimpleITK")) for r in rows})

    return UpgradeReport(versions(rows_a), versions(rows_b), margin, cases, len(set(index_a) ^ set(index_b)), failed)


def upgrade_check_stores(path_a: str | Path, path_b: str | Path, margin: float, **options: Any) -> UpgradeReport:
    """:func:`upgrade_check` of two result stores."""
    try:
        rows_a, rows_b = _rows(path_a), _rows(path_b)
    except StoreError as exc:
        raise GateError(str(exc)) from exc
    return upgrade_check(rows_a, rows_b, margin, **options)


def upgrade_lines(report: UpgradeReport, drill_down: bool = True) -> list[str]:
    """The upgrade check as text: the versions, one line per strategy × case, and the verdict."""
    lines = [
        f"A: SimpleITK {', '.join(report.versions_a)}   B: SimpleITK {', '.join(report.versions_b)}   "
        f"margin ±{report.margin:g} physical units; {report.unpaired} unpaired run(s)"
    ]
    if drill_down:
        lines += [case_line(c) for c in report.cases]
    return lines + verdict_lines("upgrade gate", report.failed)


def upgrade_to_jsonable(report: UpgradeReport) -> dict[str, Any]:
    from dataclasses import asdict

    return {**asdict(report), "passed": report.passed}
