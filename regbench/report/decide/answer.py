"""The answer to "which strategy?": its data (:class:`Candidate`, :class:`Recommendation`) and its words.

:func:`regbench.report.decide.recommend.recommend` fills the data; :func:`verdict` says it: the strategy chosen and the
rule that chose it, the evidence that decided, the strategies practically equivalent to it (claimed only from
:data:`MIN_EQUIVALENCE_INSTANCES` instances on), and the demonstrations shown but never recommended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from regbench.report.stats.pairs import MIN_PAIRS, SIGNIFICANCE

# P(practically equivalent) above which two solvers are called practically the same
EQUIVALENT = 0.95
#: Below this many instances no two strategies are called equivalent: a Bayesian P(equivalent) of 1.00 from 2 or 3
#: pairs says more about the prior than the strategies (the Wilcoxon test needs as many, MIN_PAIRS).
MIN_EQUIVALENCE_INSTANCES = MIN_PAIRS


@dataclass
class Candidate:
    solver: str
    demonstrates: str | None
    instances: int  # instances it ran
    median_error: float  # in the case's units (one case) or in tolerances (a case set)
    mean_rank: float
    failure_rate: float  # share of its runs whose outcome is a failure
    folding_max: float  # largest folding fraction of its runs (NaN: not measured)
    median_time_s: float
    spread: float = float("nan")  # of its returned transforms over seeds, physical units (truth-free evidence)
    inverse_consistency: float = float("nan")  # median ‖T_bwd ∘ T_fwd − id‖ where the case asked for it
    # median share of its start's error (or 1 − Dice, or gap) that its runs removed (NaN: the start is unknown)
    progress: float = float("nan")
    within_tolerance: bool = False
    recommended: bool = False
    why_not: str = ""

    @property
    def eligible(self) -> bool:
        return self.demonstrates is None


@dataclass
class Recommendation:
    scope: str  # a case name, or "all cases"
    cases: list[str]
    error: str
    unit: str  # "mm (case units)" or "tolerances"
    tolerance: float | None  # in the case's units; None over a case set (each case its own)
    tolerance_note: str
    candidates: list[Candidate]  # by mean rank
    best: str | None  # the lowest median error among the strategies that may be best
    recommended: list[str]  # practically equivalent to the best (within the tolerance, failing and folding no more)
    groups: list[list[str]]  # critical-difference groups (by mean rank)
    pvalues: dict[tuple[str, str], float | None]  # Holm-adjusted Wilcoxon
    bayes: dict[str, tuple[float, float, float]]  # other → (P(best better), P(equivalent), P(other better))
    wins: np.ndarray  # (solvers × solvers) instances where row beats column by more than the tolerance
    n_instances: int
    verdict: list[str] = field(default_factory=list)
    # Which rung of the evidence ladder decided (regbench.report.decide.evidence.KINDS; "mixed" over a case set), and
    # the sentence that says so.
    evidence: str = "truth"
    decided_by: str = ""
    spread_tolerance: float | None = None  # the spread over seeds above which a solver is unstable
    # Each judged run's value (run key → the error or evidence value; NaN: none), to pick the runs to draw
    run_values: dict[str, float] = field(default_factory=dict)
    # The answer: one strategy, and the rule that picked it among the recommended (CHOICE_RULE)
    chosen: str | None = None
    why_chosen: str = ""
    # Whether the chosen strategy's median error is within the tolerance (None: the evidence has no physical
    # tolerance, labels or truth-free): a strategy is never "used" as a registration when it did not register
    registered: bool | None = None

    def candidate(self, solver: str) -> Candidate:
        return next(c for c in self.candidates if c.solver == solver)


CHOICE_RULE = "the lowest failure rate, then the shortest median time"


def choose(rec: Recommendation) -> None:
    """Pick the one strategy to use: with at least :data:`MIN_EQUIVALENCE_INSTANCES` instances, the recommended
    (practically equivalent) strategy with :data:`CHOICE_RULE`; with fewer, the best (lowest median error), since
    no two strategies are called equivalent there."""
    if rec.best is None:
        rec.chosen, rec.why_chosen = None, ""
        return
    _choose(rec)
    chosen = rec.candidate(rec.chosen) if rec.chosen is not None else None
    limit = rec.tolerance if rec.unit == "case units" else 1.0  # over a case set errors are in tolerances
    if chosen is not None and rec.evidence in SPATIAL_EVIDENCE and limit is not None:
        rec.registered = bool(chosen.median_error <= limit)


#: The evidence whose tolerance is a distance: a strategy registered when its median error is within it.
SPATIAL_EVIDENCE = ("truth", "landmarks", "simulated")


def _choose(rec: Recommendation) -> None:
    if rec.n_instances >= MIN_EQUIVALENCE_INSTANCES and len(rec.recommended) > 1:
        pick = min(
            (rec.candidate(s) for s in rec.recommended),
            key=lambda c: (c.failure_rate, np.nan_to_num(c.median_time_s, nan=np.inf), c.median_error),
        )
        rec.chosen = pick.solver
        rec.why_chosen = f"{CHOICE_RULE} among the {len(rec.recommended)} practically equivalent strategies"
    else:
        rec.chosen = rec.best
        rec.why_chosen = "the lowest median error" + (
            f" (fewer than {MIN_EQUIVALENCE_INSTANCES} instances: none is called equivalent to it)"
            if rec.n_instances < MIN_EQUIVALENCE_INSTANCES
            else ""
        )


def fmt(value: float) -> str:
    if not np.isfinite(value):
        return "failed" if value == np.inf else "–"
    return f"{value:.3g}"


def _instances(n: int) -> str:
    return f"{n} instance{'s' if n != 1 else ''}"


def verdict(rec: Recommendation) -> list[str]:
    """The answer in words, first line first: what to use and why, then the evidence behind it."""
    if rec.best is None:
        return [f"{rec.scope}: no run of a strategy other than a demonstration finished: nothing to recommend."]
    if rec.chosen is None:
        choose(rec)
    assert rec.chosen is not None
    unit = "" if rec.unit == "case units" else " tolerances"
    chosen = rec.candidate(rec.chosen)
    what = (
        f"use {rec.chosen}"
        if rec.registered is not False
        else f"no strategy registered (none ended within the tolerance); the closest is {rec.chosen}"
    )
    lines = [
        f"{rec.scope}: {what} (median {rec.error} {fmt(chosen.median_error)}{unit} over "
        f"{_instances(chosen.instances)}; chosen by {rec.why_chosen}); {rec.tolerance_note}."
    ]
    if rec.decided_by:
        lines.append(rec.decided_by[0].upper() + rec.decided_by[1:] + ".")
    if np.isfinite(chosen.spread):
        limit = rec.spread_tolerance
        stable = limit is None or chosen.spread <= limit
        lines.append(
            f"{rec.chosen}'s results spread {chosen.spread:.3g} over seeds"
            + (f" ({'within' if stable else 'beyond'} the tolerance {limit:g})" if limit else "")
            + ("." if stable else ": every strategy is unstable here; trust none of them without more evidence.")
        )
    others = [s for s in rec.recommended if s != rec.chosen]
    if rec.n_instances < MIN_EQUIVALENCE_INSTANCES:
        if others:
            lines.append(
                f"Also within the tolerance: {', '.join(others)}; too few instances ({rec.n_instances} < "
                f"{MIN_EQUIVALENCE_INSTANCES}) to call them equivalent: run more seeds."
            )
    elif others:
        best_note = f" (the lowest median error: {rec.best})" if rec.best != rec.chosen else ""
        lines.append(f"Practically equivalent (within the tolerance){best_note}: {', '.join(others)}.")
        for other in others:  # the tests were run against the best
            lines.append(_pair_text(rec, other if other != rec.best else rec.chosen))
        tested = [rec.pvalues.get((a, b)) for a in rec.recommended for b in rec.recommended if a < b]
        if all(p is not None and p >= SIGNIFICANCE for p in tested):
            lines.append(
                f"{', '.join(rec.recommended)} are statistically indistinguishable here (Wilcoxon–Holm): {rec.chosen} "
                f"is chosen among them by {CHOICE_RULE}."
            )
    else:
        lines.append("No other strategy is within the tolerance of the best without failing or folding more.")
    demos = [c.solver for c in rec.candidates if not c.eligible]
    if demos:
        lines.append("Shown but never recommended (demonstrations of a failure): " + ", ".join(demos) + ".")
    return lines


def _pair_text(rec: Recommendation, other: str) -> str:
    """The paired tests of the best against ``other`` (only from MIN_EQUIVALENCE_INSTANCES instances on)."""
    p = rec.pvalues.get((rec.best, other)) if rec.best else None
    probs = rec.bayes.get(other)
    if p is None:
        test = f"too few instances for a Wilcoxon test (fewer than {MIN_PAIRS})"
    elif p >= SIGNIFICANCE:
        test = f"not significantly different (Wilcoxon–Holm p = {p:.2g})"
    else:
        test = f"significantly different (Wilcoxon–Holm p = {p:.2g}) but by less than the tolerance"
    if probs is not None:
        test += f"; P(practically equivalent, ROPE ± 1 tolerance) = {probs[1]:.2f}"
        if probs[1] >= EQUIVALENT:
            test += ": practically the same"
    return f"{rec.best} vs {other}: {test}."


def group_labels(rec: Recommendation) -> dict[str, str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out: dict[str, str] = {}
    for k, group in enumerate(rec.groups):
        for solver in group:
            out[solver] = out.get(solver, "") + letters[k % 26]
    return out
