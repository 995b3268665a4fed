"""Statistics across cases × seeds (definitions: docs/reports.md and the benchmarking reference).

Everything works on :class:`~regbench.report.runs.Runs` columns with numpy. An *instance* is a (case, seed)
pair; a *solver* is a strategy (with its varying parameters). Failures are never dropped: a run that did not
finish ``ok``, or has no quality value, is unsuccessful at every target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from regbench.report.runs import Runs

# Targets on the ground-truth error, in the case's physical units (mm or px).
ERROR_TARGETS = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)
# Targets on the relative dense-metric gap (Moré & Wild) for cases without ground truth: as many as above, so
# every case weighs the same in the runtime ECDF.
RELATIVE_TARGETS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def worst30(values: np.ndarray) -> float:
    """The worst-30% quantile of an error (lower is better): the 70th percentile, NaN when empty."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.quantile(values, 0.7)) if values.size else float("nan")


def median(values: np.ndarray) -> float:
    """The median, NaN when empty; computed as a + (b − a)/2 so two no-overlap values (DBL_MAX) do not
    overflow to infinity."""
    values = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    if not values.size:
        return float("nan")
    low, high = values[(values.size - 1) // 2], values[values.size // 2]
    return float(low + (high - low) / 2)


# The stand-in for an accuracy measure on cases that lack it: a case with landmarks and no truth transform has
# only the landmark TRE, and one with a truth transform and no landmarks only the error field.
STAND_INS = {
    "error_mean": "tre_mean",
    "error_p95": "tre_p95",
    "error_max": "tre_max",
    "error_mean_fg": "tre_mean",
    "error_p95_fg": "tre_p95",
    "error_max_fg": "tre_max",
    "tre_mean": "error_mean",
    "tre_p95": "error_p95",
    "tre_max": "error_max",
}


@dataclass
class ErrorColumn:
    """The accuracy value of every run: ``name`` where its case has it, else ``stand_in`` (on ``stand_in_cases``)."""

    name: str
    values: np.ndarray
    stand_in: str | None = None
    stand_in_cases: tuple[str, ...] = ()

    def note(self) -> str:
        """Caption text naming the cases measured by the stand-in (empty when there are none)."""
        if not self.stand_in_cases:
            return ""
        cases = ", ".join(self.stand_in_cases[:5]) + (", ..." if len(self.stand_in_cases) > 5 else "")
        return f"{self.stand_in} stands in for {self.name} on cases without it ({cases})"


def error_column(runs: Runs, error: str = "error_mean") -> ErrorColumn:
    """``error`` per run; on a case where no run has it, its stand-in (:data:`STAND_INS`) where some run has that."""
    values = runs[error].copy()
    stand_in = STAND_INS.get(error)
    if stand_in is None or not len(runs):
        return ErrorColumn(error, values)
    other, used = runs[stand_in], []
    for case in np.unique(runs["case"].astype(str)):
        rows = runs["case"] == case
        if np.all(np.isnan(values[rows])) and not np.all(np.isnan(other[rows])):
            values[rows] = other[rows]
            used.append(case)
    return ErrorColumn(error, values, stand_in, tuple(used))


def quality(runs: Runs, error: str = "error_mean") -> tuple[np.ndarray, np.ndarray]:
    """Per run: the value judged against targets, and whether it is a ground-truth error (else relative gap).

    Cases where some run has ``error`` (or its stand-in, see :func:`error_column`): that error. Other cases: the
    Moré–Wild relative gap ``(f − f_best) / (f0 − f_best)`` of the dense final metric, with ``f_best`` the best
    dense value any run reached on the case and ``f0`` the case's dense initial value (median over its runs).
    """
    values = error_column(runs, error).values
    has_truth = np.zeros(len(runs), dtype=bool)
    dense, start = runs["final_metric_dense"], runs["initial_metric_dense"]
    for case in np.unique(runs["case"].astype(str)):
        rows = runs["case"] == case
        if not np.all(np.isnan(values[rows])):
            has_truth[rows] = True
            continue
        best, f0 = np.nanmin(dense[rows], initial=np.inf), median(start[rows])
        span = f0 - best
        values[rows] = (dense[rows] - best) / span if np.isfinite(span) and span > 0 else np.nan
    return values, has_truth


def solved(runs: Runs, error: str = "error_mean", targets=ERROR_TARGETS, relative=RELATIVE_TARGETS) -> np.ndarray:
    """Boolean (runs × targets): run ok and its quality at or below target j (truth or relative, per case)."""
    values, has_truth = quality(runs, error)
    limits = np.where(has_truth[:, None], np.asarray(targets)[None, :], np.asarray(relative)[None, :])
    ok = (runs["status"] == "ok")[:, None]
    with np.errstate(invalid="ignore"):
        return ok & (values[:, None] <= limits)


def charged_time(runs: Runs) -> np.ndarray:
    """Wall time per run; a run without one (died before timing) is charged the slowest time on its case."""
    time = runs["wall_time_s"].copy()
    for case in np.unique(runs["case"][np.isnan(time)].astype(str)):
        rows = runs["case"] == case
        time[rows & np.isnan(time)] = np.nanmax(time[rows], initial=0.0)
    return time


@dataclass
class SuccessRate:
    solver: str
    target: int  # index into the targets
    n: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")


def success_rates(runs: Runs, hits: np.ndarray) -> list[SuccessRate]:
    """Fraction of runs (cases × seeds) of each solver that reached each target."""
    out = []
    for solver in sorted(set(runs.solver)):
        rows = runs.solver == solver
        counts = hits[rows].sum(axis=0)
        out.extend(SuccessRate(solver, j, int(rows.sum()), int(c)) for j, c in enumerate(counts))
    return out


def ert(times: np.ndarray, success: np.ndarray) -> float:
    """Expected running time: the time of all runs (failures in full) over the number of successes; inf if none.

    Successful runs count their full wall time: records trace the metric, not the error, so the moment a run
    first met an error target is unknown, and the full time is an upper bound of it.
    """
    times, success = np.asarray(times, dtype=float), np.asarray(success, dtype=bool)
    wins = int(success.sum())
    return float(times.sum() / wins) if wins else float("inf")


@dataclass
class ErtRow:
    solver: str
    case: str
    target: int
    n: int
    successes: int
    ert_s: float


def ert_table(runs: Runs, hits: np.ndarray) -> list[ErtRow]:
    time = charged_time(runs)
    out = []
    for solver in sorted(set(runs.solver)):
        for case in sorted(set(runs["case"][runs.solver == solver])):
            rows = (runs.solver == solver) & (runs["case"] == case)
            for j in range(hits.shape[1]):
                wins = int(hits[rows, j].sum())
                out.append(ErtRow(solver, case, j, int(rows.sum()), wins, ert(time[rows], hits[rows, j])))
    return out


@dataclass
class Ecdf:
    """Runtime ECDF of one solver: sorted runtimes of the solved (instance, target) pairs, out of ``n`` pairs."""

    label: str
    runtimes: np.ndarray
    n: int

    def fraction(self, t: float | np.ndarray) -> np.ndarray:
        return np.searchsorted(self.runtimes, t, side="right") / max(self.n, 1)


def runtime_ecdfs(runs: Runs, hits: np.ndarray, virtual_best: bool = True) -> list[Ecdf]:
    """Per solver, over its (case, seed, target) triples; plus the virtual best solver over all instances.

    The virtual best solver takes, for each (case, seed, target), the shortest time of any solver that reached it.
    """
    time = charged_time(runs)
    out = []
    for solver in sorted(set(runs.solver)):
        rows = runs.solver == solver
        solved_times = np.broadcast_to(time[rows, None], hits[rows].shape)[hits[rows]]
        out.append(Ecdf(solver, np.sort(solved_times), int(hits[rows].size)))
    if virtual_best and len(out) > 1:
        instances, index = instance_index(runs)
        best = np.full((len(instances), hits.shape[1]), np.inf)
        cost = np.where(hits, time[:, None], np.inf)
        np.minimum.at(best, index, cost)
        out.append(Ecdf("virtual best", np.sort(best[np.isfinite(best)]), int(best.size)))
    return out


def instance_index(runs: Runs) -> tuple[list[tuple[str, int]], np.ndarray]:
    """The distinct (case, seed) instances and, per run, its instance number."""
    keys = list(zip(runs["case"].tolist(), runs["seed"].tolist(), strict=True))
    instances = sorted(set(keys), key=lambda k: (str(k[0]), k[1]))
    lookup = {k: i for i, k in enumerate(instances)}
    return instances, np.array([lookup[k] for k in keys], dtype=np.int64)


def instance_matrix(runs: Runs, values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(instances × solvers) of ``values``; NaN where a solver has no run; a repeated run: the last one counts."""
    solvers = sorted(set(runs.solver))
    instances, index = instance_index(runs)
    column = {s: j for j, s in enumerate(solvers)}
    matrix = np.full((len(instances), len(solvers)), np.nan)
    matrix[index, [column[s] for s in runs.solver]] = values
    return solvers, matrix


@dataclass
class Profile:
    """Dolan–Moré performance profile: ``ratios[p, s]`` = cost / best cost on problem p (inf for a failure)."""

    solvers: list[str]
    ratios: np.ndarray

    @property
    def n(self) -> int:
        return self.ratios.shape[0]

    def fractions(self, taus: np.ndarray) -> np.ndarray:
        """ρ_s(τ): fraction of problems with ratio ≤ τ, shape (solvers × taus)."""
        ordered = np.sort(self.ratios, axis=0)
        counts = [np.searchsorted(ordered[:, j], taus, side="right") for j in range(len(self.solvers))]
        return np.stack(counts) / max(self.n, 1)

    def max_ratio(self) -> float:
        finite = self.ratios[np.isfinite(self.ratios)]
        return float(finite.max()) if finite.size else 1.0


def performance_profile(costs: np.ndarray) -> np.ndarray:
    """Ratios r(p,s) = t(p,s) / min_s t(p,s) from (problems × solvers) costs; NaN or inf cost = failure (inf).

    A problem no solver solved gives inf for every solver: it counts against all of them.
    """
    costs = np.where(np.isnan(costs), np.inf, np.asarray(costs, dtype=float))
    best = costs.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(np.isfinite(costs), costs / np.where(best > 0, best, np.nan), np.inf)
    # a zero best cost (error exactly 0): equal zeros are ratio 1, anything above is infinitely worse
    zero = best[:, 0] == 0
    ratios[zero] = np.where(costs[zero] == 0, 1.0, np.inf)
    return ratios


def time_profile(runs: Runs, hits_at_target: np.ndarray) -> Profile:
    """Profile of wall time to reach one target over instances (case, seed); not reaching it is a failure."""
    cost = np.where(hits_at_target, charged_time(runs), np.inf)
    solvers, matrix = instance_matrix(runs, cost)
    return Profile(solvers, performance_profile(matrix))


def quality_profile(runs: Runs, values: np.ndarray) -> Profile:
    """Profile of the final error (or relative gap) over instances; a run not ``ok`` or without it fails."""
    cost = np.where(runs["status"] == "ok", values, np.inf)
    solvers, matrix = instance_matrix(runs, cost)
    return Profile(solvers, performance_profile(matrix))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN and does not count towards the number of tests)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def rank_biserial(differences: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation: (R+ − R−) / (R+ + R−) over the ranks of |d|, zeros dropped.

    +1: the first of the pair is larger on every instance; −1: smaller on every instance.
    """
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return float("nan")
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = sps.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


@dataclass
class PairTest:
    """Paired Wilcoxon signed-rank test of solver ``a`` against ``b`` on one measure, across instances."""

    a: str
    b: str
    measure: str
    n: int  # instances where both have a value
    n_missing: int  # instances where one or both have none (failed run, or no run): not tested
    median_difference: float  # median of a − b
    p: float
    p_holm: float
    rank_biserial: float


def paired_tests(runs: Runs, measure: str, values: np.ndarray | None = None) -> list[PairTest]:
    """Every pair of solvers, tested on the instances both have a value for; Holm-corrected within a measure.

    An error measure uses its stand-in on cases without it (:func:`error_column`), unless ``values`` are given.
    """
    values = error_column(runs, measure).values if values is None else values
    values = np.where(runs["status"] == "ok", values, np.nan)
    solvers, matrix = instance_matrix(runs, values)
    tests = []
    for i, a in enumerate(solvers):
        for j in range(i + 1, len(solvers)):
            both = ~np.isnan(matrix[:, i]) & ~np.isnan(matrix[:, j])
            present = ~np.isnan(matrix[:, i]) | ~np.isnan(matrix[:, j])
            d = matrix[both, i] - matrix[both, j]
            tests.append(
                PairTest(
                    a,
                    solvers[j],
                    measure,
                    int(both.sum()),
                    int((present & ~both).sum()),
                    median(d),
                    _wilcoxon_p(d),
                    float("nan"),
                    rank_biserial(d),
                )
            )
    for test, adjusted in zip(tests, holm(np.array([t.p for t in tests])), strict=True):
        test.p_holm = float(adjusted)
    return tests


def _wilcoxon_p(d: np.ndarray) -> float:
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return float("nan") if d.size == 0 else 1.0
    return float(sps.wilcoxon(nonzero).pvalue)
