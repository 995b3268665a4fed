"""Statistics across instances (definitions: docs/reports.md and the benchmarking reference).

Everything works on :class:`~regbench.report.runs.Runs` columns with numpy. A *solver* is a strategy (with its
varying parameters). An *instance* is a distinct problem: the record's ``instance`` hash (the case definition,
the starting transform and, when the metric is sampled, the sampling seed), or ``(case, seed)`` for records that
predate it. Two seeds with the same instance are copies of one problem, and ``--repeat`` re-executions are
repeats of one run: neither is a new instance. Every statistic that counts instances (success rates, ERT,
ECDFs, profiles, paired tests) first combines a solver's runs on one instance into one value, their median.

Failures are never dropped: a run whose outcome is a failure (:mod:`regbench.outcomes`), or that has no quality
value, is unsuccessful at every target. No computation here lets a floating-point warning reach the terminal.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from regbench.outcomes import is_failure
from regbench.report.runs import Runs

# Targets on the ground-truth error, in the case's physical units (mm or px).
ERROR_TARGETS = (8.0, 4.0, 2.0, 1.0, 0.5, 0.25)
# Targets on the relative dense-metric gap (Moré & Wild) for cases without ground truth: as many as above, so
# every case weighs the same in the runtime ECDF.
RELATIVE_TARGETS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
# Below this many paired instances a signed-rank test is not run: with 5 pairs the smallest two-sided p-value
# possible is 2/32 = 0.0625, so no difference could ever be significant at 0.05.
MIN_PAIRS = 6
# Exact signed-rank p-values up to this many pairs when there are no ties or zero differences (scipy's own
# limit); otherwise the normal approximation with tie correction and Pratt's zero handling, never a slow
# permutation test.
EXACT_MAX_PAIRS = 50
SIGNIFICANCE = 0.05


def worst30(values: np.ndarray) -> float:
    """The worst-30% quantile of an error (lower is better): the 70th percentile, NaN when empty."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size:
        return float("nan")
    with np.errstate(all="ignore"):  # interpolating between DBL_MAX values must not warn
        return float(np.quantile(values, 0.7))


def _midpoint(low, high):
    # low/2 + high/2: two no-overlap values (DBL_MAX) do not overflow, and equal values give themselves
    with np.errstate(all="ignore"):
        return np.where(low == high, low, np.asarray(low) / 2 + np.asarray(high) / 2)


def median(values: np.ndarray) -> float:
    """The median, NaN when empty; the midpoint of the two middle values is computed so that two no-overlap
    values (DBL_MAX) do not overflow to infinity."""
    values = np.asarray(values, dtype=float)
    values = np.sort(values[~np.isnan(values)])
    if not values.size:
        return float("nan")
    return float(_midpoint(values[(values.size - 1) // 2], values[values.size // 2]))


def group_median(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """The median of ``values`` per group (``codes[i]`` is run i's group): NaN values skipped, NaN for a group
    without any value. Vectorized (one sort), so 10,000 runs cost milliseconds."""
    codes, values = np.asarray(codes, dtype=np.int64), np.asarray(values, dtype=float)
    out = np.full(n_groups, np.nan)
    valid = ~np.isnan(values)
    codes, values = codes[valid], values[valid]
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    low = values[starts[has] + (counts[has] - 1) // 2]
    high = values[starts[has] + counts[has] // 2]
    out[has] = _midpoint(low, high)
    return out


def succeeded(runs: Runs) -> np.ndarray:
    """Per run: its outcome is not a failure (:func:`regbench.outcomes.is_failure`, the one vocabulary)."""
    return np.array([not is_failure(o) for o in runs["outcome"].tolist()], dtype=bool)


def executed(runs: Runs) -> np.ndarray:
    """Per run: status ``ok`` (it returned a transform), whatever its outcome."""
    return np.asarray(runs["status"] == "ok", dtype=bool)


# -- instances -----------------------------------------------------------------------------------------------


@dataclass
class Instances:
    """The distinct problems of a set of runs, and which (case, seed) pairs are copies of one another."""

    labels: list[str]  # one per instance: "case seed s" (its lowest seed) or "case seeds s, t" for copies
    case: np.ndarray  # (instances,) the case of each instance
    index: np.ndarray  # (runs,) the instance of every run
    pairs: int  # distinct (case, seed) pairs
    # per case: (first seed, [seeds repeating its problem]) for every instance with more than one seed
    copies: dict[str, list[tuple[int, list[int]]]] = field(default_factory=dict)
    unknown: int = 0  # runs without an instance id, keyed by (case, seed) instead

    def __len__(self) -> int:
        return len(self.labels)

    def summary(self) -> str:
        """How many distinct instances, in a few words: for titles and captions."""
        counted = f"{len(self)} distinct instance" + ("" if len(self) == 1 else "s")
        if len(self) == self.pairs:
            return counted
        return f"{counted} of {self.pairs} case–seed pairs"

    def warning(self) -> str:
        """A line for the console and captions when seeds are copies ("" when every seed is its own instance)."""
        if not self.copies:
            return ""
        by_pattern: dict[str, list[str]] = defaultdict(list)
        for case, groups in sorted(self.copies.items()):
            pattern = "; ".join(_repeats(first, others) for first, others in groups)
            by_pattern[pattern].append(case)
        parts = []
        for pattern, cases in sorted(by_pattern.items(), key=lambda kv: -len(kv[1]))[:3]:
            shown = ", ".join(cases[:4]) + (f" and {len(cases) - 4} more" if len(cases) > 4 else "")
            parts.append(f"{pattern} on {'case' if len(cases) == 1 else 'cases'} {shown}")
        more = len(by_pattern) - 3
        return (
            f"{self.pairs} (case, seed) pairs are {len(self)} distinct instances: "
            + "; ".join(parts)
            + (f"; and {more} other pattern{'s' if more > 1 else ''}" if more > 0 else "")
            + ". Each instance counts once (a solver's runs on it: their median)."
        )


def _repeats(first: int, others: list[int]) -> str:
    seeds = ", ".join(str(s) for s in others)
    return f"seed{'s' if len(others) > 1 else ''} {seeds} repeat{'' if len(others) > 1 else 's'} seed {first}'s problem"


def instances(runs: Runs) -> Instances:
    """The distinct instances of ``runs`` (cached on them).

    A run keys on (case, instance id). A run without an id (an older record) takes the id of the other runs on
    its (case, seed) when they all agree on one, and otherwise keys on (case, seed): never a copy.
    """
    if "instances" in runs._cache:
        return runs._cache["instances"]
    cases = [str(c) for c in runs["case"].tolist()]
    seeds = runs["seed"].tolist()
    ids = runs.columns.get("instance", np.full(len(runs), None, dtype=object)).tolist()
    known: dict[tuple[str, int], set[str]] = defaultdict(set)
    for case, seed, ident in zip(cases, seeds, ids, strict=True):
        if ident is not None:
            known[(case, seed)].add(ident)
    keys, unknown = [], 0
    for case, seed, ident in zip(cases, seeds, ids, strict=True):
        if ident is None:
            unknown += 1
            agreed = known.get((case, seed), set())
            ident = next(iter(agreed)) if len(agreed) == 1 else None
        keys.append((case, ("id", ident) if ident is not None else ("seed", seed)))
    seeds_of: dict[tuple, set[int]] = defaultdict(set)
    for key, seed in zip(keys, seeds, strict=True):
        seeds_of[key].add(seed)
    ordered = sorted(seeds_of, key=lambda k: (k[0], min(seeds_of[k])))
    lookup = {k: i for i, k in enumerate(ordered)}
    labels, copies = [], defaultdict(list)
    for key in ordered:
        group = sorted(seeds_of[key])
        labels.append(f"{key[0]} seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))}")
        if len(group) > 1:
            copies[key[0]].append((group[0], group[1:]))
    result = Instances(
        labels=labels,
        case=np.array([k[0] for k in ordered], dtype=object),
        index=np.array([lookup[k] for k in keys], dtype=np.int64),
        pairs=len(set(zip(cases, seeds, strict=True))),
        copies=dict(copies),
        unknown=unknown,
    )
    runs._cache["instances"] = result
    return result


def instance_index(runs: Runs) -> tuple[list[str], np.ndarray]:
    """The distinct instances (their labels) and, per run, its instance number."""
    found = instances(runs)
    return found.labels, found.index


def solvers_of(runs: Runs) -> tuple[list[str], np.ndarray]:
    """The sorted solvers and each run's index into them."""
    return runs.codes("solver")


def instance_matrix(runs: Runs, values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(instances × solvers): the median of ``values`` over each solver's runs on each instance (repeats and
    copies combined; NaN values skipped); NaN where a solver has no run, or no value, on an instance."""
    solvers, column = solvers_of(runs)
    found = instances(runs)
    codes = column * len(found) + found.index
    matrix = group_median(codes, values, len(solvers) * len(found))
    return solvers, matrix.reshape(len(solvers), len(found)).T


def run_counts(runs: Runs) -> np.ndarray:
    """(instances × solvers): how many runs each solver has on each instance."""
    solvers, column = solvers_of(runs)
    found = instances(runs)
    counts = np.bincount(column * len(found) + found.index, minlength=len(solvers) * len(found))
    return counts.reshape(len(solvers), len(found)).T


def notes(runs: Runs) -> list[str]:
    """Console and caption lines that qualify every statistic: copies among the seeds, runs not known to be
    reproducible, repeats combined, records without instance ids."""
    found = instances(runs)
    out = []
    if found.copies:
        out.append(found.warning())
    if found.unknown:
        out.append(
            f"{found.unknown} runs have no instance id (recorded before regbench kept one): they are keyed by "
            "(case, seed), so copies among their seeds cannot be detected."
        )
    repeats = int((runs["repeat"] > 0).sum()) if "repeat" in runs.columns else 0
    if repeats:
        out.append(f"{repeats} runs are --repeat re-executions: combined with their key's other runs (median).")
    if "deterministic" in runs.columns:
        loose = int((runs["deterministic"] == 0).sum())
        if loose:
            out.append(
                f"{loose} runs are not reproducible (deterministic: false, e.g. Mattes MI with more than one "
                "ITK thread): the same key can give another result; `regbench run --repeat K` measures the spread."
            )
    return out


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
    is not worse than the best (no gap to close) or a value is missing; ``inf`` where a no-overlap value
    (SimpleITK's DBL_MAX) makes the gap overflow.
    """
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
    with np.errstate(all="ignore"):  # a no-overlap value (DBL_MAX) over a small span overflows to inf: kept
        span = f0 - best
        gap = (dense - best) / span
    return np.where(np.isfinite(span) & (span > 0) & ~np.isnan(gap), gap, np.nan)


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
    hits, out = results.hits, []
    for j, solver in enumerate(results.solvers):
        ran = results.runs[:, j] > 0
        counts = hits[ran, j].sum(axis=0)
        out.extend(SuccessRate(solver, t, int(ran.sum()), int(c)) for t, c in enumerate(counts))
    return out


def ert(times: np.ndarray, success: np.ndarray) -> float:
    """Expected running time: the time of all runs (failures in full) over the number of successes; inf if none.

    Successful runs count their full wall time: records trace the metric, not the error, so the moment a run
    first met an error target is unknown, and the full time is an upper bound of it.
    """
    times, success = np.asarray(times, dtype=float), np.asarray(success, dtype=bool)
    wins = int(success.sum())
    with np.errstate(all="ignore"):
        return float(times.sum() / wins) if wins else float("inf")


@dataclass
class ErtRow:
    solver: str
    case: str
    target: int
    n: int  # instances of the case the solver ran
    successes: int
    ert_s: float


def ert_table(results: InstanceResults) -> list[ErtRow]:
    """ERT per solver × case × target, over the case's instances (each its median time and value)."""
    hits, cases, out = results.hits, results.instances.case, []
    for j, solver in enumerate(results.solvers):
        ran = results.runs[:, j] > 0
        for case in sorted(set(cases[ran].tolist())):
            rows = ran & (cases == case)
            for t in range(results.n_targets):
                wins = int(hits[rows, j, t].sum())
                out.append(ErtRow(solver, case, t, int(rows.sum()), wins, ert(results.time[rows, j], hits[rows, j, t])))
    return out


@dataclass
class Ecdf:
    """Runtime ECDF of one solver: sorted runtimes of the solved (instance, target) pairs, out of ``n`` pairs."""

    label: str
    runtimes: np.ndarray
    n: int

    def fraction(self, t: float | np.ndarray) -> np.ndarray:
        return np.searchsorted(self.runtimes, t, side="right") / max(self.n, 1)


def runtime_ecdfs(results: InstanceResults, virtual_best: bool = True) -> list[Ecdf]:
    """Per solver, over the (instance, target) pairs of the instances it ran; plus the virtual best solver
    over all instances, which takes for each (instance, target) the shortest time of any solver that reached it."""
    hits, out = results.hits, []
    for j, solver in enumerate(results.solvers):
        ran = results.runs[:, j] > 0
        times = np.broadcast_to(results.time[ran, j, None], hits[ran, j].shape)[hits[ran, j]]
        out.append(Ecdf(solver, np.sort(times), int(ran.sum()) * results.n_targets))
    if virtual_best and len(out) > 1:
        cost = np.where(hits, results.time[:, :, None], np.inf)
        best = cost.min(axis=1)
        out.append(Ecdf("virtual best", np.sort(best[np.isfinite(best)]), int(best.size)))
    return out


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


def time_profile(results: InstanceResults, target: int) -> Profile:
    """Profile of wall time to reach one target over instances; not reaching it (or not running) is a failure."""
    cost = np.where(results.hits[:, :, target], results.time, np.inf)
    return Profile(results.solvers, performance_profile(cost))


def quality_profile(results: InstanceResults) -> Profile:
    """Profile of the final error (or relative gap) over instances; a failed or missing run fails."""
    return Profile(results.solvers, performance_profile(results.quality))


# -- paired tests ------------------------------------------------------------------------------------------------


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
    """Paired Wilcoxon signed-rank test of solver ``a`` against ``b`` on one measure, across instances.

    ``p``, ``p_holm`` and ``rank_biserial`` are None when no test was run; ``reason`` then says why.
    """

    a: str
    b: str
    measure: str
    n: int  # instances where both have a value
    n_missing: int  # instances where one of the two has none (failed run, or no run): not tested
    median_difference: float  # median of a − b
    p: float | None
    p_holm: float | None
    rank_biserial: float | None
    method: str = ""  # "exact", "normal approximation", or "" when not tested
    reason: str | None = None

    @property
    def tested(self) -> bool:
        return self.p is not None

    @property
    def significant(self) -> bool:
        return self.p_holm is not None and self.p_holm < SIGNIFICANCE


def paired_tests(runs: Runs, measure: str, values: np.ndarray | None = None) -> list[PairTest]:
    """Every pair of solvers, tested on the instances both have a value for; Holm-corrected within a measure.

    A solver's runs on one instance are combined first (median over its runs that executed, status ``ok``): a
    copy or a repeat is not a new pair. Pairs with fewer than :data:`MIN_PAIRS` instances are not tested. An
    error measure uses its stand-in on cases without it (:func:`error_column`), unless ``values`` are given.
    """
    values = error_column(runs, measure).values if values is None else np.asarray(values, dtype=float)
    values = np.where(executed(runs), values, np.nan)
    solvers, matrix = instance_matrix(runs, values)
    present = ~np.isnan(matrix)
    tests = []
    for i, a in enumerate(solvers):
        for j in range(i + 1, len(solvers)):
            both = present[:, i] & present[:, j]
            with np.errstate(all="ignore"):
                d = matrix[both, i] - matrix[both, j]
            d = np.where(matrix[both, i] == matrix[both, j], 0.0, d)  # equal infinities differ by 0, not NaN
            n = int(both.sum())
            p, method, reason = _wilcoxon(d)
            tests.append(
                PairTest(
                    a,
                    solvers[j],
                    measure,
                    n,
                    int((present[:, i] ^ present[:, j]).sum()),
                    median(d),
                    p,
                    None,
                    rank_biserial(d) if p is not None else None,
                    method,
                    reason,
                )
            )
    adjusted = holm(np.array([np.nan if t.p is None else t.p for t in tests]))
    for test, value in zip(tests, adjusted, strict=True):
        test.p_holm = None if np.isnan(value) else float(value)
    return tests


def _wilcoxon(d: np.ndarray) -> tuple[float | None, str, str | None]:
    """(p, method, reason not tested) of a two-sided signed-rank test of the paired differences ``d``."""
    n = d.size
    if n < MIN_PAIRS:
        return None, "", f"n = {n} < {MIN_PAIRS}: too few instances for a signed-rank test"
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return 1.0, "identical on every instance", None
    magnitudes = np.abs(nonzero)
    ties = np.unique(magnitudes).size < magnitudes.size
    exact = n <= EXACT_MAX_PAIRS and nonzero.size == n and not ties and np.all(np.isfinite(magnitudes))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # scipy's own notes on ties and zeros: the choice below handles them
        if exact:
            p = sps.wilcoxon(nonzero, method="exact").pvalue
        else:
            # Pratt: zeros are ranked, then dropped; the variance is corrected for zeros and ties
            p = sps.wilcoxon(np.nan_to_num(d), zero_method="pratt", method="asymptotic").pvalue
    p = float(p)
    if not np.isfinite(p):
        return None, "", "no usable differences"
    return min(p, 1.0), "exact" if exact else "normal approximation", None
