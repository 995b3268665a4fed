"""Statistics from the runs' anytime curves: first-hit times, ERT, runtime ECDFs with bootstrap bands,
fixed-budget values and the area under the anytime curve (definitions: docs/reports.md, "Anytime statistics").

Every run's curve (:class:`regbench.report.runs.Curve`) is put on the scale its targets judge
(:func:`judged_curves`): the ground-truth error in the case's units where the case has truth, else the relative
dense-metric gap of :func:`regbench.report.stats.relative_gap`. A run reaches a target at the first point of its
curve at or below it, **whatever its outcome** (COCO counts the first hit: a run that later diverges did get
there); the end-of-run success rates (:mod:`regbench.report.stats`) stay outcome-based. Points are the trace's
kept positions (a geometric schedule), so a first-hit time is an upper bound at the schedule's resolution.

A run without a curve for the judged measure (recorded before regbench kept anytime curves, failed before it
returned, or judged by a measure the curve lacks: ``error_p95``, landmark TRE) gets a two-point curve: its start
at time 0, then its final value when it returned (none if it never did). Its first hit is then the end of the
run: the definition of the statistics before anytime curves.

As in :mod:`regbench.report.stats`, a solver's runs on one instance are combined by their median before anything
is counted over instances, and no computation lets a floating-point warning through.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from regbench.report.instances import Instances, group_median, instances, run_counts, solvers_of
from regbench.report.runs import Runs
from regbench.report.stats import (
    ERROR_TARGETS,
    RELATIVE_TARGETS,
    Profile,
    charged_time,
    error_column,
    ert,
    gap_reference,
    median,
    performance_profile,
    quality,
)

#: Targets as fractions of the instance's initial error (or, without truth, of the dense-metric gap).
RELATIVE_FRACTIONS = (0.5, 0.1, 0.01, 0.001)
#: Fixed budgets, as fractions of the instance's reference budget (the longest solver's run on it).
BUDGET_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
BOOTSTRAP_RESAMPLES = 200
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0
#: The area under the anytime curve is taken over this many decades of time below the reference budget.
AUC_DECADES = 3.0
#: Error measures the anytime curve records (the others fall back to the two-point curve).
CURVE_MEASURES = ("error_mean", "error_mean_fg")
#: Per error measure, the recorded initial value that relative targets are fractions of.
INITIAL_OF = {
    "error_mean": "initial_error_mean",
    "error_p95": "initial_error_mean",
    "error_max": "initial_error_mean",
    "error_mean_fg": "initial_error_mean_fg",
    "error_p95_fg": "initial_error_mean_fg",
    "error_max_fg": "initial_error_mean_fg",
    "tre_mean": "initial_tre_mean",
    "tre_p95": "initial_tre_mean",
    "tre_max": "initial_tre_mean",
}
INF = float("inf")


@dataclass
class Judged:
    """Every run's anytime curve on its judged scale, concatenated: run r's points are ``offsets[r]:offsets[r+1]``."""

    error: str
    offsets: np.ndarray  # (runs + 1,)
    time_s: np.ndarray  # (points,) seconds since the run started
    iterations: np.ndarray  # (points,) iteration events so far
    value: np.ndarray  # (points,) the judged value, NaN where a position was not evaluated
    end_s: np.ndarray  # (runs,) when the run's last execution ended: an unsuccessful run is charged this
    end_iterations: np.ndarray  # (runs,)
    initial: np.ndarray  # (runs,) the instance's start on the judged scale (its initial error, or gap 1)
    has_truth: np.ndarray  # (runs,)
    from_curve: np.ndarray  # (runs,) the points are the run's anytime curve (else the two-point stand-in)
    returned: np.ndarray  # (runs,) status ok: the run returned a transform

    def points(self, run: int) -> slice:
        return slice(self.offsets[run], self.offsets[run + 1])

    @property
    def without_curve(self) -> int:
        return int((~self.from_curve).sum())

    def note(self) -> str:
        """A caption line on the runs judged without an anytime curve ("" when every run has one)."""
        if not self.without_curve:
            return ""
        return (
            f"{self.without_curve} of {self.from_curve.size} runs have no anytime curve for {self.error} (older "
            "records, runs that failed before returning, or a measure the curve does not record): they count as "
            "holding their start until they returned, so their first hit is the end of the run"
        )


def _instance_median(runs: Runs, values: np.ndarray) -> np.ndarray:
    """Per run, the median of ``values`` over its instance's runs."""
    found = instances(runs)
    return group_median(found.index, values, len(found))[found.index]


def judged_curves(runs: Runs, error: str = "error_mean") -> Judged:
    """The runs' anytime curves on the scale :func:`~regbench.report.stats.quality` judges (cached on ``runs``)."""
    key = f"judged:{error}"
    if key in runs._cache:
        return runs._cache[key]
    final, has_truth = quality(runs, error)
    stand_in = set(error_column(runs, error).stand_in_cases)
    best, span = gap_reference(runs)
    initial_name = INITIAL_OF.get(error, "initial_error_mean")
    initial_error = runs[initial_name].copy()
    if stand_in:  # a case measured by the stand-in starts at the stand-in's initial value
        other = "initial_tre_mean" if initial_name != "initial_tre_mean" else "initial_error_mean"
        on_stand_in = np.isin(runs["case"].astype(str), list(stand_in))
        initial_error[on_stand_in] = runs[other][on_stand_in]
    initial = np.where(has_truth, _instance_median(runs, initial_error), 1.0)
    charged = charged_time(runs)
    ok = np.asarray(runs["status"] == "ok", dtype=bool)
    cases = runs["case"].tolist()
    curve_column = error if error in CURVE_MEASURES else None
    times, iters, values, counts = [], [], [], np.zeros(len(runs), dtype=np.int64)
    end_s, end_it = charged.copy(), runs["iterations"].copy()
    from_curve = np.zeros(len(runs), dtype=bool)
    for r, curve in enumerate(runs["anytime"].tolist()):
        v = None
        if len(curve):
            if has_truth[r] and curve_column is not None and cases[r] not in stand_in:
                v = getattr(curve, curve_column)
            elif not has_truth[r] and np.isfinite(span[r]):
                with np.errstate(all="ignore"):  # a no-overlap value (DBL_MAX) over a small span: inf, kept
                    v = (curve.dense_metric - best[r]) / span[r]
            if v is not None and np.isnan(v).all():
                v = None
        if v is not None:
            from_curve[r] = True
            times.append(curve.time_s)
            iters.append(curve.iterations)
            values.append(v)
            counts[r] = v.size
            end_s[r], end_it[r] = curve.time_s[-1], curve.iterations[-1]
            continue
        # the two-point stand-in: the start, and the final value when the run returned
        returned = ok[r] and not np.isnan(final[r])
        times.append(np.array([0.0, charged[r]] if returned else [0.0]))
        iters.append(np.array([0.0, end_it[r]] if returned else [0.0]))
        values.append(np.array([initial[r], final[r]] if returned else [initial[r]]))
        counts[r] = 2 if returned else 1
    offsets = np.concatenate([[0], np.cumsum(counts)])
    cat = (lambda parts: np.concatenate(parts).astype(float)) if len(runs) else (lambda parts: np.zeros(0))
    judged = Judged(
        error, offsets, cat(times), cat(iters), cat(values), end_s, end_it, initial, has_truth, from_curve, ok
    )
    runs._cache[key] = judged
    return judged


# -- targets and first hits ---------------------------------------------------------------------------------------


@dataclass
class Targets:
    """One set of targets: per instance its limit on the judged scale (NaN: undefined, e.g. no initial error)."""

    name: str  # "absolute" (the case's units) or "relative" (to the initial error)
    labels: list[str]
    limits: np.ndarray  # (instances × targets)

    @property
    def n(self) -> int:
        return len(self.labels)


def absolute_targets(runs: Runs, judged: Judged) -> Targets:
    """8 … 0.25 in the case's units on cases with truth; the gaps 1e-1 … 1e-6 on cases without."""
    truth = _per_instance(runs, judged.has_truth)
    limits = np.where(truth[:, None], np.asarray(ERROR_TARGETS)[None, :], np.asarray(RELATIVE_TARGETS)[None, :])
    if truth.all():
        labels = [f"{t:g}" for t in ERROR_TARGETS]
    else:
        labels = [f"{t:g} / {g:g}" for t, g in zip(ERROR_TARGETS, RELATIVE_TARGETS, strict=True)]
    return Targets("absolute", labels, limits)


def relative_targets(runs: Runs, judged: Judged, fractions=RELATIVE_FRACTIONS) -> Targets:
    """Fractions of the instance's initial error (truth), or of its dense-metric gap (no truth: gap ≤ fraction)."""
    start = _per_instance(runs, judged.initial.astype(float))
    limits = np.asarray(fractions)[None, :] * start[:, None]
    return Targets("relative", [f"{100 * f:g}%" for f in fractions], limits)


def _per_instance(runs: Runs, values: np.ndarray) -> np.ndarray:
    """Per instance, a value that every run of the instance shares (its case's truth, its initial error)."""
    out = np.empty(len(instances(runs)), dtype=values.dtype)
    out[instances(runs).index] = values
    return out


def first_hits(judged: Judged, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, iterations) per run × target of the first point at or below the run's limit; inf where never.

    ``limits`` is (runs × targets). Times within a run never decrease, so the first hit is the smallest hit time.
    """
    n_runs, n_targets = limits.shape
    counts = np.diff(judged.offsets)
    owner = np.repeat(np.arange(n_runs), counts)
    with np.errstate(invalid="ignore"):
        hit = judged.value[:, None] <= limits[owner]
    time = np.full((n_runs, n_targets), INF)
    iters = np.full((n_runs, n_targets), INF)
    some = counts > 0
    if some.any() and judged.value.size:
        starts = judged.offsets[:-1][some]
        time[some] = np.minimum.reduceat(np.where(hit, judged.time_s[:, None], INF), starts, axis=0)
        iters[some] = np.minimum.reduceat(np.where(hit, judged.iterations[:, None], INF), starts, axis=0)
    return time, iters


@dataclass
class HitTimes:
    """First-hit times per instance × solver × target: the median over the solver's runs on the instance (a run
    that never reached the target counts as ∞, so most of them must reach it); NaN where it has no run."""

    targets: Targets
    solvers: list[str]
    instances: Instances
    runs: np.ndarray  # (instances × solvers)
    time: np.ndarray  # (instances × solvers × targets) seconds; inf: not reached
    iterations: np.ndarray  # (instances × solvers × targets)
    full: np.ndarray  # (instances × solvers) median time the runs ended
    trivial: np.ndarray  # (instances × targets) the start already meets the target: left out everywhere
    note: str = ""

    @property
    def counted(self) -> np.ndarray:
        """(instances × targets): the pairs that count: a defined target the start does not already meet."""
        return np.isfinite(self.targets.limits) & ~self.trivial

    @property
    def hits(self) -> np.ndarray:
        return np.isfinite(self.time)

    def cost(self) -> np.ndarray:
        """(instances × solvers × targets): the first-hit time where reached, else the full time (COCO)."""
        return np.where(self.hits, self.time, self.full[:, :, None])


def hit_times(runs: Runs, error: str = "error_mean", kind: str = "absolute") -> HitTimes:
    """First-hit times on every instance for the ``kind`` targets ("absolute" or "relative")."""
    judged = judged_curves(runs, error)
    targets = absolute_targets(runs, judged) if kind == "absolute" else relative_targets(runs, judged)
    found = instances(runs)
    solvers, column = solvers_of(runs)
    time, iters = first_hits(judged, targets.limits[found.index])
    codes = column * len(found) + found.index
    size = len(solvers) * len(found)

    def matrix(values: np.ndarray) -> np.ndarray:
        return group_median(codes, values, size).reshape(len(solvers), len(found)).T

    with np.errstate(invalid="ignore"):
        trivial = _per_instance(runs, judged.initial.astype(float))[:, None] <= targets.limits
    return HitTimes(
        targets,
        solvers,
        found,
        run_counts(runs),
        np.stack([matrix(time[:, t]) for t in range(targets.n)], axis=2),
        np.stack([matrix(iters[:, t]) for t in range(targets.n)], axis=2),
        matrix(judged.end_s),
        trivial,
        judged.note(),
    )


# -- ERT --------------------------------------------------------------------------------------------------------


@dataclass
class ErtRow:
    solver: str
    case: str | None  # None: pooled over cases
    target: int
    label: str
    n: int  # instances with this target counted (run by the solver, target defined, not met at the start)
    successes: int
    ert_s: float
    median_hit_s: float  # median first-hit time of the instances that reached it
    median_hit_share: float  # median first-hit time / the run's full time, over those instances
    median_hit_iterations: float


def ert_rows(hits: HitTimes, by_case: bool = True) -> list[ErtRow]:
    """COCO's ERT per solver (× case) × target: Σ over instances of the first-hit time (successful) or the full
    time (unsuccessful), over the number of successes; ∞ when none."""
    cases = hits.instances.case
    out = []
    groups = sorted(set(cases.tolist())) if by_case else [None]
    counted = hits.counted
    for j, solver in enumerate(hits.solvers):
        ran = hits.runs[:, j] > 0
        for case in groups:
            rows = ran & (cases == case) if case is not None else ran
            if not rows.any():
                continue
            for t in range(hits.targets.n):
                use = rows & counted[:, t]
                time, full = hits.time[use, j, t], hits.full[use, j]
                won = np.isfinite(time)
                with np.errstate(all="ignore"):
                    share = time[won] / full[won]
                out.append(
                    ErtRow(
                        solver,
                        case,
                        t,
                        hits.targets.labels[t],
                        int(use.sum()),
                        int(won.sum()),
                        ert(np.where(won, time, full), won) if use.any() else float("nan"),
                        median(time[won]),
                        median(share[np.isfinite(share)]),
                        median(hits.iterations[use, j, t][won]),
                    )
                )
    return out


# -- runtime ECDFs ----------------------------------------------------------------------------------------------


@dataclass
class RuntimeEcdf:
    """Runtime ECDF of one solver over its counted (instance, target) pairs, with a bootstrap band on ``grid``."""

    label: str
    runtimes: np.ndarray  # sorted first-hit times of the solved pairs
    n: int  # pairs counted
    instances: int
    grid: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def fraction(self, t: float | np.ndarray) -> np.ndarray:
        return np.searchsorted(self.runtimes, t, side="right") / max(self.n, 1)


def runtime_ecdfs(
    hits: HitTimes,
    virtual_best: bool = True,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
    grid_points: int = 120,
) -> list[RuntimeEcdf]:
    """Per solver over the instances it ran, plus the virtual best solver (per pair, the fastest first hit of any
    solver) over every instance. Bands: the ``confidence`` interval of the fraction at each grid time over
    ``resamples`` bootstrap resamples of the instances (seeded: the same store draws the same band)."""
    counted = hits.counted
    finite = hits.time[np.isfinite(hits.time) & counted[:, None, :]]
    positive = finite[finite > 0]
    low_t = positive.min() / 1.5 if positive.size else 1e-3
    biggest = np.finfo(float).max
    with np.errstate(all="ignore"):  # a time of DBL_MAX (a hand-made record) must not overflow the grid
        high_t = min(max(positive.max() * 1.5 if positive.size else 1.0, low_t * 10), biggest)
        grid = np.minimum(np.geomspace(low_t, high_t, grid_points), biggest)
    rng = np.random.default_rng(seed)
    columns = [(solver, hits.runs[:, j] > 0, hits.time[:, j, :]) for j, solver in enumerate(hits.solvers)]
    if virtual_best and len(hits.solvers) > 1:
        ran = hits.runs > 0
        best = np.where(ran[:, :, None], hits.time, INF).min(axis=1)
        columns.append(("virtual best", ran.any(axis=1), best))
    out = []
    for label, rows, time in columns:
        time, use = time[rows], counted[rows]
        solved = np.where(use, time, INF)
        runtimes = np.sort(solved[np.isfinite(solved)])
        pairs = use.sum(axis=1).astype(float)  # per instance
        within = (solved[:, :, None] <= grid[None, None, :]).sum(axis=1).astype(float)  # instances × grid
        n = int(pairs.sum())
        if rows.sum() and n:
            weights = rng.multinomial(int(rows.sum()), np.full(int(rows.sum()), 1.0 / rows.sum()), size=resamples)
            with np.errstate(all="ignore"):
                fractions = (weights @ within) / (weights @ pairs)[:, None]
            tail = (1 - confidence) / 2
            low, high = np.nanquantile(fractions, [tail, 1 - tail], axis=0)
        else:
            low = high = np.zeros(grid.size)
        out.append(RuntimeEcdf(label, runtimes, n, int(rows.sum()), grid, low, high))
    return out


def first_hit_profile(hits: HitTimes, target: int) -> Profile:
    """Dolan–Moré profile of the first-hit time of one target over instances; not reaching it is a failure."""
    cost = np.where(hits.runs > 0, hits.time[:, :, target], INF)
    keep = hits.counted[:, target]
    return Profile(hits.solvers, performance_profile(cost[keep]))


# -- fixed budget and area under the curve ----------------------------------------------------------------------


def values_at(judged: Judged, run: int, at: np.ndarray, axis: str = "time") -> np.ndarray:
    """The run's value at each budget in ``at``: the value of its last point at or before it (the position it
    held: what stopping it there would return), unevaluated points skipped; after the run ended, what it returned.
    """
    points = judged.points(run)
    x = (judged.time_s if axis == "time" else judged.iterations)[points]
    v = judged.value[points]
    known = ~np.isnan(v)
    x, v = x[known], v[known]
    if not v.size:
        return np.full(np.shape(at), np.nan)
    index = np.searchsorted(x, at, side="right") - 1
    return np.where(index >= 0, v[np.clip(index, 0, None)], np.nan)


def auc_of(judged: Judged, run: int, window: tuple[float, float]) -> float:
    """The time average of the relative value (value / the instance's initial, or the gap) on a log-time window:
    (1 / log(T1/T0)) ∫ r(t) d log t over [T0, T1], r carried forward between points. 1: no progress over the
    window; 0: the answer at T0; above 1: worse than the start."""
    lo, hi = window
    points = judged.points(run)
    t, v = judged.time_s[points], judged.value[points]
    known = ~np.isnan(v)
    t, v = t[known], v[known]
    if not v.size or not (hi > lo > 0) or not judged.initial[run] > 0:
        return float("nan")
    r = v / judged.initial[run] if judged.has_truth[run] else v
    left = np.clip(t, lo, hi)
    right = np.clip(np.append(t[1:], hi), lo, hi)
    with np.errstate(all="ignore"):
        widths = np.log(right) - np.log(left)
        return float(np.sum(np.where(widths > 0, r * widths, 0.0)) / np.log(hi / lo))


@dataclass
class FixedBudget:
    """The judged value each solver held at fixed budgets on each instance (median over its runs there).

    Budgets are ``fractions`` of the instance's reference: the longest any solver ran on it (each solver its
    median run), in seconds (``axis="time"``) or iterations. ``relative`` divides by the instance's initial error
    (the gap is already relative), so it pools across cases. ``auc`` (time axis only) is :func:`auc_of` on
    ``[reference · 10^-AUC_DECADES, reference]``, ∞-free: a run without a value is left out.
    """

    axis: str
    fractions: tuple[float, ...]
    solvers: list[str]
    instances: Instances
    runs: np.ndarray  # (instances × solvers)
    reference: np.ndarray  # (instances,)
    value: np.ndarray  # (instances × solvers × fractions)
    relative: np.ndarray  # (instances × solvers × fractions)
    auc: np.ndarray  # (instances × solvers)
    has_truth: np.ndarray  # (instances,)


def _longest(matrix: np.ndarray) -> np.ndarray:
    """Per row, the largest value that is not NaN (NaN where there is none)."""
    if not matrix.size:
        return np.full(matrix.shape[0], np.nan)
    top = np.where(np.isnan(matrix), -np.inf, matrix).max(axis=1)
    return np.where(np.isfinite(top), top, np.nan)


def fixed_budget(runs: Runs, error: str = "error_mean", axis: str = "time", fractions=BUDGET_FRACTIONS) -> FixedBudget:
    judged = judged_curves(runs, error)
    found = instances(runs)
    solvers, column = solvers_of(runs)
    codes = column * len(found) + found.index
    size = len(solvers) * len(found)

    def matrix(values: np.ndarray) -> np.ndarray:
        return group_median(codes, values, size).reshape(len(solvers), len(found)).T

    ends = judged.end_s if axis == "time" else judged.end_iterations
    reference = _longest(matrix(np.where(judged.returned, ends, np.nan)))
    # an instance where no run returned: the longest of all (a timeout's limit must not set the others' budget)
    reference = np.where(np.isnan(reference), _longest(matrix(ends)), reference)
    budgets = reference[found.index][:, None] * np.asarray(fractions)[None, :]
    per_run = np.stack([values_at(judged, r, budgets[r], axis) for r in range(len(runs))]) if len(runs) else None
    scale = np.where(judged.has_truth, judged.initial, 1.0)
    with np.errstate(all="ignore"):
        relative = per_run / scale[:, None] if per_run is not None else None
    auc = np.full(len(runs), np.nan)
    if axis == "time":
        for r in range(len(runs)):
            top = reference[found.index[r]]
            auc[r] = auc_of(judged, r, (top * 10**-AUC_DECADES, top))
    shape = (len(found), len(solvers), len(fractions))
    value = np.stack([matrix(per_run[:, f]) for f in range(len(fractions))], axis=2) if len(runs) else np.zeros(shape)
    rel = np.stack([matrix(relative[:, f]) for f in range(len(fractions))], axis=2) if len(runs) else np.zeros(shape)
    return FixedBudget(
        axis,
        tuple(fractions),
        solvers,
        found,
        run_counts(runs),
        reference,
        value,
        rel,
        matrix(auc),
        _per_instance(runs, judged.has_truth),
    )


def quantiles(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """25th, 50th and 75th percentiles skipping NaN (NaN where there is nothing), without warnings."""
    values = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        # np.percentile is many times faster than nanpercentile: use it when there is nothing to skip
        percentile = np.nanpercentile if np.isnan(values).any() else np.percentile
        low, mid, high = percentile(values, [25, 50, 75], axis=axis)
    return low, mid, high


# -- per-case anytime profiles (the error-vs-time figure) ----------------------------------------------------------

#: At most this many strategies per error-vs-time figure: those with the lowest median AUC on the case.
MAX_PROFILE_LINES = 8


def shown_solvers(budget: FixedBudget, case: str, limit: int = MAX_PROFILE_LINES) -> tuple[list[str], list[str]]:
    """The solvers an error-vs-time figure of ``case`` draws (the ``limit`` with the lowest median AUC over the
    case's instances, best first; no AUC last, then by name) and those it leaves out."""
    rows = budget.instances.case == case
    scored = []
    for j, solver in enumerate(budget.solvers):
        ran = rows & (budget.runs[:, j] > 0)
        if not ran.any():
            continue
        values = budget.auc[ran, j]
        values = values[~np.isnan(values)]
        scored.append((0 if values.size else 1, float(np.median(values)) if values.size else 0.0, solver))
    ranked = [solver for *_, solver in sorted(scored)]
    return ranked[:limit], ranked[limit:]


@dataclass
class CaseProfile:
    """One solver's anytime curves on one case: the median and quartiles over instances, on a common grid."""

    solver: str
    low: np.ndarray
    mid: np.ndarray
    high: np.ndarray
    instances: int
    runs: int
    end: float  # median (over instances) of when the runs ended, on the grid's axis


@dataclass
class CaseProfiles:
    case: str
    axis: str  # "time" (seconds since the run started) or "iterations"
    grid: np.ndarray
    profiles: list[CaseProfile]
    has_truth: bool
    without_curve: int  # runs on the case drawn from the two-point stand-in


def case_profiles(
    runs: Runs, case: str, error: str = "error_mean", axis: str = "time", solvers=None, points: int = 200
) -> CaseProfiles:
    """The anytime curves of ``solvers`` (default: every solver on the case) on ``case``, evaluated on a common
    log-spaced grid (the value each run held at each grid point, carried forward; after a run ended, what it
    returned), combined per instance (median over its runs), then the 25/50/75% over instances."""
    judged = judged_curves(runs, error)
    found = instances(runs)
    rows = np.flatnonzero(runs["case"] == case)
    x = judged.time_s if axis == "time" else judged.iterations
    ends = judged.end_s if axis == "time" else judged.end_iterations
    mine = np.concatenate([x[judged.points(r)] for r in rows]) if rows.size else np.zeros(0)
    positive = mine[mine > 0]
    left = positive.min() / 1.2 if positive.size else (1e-3 if axis == "time" else 1.0)
    returned = rows[judged.returned[rows]]  # a timeout's time limit must not stretch the axis
    finite = ends[returned][np.isfinite(ends[returned])]
    grid = np.geomspace(left, max(finite.max() if finite.size else 0.0, left * 10), points)
    if solvers is None:
        solvers = sorted(set(runs.solver[rows].tolist()))
    profiles = []
    for solver in solvers:
        chosen = rows[runs.solver[rows] == solver]
        if not chosen.size:
            continue
        per_run = np.stack([values_at(judged, r, grid, axis) for r in chosen])
        inst = found.index[chosen]
        groups = [inst == i for i in np.unique(inst)]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an instance without any value: NaN, expected
            matrix = np.stack([np.nanmedian(per_run[g], axis=0) for g in groups])
            end = np.nanmedian([np.nanmedian(ends[chosen][g]) for g in groups])
        low, mid, high = quantiles(matrix, axis=0)
        profiles.append(CaseProfile(solver, low, mid, high, len(groups), int(chosen.size), float(end)))
    return CaseProfiles(
        case,
        axis,
        grid,
        profiles,
        bool(judged.has_truth[rows].any()) if rows.size else False,
        int((~judged.from_curve[rows]).sum()),
    )
