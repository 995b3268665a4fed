"""Which strategy to use: the strategies best within a tolerance in physical units, with the evidence.

Per case and over a set of cases (definitions: docs/recommend.md):

- Every solver's error on every instance (:mod:`regbench.report.instances`: a solver's runs on one instance
  combined into their median). A run that did not return a transform counts as an infinite error: failures are
  never dropped.
- The **tolerance** per case, in the case's physical units: ``--tolerance`` or, by default, half the smallest voxel
  spacing of the case's fixed image (:func:`regbench.report.recommend_inputs.case_tolerances`; 0.5 where the case
  cannot be loaded here).
- The **best** solver is the eligible one (not a demonstration of a failure, :attr:`regbench.strategy.Strategy.
  demonstrates`) with the lowest median error over the instances; the **recommended** ones are the eligible solvers
  whose median error is within the tolerance of the best's, that fail no more often than the best and never fold
  beyond :data:`regbench.outcomes.MAX_FOLDING_FRACTION`. Over a case set, a solver's error on an instance is
  measured in tolerances (error / the case's tolerance), so cases of different scales weigh the same.
- The evidence: mean ranks over instances (Friedman), critical-difference groups from Wilcoxon signed-rank tests
  with Holm's correction (solvers in one group are not significantly different), a Bayesian signed-rank test
  (`baycomp <https://github.com/janezd/baycomp>`_) of the best against each other solver with a region of practical
  equivalence (ROPE) of one tolerance, and a win matrix: on how many instances the row solver beats the column
  solver by more than the tolerance.

This module ranks the strategies and concludes (the verdict in words); the tables and the JSON are in
:mod:`regbench.report.recommend_tables`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from regbench.outcomes import MAX_FOLDING_FRACTION
from regbench.report.instances import executed, instance_matrix, instances, succeeded
from regbench.report.pairs import MIN_PAIRS, SIGNIFICANCE, _wilcoxon, holm
from regbench.report.recommend_inputs import DEFAULT_TOLERANCE, case_tolerances, demonstrations
from regbench.report.runs import Runs
from regbench.report.stats import error_column, median

BAYES_SAMPLES = 20000
BAYES_SEED = 0
# P(practically equivalent) above which two solvers are called practically the same
EQUIVALENT = 0.95


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
    best: str | None
    recommended: list[str]
    groups: list[list[str]]  # critical-difference groups (by mean rank)
    pvalues: dict[tuple[str, str], float | None]  # Holm-adjusted Wilcoxon
    bayes: dict[str, tuple[float, float, float]]  # other → (P(best better), P(equivalent), P(other better))
    wins: np.ndarray  # (solvers × solvers) instances where row beats column by more than the tolerance
    n_instances: int
    verdict: list[str] = field(default_factory=list)
    # Which rung of the evidence ladder decided (regbench.report.evidence.KINDS; "mixed" over a case set), and the
    # sentence that says so.
    evidence: str = "truth"
    decided_by: str = ""
    spread_tolerance: float | None = None  # the spread over seeds above which a solver is unstable
    # Each judged run's value (run key → the error or evidence value; NaN: none), to pick the runs to draw
    run_values: dict[str, float] = field(default_factory=dict)

    def candidate(self, solver: str) -> Candidate:
        return next(c for c in self.candidates if c.solver == solver)


def _bayes(d: np.ndarray) -> tuple[float, float, float] | None:
    """(P(d < −1), P(|d| ≤ 1), P(d > 1)) of paired differences d in tolerances, by baycomp's signed-rank test."""
    d = d[np.isfinite(d)]
    if d.size < 2:
        return None
    try:
        import baycomp
    except ImportError:
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if np.all(np.abs(d) <= 1e-12):
            return 0.0, 1.0, 0.0
        np.random.seed(BAYES_SEED)  # baycomp samples with numpy's global generator: reproducible reports
        # baycomp.SignedRankTest.probs(x, y): (P(x > y), rope, P(x < y)) on x − y
        worse, rope, better = baycomp.SignedRankTest.probs(d, np.zeros_like(d), rope=1.0, nsamples=BAYES_SAMPLES)
    return float(better), float(rope), float(worse)


def recommend(
    runs: Runs,
    error: str = "error_mean",
    tolerances: dict[str, tuple[float, str]] | None = None,
    scope: str | None = None,
    demonstrated: dict[str, str] | None = None,
    values: np.ndarray | None = None,
    spreads: dict[str, float] | None = None,
    spread_tolerance: float | None = None,
) -> Recommendation:
    """The recommendation over ``runs`` (one case, or several: ``scope`` names it).

    ``values`` (per run, lower is better) replace the ``error`` column: another rung of the evidence ladder
    (:mod:`regbench.report.evidence`), in the units ``tolerances`` are given in. ``spreads`` (per solver, physical
    units) with ``spread_tolerance``: a solver whose results spread over seeds beyond it is not recommended."""
    cases = sorted({str(c) for c in runs["case"].tolist()})
    tolerances = tolerances if tolerances is not None else case_tolerances(cases, runs=runs)
    demonstrated = demonstrations() if demonstrated is None else demonstrated
    values = error_column(runs, error).values if values is None else np.asarray(values, dtype=float)
    values = np.where(executed(runs), values, np.inf)
    values = np.where(np.isnan(values) & ~succeeded(runs), np.inf, values)
    solvers, matrix = instance_matrix(runs, values)
    found = instances(runs)
    tol = np.array([tolerances.get(str(c), (DEFAULT_TOLERANCE, ""))[0] for c in found.case.tolist()])
    single = len(cases) == 1
    scaled = matrix if single else matrix / tol[:, None]
    unit_tol = np.full(len(found), tol[0]) if single else np.ones(len(found))
    n_inst = len(found)

    # mean ranks over instances where every solver has a value (NaN: no run, skipped)
    complete = ~np.isnan(scaled).any(axis=1)
    ranks = np.full(len(solvers), np.nan)
    if complete.any():
        with np.errstate(all="ignore"):
            ranks = sps.rankdata(np.nan_to_num(scaled[complete], posinf=np.finfo(float).max), axis=1).mean(axis=0)

    strategy_of = {str(s): str(st) for s, st in zip(runs.solver.tolist(), runs["strategy"].tolist(), strict=True)}
    ok = succeeded(runs)
    candidates = []
    for j, solver in enumerate(solvers):
        mine = runs.solver == solver
        column = scaled[:, j]
        have = ~np.isnan(column)
        folding = runs["folding_fraction"][mine]
        candidates.append(
            Candidate(
                solver=solver,
                demonstrates=demonstrated.get(strategy_of.get(solver, solver)),
                instances=int(have.sum()),
                median_error=median(column[have]) if have.any() else float("nan"),
                mean_rank=float(ranks[j]),
                failure_rate=float(1 - ok[mine].mean()) if mine.any() else float("nan"),
                folding_max=float(np.nanmax(folding)) if np.isfinite(folding).any() else float("nan"),
                median_time_s=median(runs["wall_time_s"][mine]),
                spread=(spreads or {}).get(solver, float("nan")),
                inverse_consistency=median(runs["inverse_consistency_mean"][mine]),
            )
        )

    eligible = [c for c in candidates if c.eligible and np.isfinite(c.median_error)]

    def folds(c: Candidate) -> bool:
        return bool(np.isfinite(c.folding_max) and c.folding_max > MAX_FOLDING_FRACTION)

    def unstable(c: Candidate) -> bool:
        """Truth-free evidence against it: its results spread over seeds, or the reverse run disagrees."""
        limit = spread_tolerance
        return limit is not None and any(np.isfinite(v) and v > limit for v in (c.spread, c.inverse_consistency))

    # the best: lowest median error among the eligible, a folding (or unstable) solver only when every one is
    best = min(
        eligible,
        key=lambda c: (folds(c), unstable(c), c.median_error, c.failure_rate, c.median_time_s),
        default=None,
    )
    limit = (best.median_error + unit_tol[0]) if best is not None else np.nan
    for c in candidates:
        c.within_tolerance = bool(best is not None and c.median_error <= limit)
        if not c.eligible:
            c.why_not = "a demonstration: " + (c.demonstrates or "")
        elif not c.within_tolerance:
            c.why_not = "error beyond the tolerance of the best"
        elif best is not None and c.failure_rate > best.failure_rate:
            c.why_not = "fails more often than the best"
        elif folds(c) and c is not best:
            c.why_not = "folds"
        elif unstable(c) and np.isfinite(c.spread) and c.spread > spread_tolerance:
            c.why_not = f"unstable: its results spread {c.spread:.3g} over seeds (more than {spread_tolerance:g})"
        elif unstable(c):
            c.why_not = (
                f"inverse-inconsistent: moving onto fixed gives another answer ({c.inverse_consistency:.3g}, more than "
                f"{spread_tolerance:g})"
            )
        else:
            c.recommended = True

    # paired tests: Wilcoxon–Holm for every pair, then critical-difference groups by mean rank
    index = {s: j for j, s in enumerate(solvers)}
    pairs, raw = [], []
    for i in range(len(solvers)):
        for j in range(i + 1, len(solvers)):
            both = ~np.isnan(scaled[:, i]) & ~np.isnan(scaled[:, j])
            with np.errstate(all="ignore"):
                d = scaled[both, i] - scaled[both, j]
            d = np.where(scaled[both, i] == scaled[both, j], 0.0, d)
            p, _, _ = _wilcoxon(d)
            pairs.append((solvers[i], solvers[j]))
            raw.append(np.nan if p is None else p)
    adjusted = holm(np.array(raw)) if raw else np.array([])
    pvalues: dict[tuple[str, str], float | None] = {}
    for (a, b), p in zip(pairs, adjusted, strict=True):
        pvalues[(a, b)] = pvalues[(b, a)] = None if np.isnan(p) else float(p)
    candidates.sort(key=lambda c: (np.nan_to_num(c.mean_rank, nan=np.inf), c.median_error))
    groups = _cd_groups([c.solver for c in candidates], pvalues)

    wins = np.zeros((len(solvers), len(solvers)), dtype=int)
    for i in range(len(solvers)):
        for j in range(len(solvers)):
            if i != j:
                with np.errstate(all="ignore"):
                    wins[i, j] = int(np.nansum(scaled[:, i] < scaled[:, j] - unit_tol))

    bayes = {}
    if best is not None:
        b = index[best.solver]
        for c in candidates:
            if c.solver == best.solver:
                continue
            j = index[c.solver]
            both = ~np.isnan(scaled[:, b]) & ~np.isnan(scaled[:, j])
            with np.errstate(all="ignore"):
                d = (scaled[both, b] - scaled[both, j]) / unit_tol[both]
            d = np.where(scaled[both, b] == scaled[both, j], 0.0, d)
            probs = _bayes(np.clip(np.nan_to_num(d, posinf=1e6, neginf=-1e6), -1e6, 1e6))
            if probs is not None:
                bayes[c.solver] = probs

    if single:
        t, note = tolerances.get(cases[0], (DEFAULT_TOLERANCE, "default"))
        unit, tolerance, note = "case units", t, f"tolerance {t:g} ({note})"
    else:
        unit, tolerance = "tolerances", None
        note = (
            "errors in tolerances (each case's own: "
            + ", ".join(f"{c} {tolerances.get(c, (DEFAULT_TOLERANCE, ''))[0]:g}" for c in cases[:4])
            + (", ..." if len(cases) > 4 else "")
            + ")"
        )
    rec = Recommendation(
        scope=scope or (cases[0] if single else "all cases"),
        cases=cases,
        error=error,
        unit=unit,
        tolerance=tolerance,
        tolerance_note=note,
        candidates=candidates,
        best=best.solver if best else None,
        recommended=[c.solver for c in candidates if c.recommended],
        groups=groups,
        pvalues=pvalues,
        bayes=bayes,
        wins=wins,
        n_instances=n_inst,
        spread_tolerance=spread_tolerance,
        run_values=dict(zip((str(k) for k in runs["key"].tolist()), values.tolist(), strict=True)),
    )
    rec.verdict = _verdict(rec, solvers)
    return rec


def _cd_groups(order: list[str], pvalues: dict[tuple[str, str], float | None]) -> list[list[str]]:
    """Maximal runs of consecutive solvers (by mean rank) of which no pair differs significantly (Holm-adjusted
    Wilcoxon p ≥ 0.05; an untested pair, with too few instances, joins no group); runs inside a longer one are
    dropped. Singletons are not groups."""
    groups: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
            (p := pvalues.get((order[k], order[j + 1]))) is not None and p >= SIGNIFICANCE for k in range(i, j + 1)
        ):
            j += 1
        if j > i and not any(set(order[i : j + 1]) <= set(g) for g in groups):
            groups.append(order[i : j + 1])
    return groups


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "failed" if value == np.inf else "–"
    return f"{value:.3g}"


def _verdict(rec: Recommendation, solvers: list[str]) -> list[str]:
    if rec.best is None:
        return [f"{rec.scope}: no run of a strategy other than a demonstration finished: nothing to recommend."]
    unit = "" if rec.unit == "case units" else " tolerances"
    best = rec.candidate(rec.best)
    lines = [
        f"{rec.scope}: best {rec.best} (median {rec.error} {_fmt(best.median_error)}{unit} over "
        f"{best.instances} instance{'s' if best.instances != 1 else ''}); {rec.tolerance_note}."
    ]
    if rec.decided_by:
        lines.append(rec.decided_by[0].upper() + rec.decided_by[1:] + ".")
    if np.isfinite(best.spread):
        limit = rec.spread_tolerance
        stable = limit is None or best.spread <= limit
        lines.append(
            f"{rec.best}'s results spread {best.spread:.3g} over seeds"
            + (
                f" ({'within' if stable else 'beyond'} the tolerance {rec.spread_tolerance:g})"
                if rec.spread_tolerance
                else ""
            )
            + ("." if stable else ": every strategy is unstable here; trust none of them without more evidence.")
        )
    others = [s for s in rec.recommended if s != rec.best]
    if others:
        lines.append("Within the tolerance of the best, and recommended as well: " + ", ".join(others) + ".")
    else:
        lines.append("No other strategy is within the tolerance of the best without failing or folding more.")
    for other in others:
        p = rec.pvalues.get((rec.best, other))
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
        lines.append(f"{rec.best} vs {other}: {test}.")
    if len(rec.recommended) > 1:
        tested = [rec.pvalues.get((a, b)) for a in rec.recommended for b in rec.recommended if a < b]
        names = ", ".join(rec.recommended)
        if all(p is not None and p >= SIGNIFICANCE for p in tested):
            lines.append(
                f"The recommended strategies ({names}) are statistically indistinguishable: choose by time or "
                "failure rate."
            )
        elif all(p is None or p >= SIGNIFICANCE for p in tested):
            lines.append(
                f"The recommended strategies ({names}) cannot be told apart here (no significant difference, some "
                f"pairs untested with fewer than {MIN_PAIRS} instances): choose by time or failure rate."
            )
    demos = [c.solver for c in rec.candidates if not c.eligible]
    if demos:
        lines.append("Shown but never recommended (demonstrations of a failure): " + ", ".join(demos) + ".")
    return lines


def _group_labels(rec: Recommendation) -> dict[str, str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out: dict[str, str] = {}
    for k, group in enumerate(rec.groups):
        for solver in group:
            out[solver] = out.get(solver, "") + letters[k % 26]
    return out
