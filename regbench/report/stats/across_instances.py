"""Statistics across instances (definitions: docs/reports.md and the benchmarking reference).

Everything works on :class:`~regbench.report.load.columns.Runs` columns with numpy, over the instances of
:mod:`regbench.report.load.instances` (a solver's runs on one instance combined into their median): medians and
quantiles, accuracy columns and their stand-ins, the judged quality and its targets, end-of-run success rates,
the ERT formula and performance profiles. Statistics of *when* a target was first reached read the anytime
curves: first hits in :mod:`regbench.report.stats.anytime_curves`, ERT tables and runtime ECDFs in
:mod:`regbench.report.stats.anytime_ert`, fixed budgets in :mod:`regbench.report.stats.anytime_budget`. The paired tests
are in :mod:`regbench.report.stats.pairs`.

Failures are never dropped: a run whose outcome is a failure (:mod:`regbench.evaluation.outcomes`), or that has no
quality value, is unsuccessful at every target. No computation here lets a floating-point warning reach the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.evaluation.stops import NO_OVERLAP_VALUE
from regbench.report.load.columns import Runs
from regbench.report.load.instances import (
    Instances,
    group_median,
    instance_matrix,
    instances,
    midpoint,
    run_counts,
    succeeded,
)

# Targets on the ground-truth error, in the case's physical units (mm or px).
ERROR_TARGETS = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)
# Targets on the relative dense-metric gap (Moré & Wild) for cases without ground truth: as many as above, so
# every case weighs the same in the runtime ECDF.
RELATIVE_TARGETS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def worst30(values: np.ndarray) -> float:
    """The worst-30% quantile of an error (lower is better): the 70th percentile, NaN when empty."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size:
        return float("nan")
    with np.errstate(all="ignore"):  # interpolating between DBL_MAX values must not warn
        return float(np.quantile(values, 0.7))


def median(values: np.ndarray) -> float:
    """The median, NaN when empty; the midpoint of the two middle values is computed so that two no-overlap
    values (DBL_MAX) do not overflow to infinity."""
    values = np.asarray(values, dtype=float)
    values = np.sort(values[~np.isnan(values)])
    if not values.size:
        return float("nan")
    return float(midpoint(values[(values.size - 1) // 2], values[values.size // 2]))


# -- accuracy ------------------------------------------------------------------------------------------------

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

    @property
    def measure(self) -> str:
        """The stand-in's name where some case is measured by it, else ``name``."""
        return self.stand_in if self.stand_in is not None and self.stand_in_cases else self.name

    def note(self) -> str:
        """Caption text naming the cases measured by the stand-in (empty when there are none)."""
        if not self.stand_in_cases:
            return ""
        cases = ", ".join(self.stand_in_cases[:5]) + (", ..." if len(self.stand_in_cases) > 5 else "")
        return f"{self.stand_in} stands in for {self.name} on cases without it ({cases})"


def _any_per_case(runs: Runs, mask: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    names, code = runs.codes("case")
    return names, code, np.bincount(code, weights=mask.astype(float), minlength=len(names)) > 0


def error_column(runs: Runs, error: str = "error_mean") -> ErrorColumn:
    """``error`` per run; on a case where no run has it, its stand-in (:data:`STAND_INS`) where some run has that."""
    values = runs[error].copy()
    stand_in = STAND_INS.get(error)
    if stand_in is None or not len(runs):
        return ErrorColumn(error, values)
    other = runs[stand_in]
    names, code, has = _any_per_case(runs, ~np.isnan(values))
    _, _, other_has = _any_per_case(runs, ~np.isnan(other))
    use = ~has & other_has
    rows = use[code]
    values[rows] = other[rows]
    return ErrorColumn(error, values, stand_in, tuple(n for n, u in zip(names, use, strict=True) if u))


def relative_gap(runs: Runs) -> np.ndarray:
    """Per run, the Moré–Wild relative gap of its dense final metric: ``(f − f_best) / (f0 − f_best)``.

    ``f_best`` is the best dense value a *successful* run reached on the run's case (every run's when none
    succeeded: a no-overlap run can score a spuriously good metric on a sliver of the images), ``f0`` the dense
    initial value of the run's instance (median over its runs; the case's median where the instance has none).
    0 is the best any run reached, 1 no better than the start, negative better than the best successful run.
    Unit-free, so it can be pooled across cases and metrics (the raw dense metric cannot). NaN where the start
    is not worse than the best (no gap to close) or a value is missing; ``inf`` for a ``no_overlap`` run (its dense
    value is None, or SimpleITK's DBL_MAX in older stores: never a number like 1.87e+305 when the span is large).
    """
    best, span = gap_reference(runs)
    dense = runs["final_metric_dense"]
    no_overlap = (dense >= NO_OVERLAP_VALUE) | (np.isnan(dense) & np.asarray(runs["outcome"] == "no_overlap"))
    with np.errstate(all="ignore"):
        gap = np.where(no_overlap, np.inf, (dense - best) / span)
    return np.where(np.isfinite(span) & (span > 0) & ~np.isnan(gap), gap, np.nan)


def gap_reference(runs: Runs) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the ``f_best`` and the span ``f0 − f_best`` of :func:`relative_gap` (NaN span: no gap to close),
    so that any dense value of the run (a point of its anytime curve) can be put on the same scale."""
    dense, start = runs["final_metric_dense"], runs["initial_metric_dense"]
    names, code = runs.codes("case")
    good = succeeded(runs) & ~np.isnan(dense)
    best = np.full(len(names), np.inf)
    np.fmin.at(best, code[good], dense[good])
    fallback = np.full(len(names), np.inf)
    np.fmin.at(fallback, code, np.where(np.isnan(dense), np.inf, dense))
    best = np.where(np.isfinite(best), best, fallback)[code]
    found = instances(runs)
    f0 = group_median(found.index, start, len(found))[found.index]
    case_f0 = group_median(code, start, len(names))[code]
    f0 = np.where(np.isnan(f0), case_f0, f0)
    with np.errstate(all="ignore"):
        span = f0 - best
    return best, np.where(np.isfinite(span) & (span > 0), span, np.nan)


def quality(runs: Runs, error: str = "error_mean") -> tuple[np.ndarray, np.ndarray]:
    """Per run: the value judged against targets, and whether it is a ground-truth error (else relative gap).

    Cases where some run has ``error`` (or its stand-in, see :func:`error_column`): that error. Other cases: the
    relative gap of the dense final metric (:func:`relative_gap`).
    """
    values = error_column(runs, error).values
    _, code, truth = _any_per_case(runs, ~np.isnan(values))
    has_truth = truth[code] if len(runs) else np.zeros(0, dtype=bool)
    return np.where(has_truth, values, relative_gap(runs)), has_truth


def solved(runs: Runs, error: str = "error_mean", targets=ERROR_TARGETS, relative=RELATIVE_TARGETS) -> np.ndarray:
    """Boolean (runs × targets), per run: it succeeded and its quality is at or below target j."""
    values, has_truth = quality(runs, error)
    limits = np.where(has_truth[:, None], np.asarray(targets)[None, :], np.asarray(relative)[None, :])
    with np.errstate(invalid="ignore"):
        return succeeded(runs)[:, None] & (values[:, None] <= limits)


def charged_time(runs: Runs) -> np.ndarray:
    """Wall time per run; a run without one (died before timing) is charged the slowest time on its case."""
    time = runs["wall_time_s"].copy()
    missing = np.isnan(time)
    if missing.any():
        names, code = runs.codes("case")
        slowest = np.zeros(len(names))
        np.fmax.at(slowest, code, time)
        time[missing] = slowest[code[missing]]
    return time


# -- per instance ---------------------------------------------------------------------------------------------


@dataclass
class InstanceResults:
    """Every solver on every instance, one value per cell: the median over the solver's runs on the instance.

    ``quality`` is the judged value (error, or relative gap on cases without truth), ``inf`` for a failed run
    or one without a value, so that the median of a solver's runs on an instance fails when most of them did;
    NaN where the solver has no run on the instance. ``time`` is the median charged wall time.
    """

    solvers: list[str]
    instances: Instances
    runs: np.ndarray  # (instances × solvers) runs combined in each cell; 0: the solver did not run it
    quality: np.ndarray  # (instances × solvers)
    time: np.ndarray  # (instances × solvers)
    has_truth: np.ndarray  # (instances,)
    targets: np.ndarray  # (instances × targets): the error or the relative targets of each instance

    @property
    def n_targets(self) -> int:
        return self.targets.shape[1]

    @property
    def hits(self) -> np.ndarray:
        """(instances × solvers × targets): the combined value is at or below the target."""
        with np.errstate(invalid="ignore"):
            return self.quality[:, :, None] <= self.targets[:, None, :]


def instance_results(
    runs: Runs, error: str = "error_mean", targets=ERROR_TARGETS, relative=RELATIVE_TARGETS
) -> InstanceResults:
    values, has_truth = quality(runs, error)
    judged = np.where(succeeded(runs) & ~np.isnan(values), values, np.inf)
    solvers, matrix = instance_matrix(runs, judged)
    _, time = instance_matrix(runs, charged_time(runs))
    found = instances(runs)
    truth = np.zeros(len(found), dtype=bool)
    truth[found.index[has_truth]] = True
    limits = np.where(truth[:, None], np.asarray(targets)[None, :], np.asarray(relative)[None, :])
    return InstanceResults(solvers, found, run_counts(runs), matrix, time, truth, limits)


@dataclass
class SuccessRate:
    solver: str
    target: int  # index into the targets
    n: int  # instances the solver ran
    successes: int  # instances where it reached the target

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")


def success_rates(results: InstanceResults) -> list[SuccessRate]:
    """Fraction of the instances each solver ran on which it reached each target."""
    hits = results.hits
    out: list[SuccessRate] = []
    for j, solver in enumerate(results.solvers):
        ran = results.runs[:, j] > 0
        counts = hits[ran, j].sum(axis=0)
        out.extend(SuccessRate(solver, t, int(ran.sum()), int(c)) for t, c in enumerate(counts))
    return out


def ert(times: np.ndarray, success: np.ndarray) -> float:
    """Expected running time (COCO): the time of all runs over the number of successes; inf if none.

    ``times`` is, per run (or instance), the time it first reached the target where it did and its full time
    where it did not (:mod:`regbench.report.stats.anytime_curves` builds them from the anytime curves)."""
    times, success = np.asarray(times, dtype=float), np.asarray(success, dtype=bool)
    wins = int(success.sum())
    with np.errstate(all="ignore"):
        return float(times.sum() / wins) if wins else float("inf")


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
    with np.errstate(all="ignore"):
        ratios = np.where(np.isfinite(costs), costs / np.where(best > 0, best, np.nan), np.inf)
    ratios = np.where(np.isnan(ratios), np.inf, ratios)
    # a zero best cost (error exactly 0): equal zeros are ratio 1, anything above is infinitely worse
    zero = best[:, 0] == 0
    ratios[zero] = np.where(costs[zero] == 0, 1.0, np.inf)
    return ratios


def quality_profile(results: InstanceResults) -> Profile:
    """Profile of the final error (or relative gap) over instances; a failed or missing run fails."""
    return Profile(results.solvers, performance_profile(results.quality))
