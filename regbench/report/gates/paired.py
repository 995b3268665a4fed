"""What the paired gates share: runs of a side A and a side B paired one to one, and per strategy × case a paired
equivalence test (TOST) of an error's change, the runs that fail in B but not in A, and the stop categories that
changed. ``upgrade-check`` pairs two stores run for run (:mod:`~regbench.report.gates.upgrade`), ``switch-check``
two strategies of one store instance for instance (:mod:`~regbench.report.gates.switch`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regbench.evaluation.outcomes import succeeded

Pair = tuple[dict[str, Any], dict[str, Any]]


@dataclass
class PairedCase:
    """One strategy × case of a paired gate: its paired runs and the three verdicts."""

    strategy: str  # the strategy (upgrade-check), or "A → B" (switch-check)
    case: str
    field: str
    pairs: int
    mean_diff: float | None  # B − A (physical units for an error)
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


@dataclass(frozen=True)
class Limits:
    """What fails a paired gate besides a failed equivalence test."""

    max_newly_failing: int = 0  # per strategy × case
    max_stop_shift: float | None = None  # share of pairs whose stop category changed; None: reported, not gated
    # Non-inferiority: only B's error *rising* by the margin or more fails (lower is better); B may be better by
    # any amount. The upper bound of the 90% interval is then the one-sided 95% bound.
    one_sided: bool = False
    sides: tuple[str, str] = ("in A", "in B")  # how the failure messages name the two sides


def tost_ci(diffs: np.ndarray) -> tuple[float, float]:
    """The 90% t interval of the mean of ``diffs`` (two one-sided tests at α = 0.05 pass iff it lies inside
    ±margin). Zero spread gives the point itself."""
    from scipy import stats as sps

    mean = float(np.mean(diffs))
    sd = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
    if sd == 0.0:
        return mean, mean
    half = float(sps.t.ppf(0.95, diffs.size - 1)) * sd / math.sqrt(diffs.size)
    return mean - half, mean + half


def assess(
    strategy: str, case: str, pairs: Sequence[Pair], name: str, bound: float | None, limits: Limits, unit: str = ""
) -> tuple[PairedCase, list[str]]:
    """The verdicts of one strategy × case and the gate's failure messages for it: the change of ``name``
    (B − A) over the pairs where both runs finished without a failure, tested equivalent within ±``bound``
    (untested when it is None), the pairs that fail in B but not in A, and the stop categories that changed."""
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
        ci = tost_ci(diffs)
        if bound is not None:
            equivalent = ci[1] < bound and (limits.one_sided or -bound < ci[0])
        if diffs.size == 1:
            notes.append("one pair: the interval is the difference itself")
    else:
        notes.append("no pair where both runs finished without a failure")
    stop_changes: dict[str, int] = {}
    for a, b in pairs:
        if a.get("stop_category") != b.get("stop_category"):
            change = f"{a.get('stop_category')} → {b.get('stop_category')}"
            stop_changes[change] = stop_changes.get(change, 0) + 1
    item = PairedCase(
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
    failed: list[str] = []
    where = f"{strategy} on {case}"
    if equivalent is False and ci is not None and mean is not None:  # equivalence is decided on an interval
        within = f"below +{bound:g}" if limits.one_sided else f"within ±{bound:g}"
        failed.append(
            f"{where}: {name} changed by {mean:+.4g} (90% CI {ci[0]:+.4g} … {ci[1]:+.4g}), not {within}{unit}"
        )
    if item.newly_failing > limits.max_newly_failing:
        a_side, b_side = limits.sides
        failed.append(f"{where}: {item.newly_failing} of {len(pairs)} runs fail {b_side} but not {a_side}")
    if limits.max_stop_shift is not None and item.stop_shift > limits.max_stop_shift:
        shifts = ", ".join(f"{k} ×{v}" for k, v in sorted(stop_changes.items()))
        failed.append(f"{where}: stop category changed in {item.stop_shift:.0%} of runs ({shifts})")
    return item, failed


def case_line(c: PairedCase, one_sided: bool = False) -> str:
    """One strategy × case of a paired gate's drill-down (``one_sided``: the test was of non-inferiority)."""
    ci = "–" if c.ci is None else f"[{c.ci[0]:+.3g}, {c.ci[1]:+.3g}]"
    words = ("non-inferior", "INFERIOR") if one_sided else ("equivalent", "NOT EQUIVALENT")
    eq = {True: words[0], False: words[1], None: "untested"}[c.equivalent]
    diff = "–" if c.mean_diff is None else f"{c.mean_diff:+.3g}"
    stops = "; stops " + ", ".join(f"{k} ×{v}" for k, v in sorted(c.stop_changes.items())) if c.stop_changes else ""
    return (
        f"  {c.strategy} on {c.case}: {c.pairs} pairs, Δ{c.field} {diff} (90% CI {ci}) {eq}; "
        f"failures {c.failures_a} → {c.failures_b}{stops}" + (f" ({'; '.join(c.notes)})" if c.notes else "")
    )


def verdict_lines(gate: str, failed: Sequence[str]) -> list[str]:
    """The gate's last lines: passed, or FAILED with each failure message."""
    if not failed:
        return [f"{gate}: passed"]
    return [f"{gate}: FAILED ({len(failed)})", *(f"  {m}" for m in failed)]
