"""The runs' anytime curves on the scale their targets judge, the targets and the first-hit times: what the
anytime statistics are computed from (ERT and runtime ECDFs with bootstrap bands:
:mod:`regbench.report.stats.anytime_ert`; fixed-budget values and the area under the anytime curve:
:mod:`regbench.report.stats.anytime_budget`; definitions: docs/reports.md, "Anytime statistics").

Every run's curve (:class:`regbench.report.load.columns.Curve`) is put on the scale its targets judge
(:func:`judged_curves`): the ground-truth error in the case's units where the case has truth, else the relative
dense-metric gap of :func:`regbench.report.stats.across_instances.relative_gap`. A run reaches a target at the first
point of its curve at or below it, **whatever its outcome** (COCO counts the first hit: a run that later diverges did
get there); the end-of-run success rates (:mod:`regbench.report.stats.across_instances`) stay outcome-based. Points are
the trace's kept positions (a geometric schedule), so a first-hit time is an upper bound at the schedule's resolution.

A run without a curve for the judged measure (recorded before regbench kept anytime curves, failed before it
returned, or judged by a measure the curve lacks: ``error_p95``, landmark TRE) gets a two-point curve: its start
at time 0, then its final value when it returned (none if it never did). Its first hit is then the end of the
run: the definition of the statistics before anytime curves.

As in :mod:`regbench.report.stats.across_instances`, a solver's runs on one instance are combined by their median before
anything is counted over instances, and no computation lets a floating-point warning through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report.load.columns import Runs
from regbench.report.load.instances import Instances, group_median, instances, run_counts, solvers_of
from regbench.report.stats.across_instances import (
    ERROR_TARGETS,
    RELATIVE_TARGETS,
    charged_time,
    error_column,
    gap_reference,
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
    """The runs' anytime curves on the scale :func:`~regbench.report.stats.across_instances.quality` judges (cached on
    ``runs``)."""
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
