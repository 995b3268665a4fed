"""Which strategy to use: the strategies best within a tolerance in physical units, with the evidence.

Per case and over a set of cases (definitions: docs/recommend.md):

- Every solver's error on every instance (:mod:`regbench.report.load.instances`: a solver's runs on one instance
  combined into their median). A run that did not return a transform counts as an infinite error: failures are
  never dropped.
- The **tolerance** per case, in the case's physical units: ``--tolerance`` or, by default, half the smallest voxel
  spacing of the case's fixed image (:func:`regbench.report.decide.inputs.case_tolerances`; 0.5 where the case
  cannot be loaded here).
- The **best** solver is the eligible one (not a demonstration of a failure, :attr:`regbench.strategy.Strategy.
  demonstrates`) with the lowest median error over the instances; the **recommended** ones are the eligible solvers
  whose median error is within the tolerance of the best's, that fail no more often than the best and never fold
  beyond :data:`regbench.evaluation.outcomes.MAX_FOLDING_FRACTION`. Over a case set, a solver's error on an instance is
  measured in tolerances (error / the case's tolerance), so cases of different scales weigh the same.
- The evidence: mean ranks over instances (Friedman), critical-difference groups from Wilcoxon signed-rank tests
  with Holm's correction (solvers in one group are not significantly different), a Bayesian signed-rank test
  (`baycomp <https://github.com/janezd/baycomp>`_) of the best against each other solver with a region of practical
  equivalence (ROPE) of one tolerance, and a win matrix: on how many instances the row solver beats the column
  solver by more than the tolerance.

This module ranks the strategies; the answer's data and words are in :mod:`regbench.report.decide.answer`, the tables
and the JSON in :mod:`regbench.report.text.recommend_tables`.
"""

from __future__ import annotations

import numpy as np

from regbench.evaluation.outcomes import MAX_FOLDING_FRACTION
from regbench.evaluation.tolerance import NO_PROGRESS_SHARE
from regbench.report.decide.answer import Candidate, Recommendation, choose, verdict
from regbench.report.decide.inputs import DEFAULT_TOLERANCE, case_tolerances, demonstrations, starts_of
from regbench.report.load.columns import Runs
from regbench.report.load.instances import executed, instance_matrix, instances, succeeded
from regbench.report.stats.across_instances import error_column, median
from regbench.report.stats.pairs import SIGNIFICANCE, _wilcoxon, average_ranks, holm
from regbench.report.stats.signed_rank import signed_rank_probs

BAYES_SAMPLES = 20000
BAYES_SEED = 0


def _bayes(d: np.ndarray) -> tuple[float, float, float] | None:
    """(P(d < −1), P(|d| ≤ 1), P(d > 1)) of paired differences d in tolerances, by baycomp's signed-rank test
    (:mod:`regbench.report.stats.signed_rank`: its numbers, in linear time a sample, drawn from a fixed seed so a
    report is reproducible; baycomp itself draws from the operating system's entropy)."""
    d = d[np.isfinite(d)]
    if d.size < 2:
        return None
    if np.all(np.abs(d) <= 1e-12):
        return 0.0, 1.0, 0.0
    # probs(x, y): (P(x > y), rope, P(x < y)) on x − y
    worse, rope, better = signed_rank_probs(d, np.zeros_like(d), 1.0, nsamples=BAYES_SAMPLES, random_state=BAYES_SEED)
    return better, rope, worse


def recommend(
    runs: Runs,
    error: str = "error_mean",
    tolerances: dict[str, tuple[float, str]] | None = None,
    scope: str | None = None,
    demonstrated: dict[str, str] | None = None,
    values: np.ndarray | None = None,
    spreads: dict[str, float] | None = None,
    spread_tolerance: float | None = None,
    initial_values: np.ndarray | None = None,
    with_bayes: bool = True,
) -> Recommendation:
    """The recommendation over ``runs`` (one case, or several: ``scope`` names it).

    ``values`` (per run, lower is better) replace the ``error`` column: another rung of the evidence ladder
    (:mod:`regbench.report.decide.evidence`), in the units ``tolerances`` are given in. ``spreads`` (per solver,
    physical units) with ``spread_tolerance``: a solver whose results spread over seeds beyond it is not recommended.
    ``initial_values`` (per run, the same measure at the start): a solver whose runs removed less than
    :data:`regbench.evaluation.tolerance.NO_PROGRESS_SHARE` of it made no progress and is never recommended; without
    them, the error column's starting counterpart (``initial_error_mean`` for ``error_mean``, ...) where it exists.
    ``with_bayes=False`` leaves out the Bayesian P(equivalent) (~0.3 s a case), which shows in the evidence but
    does not choose: the answer that ends ``regbench run`` needs none."""
    cases = sorted({str(c) for c in runs["case"].tolist()})
    tolerances = tolerances if tolerances is not None else case_tolerances(cases, runs=runs)
    demonstrated = demonstrations() if demonstrated is None else demonstrated
    values = error_column(runs, error).values if values is None else np.asarray(values, dtype=float)
    starts = starts_of(runs, error) if initial_values is None else np.asarray(initial_values, dtype=float)
    with np.errstate(all="ignore"):
        progress = np.where(starts > 0, (starts - values) / starts, np.nan)
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
            finite = np.nan_to_num(scaled[complete], posinf=np.finfo(float).max)
            ranks = np.array([average_ranks(row) for row in finite]).mean(axis=0)

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
                progress=median(progress[mine]),
                inverse_consistency=median(runs["inverse_consistency_mean"][mine]),
            )
        )

    eligible = [c for c in candidates if c.eligible and np.isfinite(c.median_error)]
    # compared on the instances they share: one that ran fewer instances than the others is never the best
    most = max((c.instances for c in eligible), default=0)

    def folds(c: Candidate) -> bool:
        return bool(np.isfinite(c.folding_max) and c.folding_max > MAX_FOLDING_FRACTION)

    def unstable(c: Candidate) -> bool:
        """Truth-free evidence against it: its results spread over seeds, or the reverse run disagrees."""
        limit = spread_tolerance
        return limit is not None and any(np.isfinite(v) and v > limit for v in (c.spread, c.inverse_consistency))

    def stalled(c: Candidate) -> bool:
        return bool(np.isfinite(c.progress) and c.progress < NO_PROGRESS_SHARE)

    def partial(c: Candidate) -> bool:
        return c.instances < most

    # the best: lowest median error among the eligible, one that folds, is unstable, made no progress or ran fewer
    # instances only when every one does
    best = min(
        eligible,
        key=lambda c: (partial(c), stalled(c), folds(c), unstable(c), c.median_error, c.failure_rate, c.median_time_s),
        default=None,
    )
    limit = (best.median_error + unit_tol[0]) if best is not None else np.nan
    for c in candidates:
        c.within_tolerance = bool(best is not None and c.median_error <= limit)
        if not c.eligible:
            c.why_not = "a demonstration: " + (c.demonstrates or "")
        elif partial(c):
            c.why_not = f"ran {c.instances} of the {most} instances the others ran"
        elif stalled(c):
            c.why_not = (
                f"no progress: its runs removed a median {100 * c.progress:.0f}% of the start's {error} (less than "
                f"{100 * NO_PROGRESS_SHARE:.0f}%)"
            )
        elif not c.within_tolerance:
            c.why_not = "error beyond the tolerance of the best"
        elif best is not None and c.failure_rate > best.failure_rate:
            c.why_not = "fails more often than the best"
        elif folds(c) and c is not best:
            c.why_not = "folds"
        elif unstable(c) and spread_tolerance is not None and np.isfinite(c.spread) and c.spread > spread_tolerance:
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
    if best is not None and with_bayes:
        k = index[best.solver]
        for c in candidates:
            if c.solver == best.solver:
                continue
            j = index[c.solver]
            both = ~np.isnan(scaled[:, k]) & ~np.isnan(scaled[:, j])
            with np.errstate(all="ignore"):
                d = (scaled[both, k] - scaled[both, j]) / unit_tol[both]
            d = np.where(scaled[both, k] == scaled[both, j], 0.0, d)
            probs = _bayes(np.clip(np.nan_to_num(d, posinf=1e6, neginf=-1e6), -1e6, 1e6))
            if probs is not None:
                bayes[c.solver] = probs

    if single:
        t, note = tolerances.get(cases[0], (DEFAULT_TOLERANCE, "default"))
        unit, tolerance, note = "case units", t, f"tolerance {t:.3g} ({note})"
    else:
        unit, tolerance = "tolerances", None
        note = (
            "errors in tolerances (each case's own: "
            + ", ".join(f"{c} {tolerances.get(c, (DEFAULT_TOLERANCE, ''))[0]:.3g}" for c in cases[:4])
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
    choose(rec)
    rec.verdict = verdict(rec)
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
