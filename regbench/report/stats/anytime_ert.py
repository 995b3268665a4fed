"""Expected running times and runtime ECDFs (with bootstrap bands) from the first-hit times of
:mod:`regbench.report.stats.anytime_curves`, and the performance profile of first-hit times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report.stats.across_instances import Profile, ert, median, performance_profile
from regbench.report.stats.anytime_curves import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, INF, HitTimes

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
        columns.append(("virtual best", np.asarray(ran.any(axis=1)), best))  # an array: ran is 2-D
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
