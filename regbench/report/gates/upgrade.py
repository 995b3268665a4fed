"""``regbench upgrade-check A B``: the SimpleITK upgrade gate, two stores from different SimpleITK versions
compared run for run (a paired equivalence test per strategy × case, the runs that newly fail, the stop
categories that changed).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regbench.report.gates.compare import GateError
from regbench.store.sqlite import Store, StoreError


@dataclass
class UpgradeCase:
    """One strategy × case of an upgrade check: its paired runs and the three verdicts."""

    strategy: str
    case: str
    field: str
    pairs: int
    mean_diff: float | None  # B − A (physical units for error_mean)
    ci: tuple[float, float] | None  # 90% confidence interval of the mean difference (TOST at α = 0.05)
    equivalent: bool | None  # None: nothing to test
    failures_a: int
    failures_b: int
    newly_failing: int  # pairs without a failure in A that fail in B
    stop_changes: dict[str, int]  # "A → B" stop category -> pairs
    # dataclasses.field: in this class body, the attribute ``field`` above shadows the function
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def stop_shift(self) -> float:
        return sum(self.stop_changes.values()) / self.pairs if self.pairs else 0.0


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


def _tost_ci(diffs: np.ndarray) -> tuple[float, float]:
    """The 90% t interval of the mean of ``diffs`` (two one-sided tests at α = 0.05 pass iff it lies inside
    ±margin). Zero spread gives the point itself."""
    from scipy import stats as sps

    mean = float(np.mean(diffs))
    sd = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
    if sd == 0.0:
        return mean, mean
    half = float(sps.t.ppf(0.95, diffs.size - 1)) * sd / math.sqrt(diffs.size)
    return mean - half, mean + half


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
    from regbench.evaluation.outcomes import succeeded

    index_a = {_pair_key(r): r for r in rows_a}
    index_b = {_pair_key(r): r for r in rows_b}
    common = sorted(set(index_a) & set(index_b), key=str)
    by_case: dict[tuple[str, str], list[tuple[dict, dict]]] = {}
    for key in common:
        by_case.setdefault((key[0], key[2]), []).append((index_a[key], index_b[key]))
    cases: list[UpgradeCase] = []
    failed: list[str] = []
    for (strategy, case), pairs in sorted(by_case.items()):
        name = "error_mean" if all(a.get("error_mean") is not None for a, _ in pairs) else "final_metric_dense"
        bound = margin if name == "error_mean" else metric_margin
        ok = [
            (a, b)
            for a, b in pairs
            if succeeded(a) and succeeded(b) and a.get(name) is not None and b.get(name) is not None
        ]
        diffs = np.array([float(b[name]) - float(a[name]) for a, b in ok])
        notes: list[str] = []
        ci = mean = equivalent = None
        if diffs.size:
            mean = float(np.mean(diffs))
            ci = _tost_ci(diffs)
            if bound is not None:
                equivalent = -bound < ci[0] and ci[1] < bound
            if diffs.size == 1:
                notes.append("one pair: the interval is the difference itself")
        else:
            notes.append("no pair where both runs finished without a failure")
        stop_changes: dict[str, int] = {}
        for a, b in pairs:
            if a.get("stop_category") != b.get("stop_category"):
                change = f"{a.get('stop_category')} → {b.get('stop_category')}"
                stop_changes[change] = stop_changes.get(change, 0) + 1
        item = UpgradeCase(
            strategy,
            case,
            name,
            len(pairs),
            mean,
            ci,
            equivalent,
            failures_a=sum(not succeeded(a) for a, _ in pairs),
            failures_b=sum(not succeeded(b) for _, b in pairs),
            newly_failing=sum(succeeded(a) and not succeeded(b) for a, b in pairs),
            stop_changes=stop_changes,
            notes=notes,
        )
        cases.append(item)
        where = f"{strategy} on {case}"
        if equivalent is False and ci is not None:  # equivalence is decided on an interval
            unit = " physical units" if name == "error_mean" else ""
            failed.append(
                f"{where}: {name} changed by {mean:+.4g} (90% CI {ci[0]:+.4g} … {ci[1]:+.4g}), "
                f"not within ±{bound:g}{unit}"
            )
        if item.newly_failing > max_newly_failing:
            failed.append(f"{where}: {item.newly_failing} of {len(pairs)} runs fail in B but not in A")
        if max_stop_shift is not None and item.stop_shift > max_stop_shift:
            shifts = ", ".join(f"{k} ×{v}" for k, v in sorted(stop_changes.items()))
            failed.append(f"{where}: stop category changed in {item.stop_shift:.0%} of runs ({shifts})")
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
        for c in report.cases:
            ci = "–" if c.ci is None else f"[{c.ci[0]:+.3g}, {c.ci[1]:+.3g}]"
            eq = {True: "equivalent", False: "NOT EQUIVALENT", None: "untested"}[c.equivalent]
            diff = "–" if c.mean_diff is None else f"{c.mean_diff:+.3g}"
            stops = (
                "; stops " + ", ".join(f"{k} ×{v}" for k, v in sorted(c.stop_changes.items())) if c.stop_changes else ""
            )
            lines.append(
                f"  {c.strategy} on {c.case}: {c.pairs} pairs, Δ{c.field} {diff} (90% CI {ci}) {eq}; "
                f"failures {c.failures_a} → {c.failures_b}{stops}" + (f" ({'; '.join(c.notes)})" if c.notes else "")
            )
    lines.append("upgrade gate: passed" if report.passed else f"upgrade gate: FAILED ({len(report.failed)})")
    lines += [f"  {m}" for m in report.failed]
    return lines


def upgrade_to_jsonable(report: UpgradeReport) -> dict[str, Any]:
    from dataclasses import asdict

    return {**asdict(report), "passed": report.passed}
