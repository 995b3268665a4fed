"""Fixed-budget statistics of the runs' anytime curves: the judged value at a budget, the area under the
curve, and the per-case anytime profiles of the error-vs-time figure (curves from
:mod:`regbench.report.stats.anytime_curves`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from regbench.report.load.columns import Runs
from regbench.report.load.instances import Instances, group_median, instances, run_counts, solvers_of
from regbench.report.stats.anytime_curves import AUC_DECADES, BUDGET_FRACTIONS, Judged, _per_instance, judged_curves

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
    if len(runs):
        per_run = np.stack([values_at(judged, r, budgets[r], axis) for r in range(len(runs))])
    else:
        per_run = np.zeros((0, len(fractions)))
    scale = np.where(judged.has_truth, judged.initial, 1.0)
    with np.errstate(all="ignore"):
        relative = per_run / scale[:, None]
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
    mine = np.concatenate([x[judged.points(int(r))] for r in rows]) if rows.size else np.zeros(0)
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
