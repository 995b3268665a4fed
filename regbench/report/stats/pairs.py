"""Paired tests: every pair of solvers, a Wilcoxon signed-rank test across the instances both ran, Holm-corrected.

Definitions: docs/reports.md. A solver's runs on one instance are combined first
(:mod:`regbench.report.load.instances`): a copy or a repeat is not a new pair. No computation here lets a floating-point
warning reach the terminal.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from regbench.report.load.columns import Runs
from regbench.report.load.instances import executed, instance_matrix
from regbench.report.stats.across_instances import error_column, median

# Below this many paired instances a signed-rank test is not run: with 5 pairs the smallest two-sided p-value
# possible is 2/32 = 0.0625, so no difference could ever be significant at 0.05.
MIN_PAIRS = 6
# Exact signed-rank p-values up to this many pairs when there are no ties or zero differences (scipy's own
# limit); otherwise the normal approximation with tie correction and Pratt's zero handling, never a slow
# permutation test.
EXACT_MAX_PAIRS = 50
SIGNIFICANCE = 0.05


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


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank: ``scipy.stats.rankdata(values)`` (its algorithm, the same
    floats), without importing scipy.stats (~0.5–1.4 s), which only the signed-rank test itself needs."""
    flat = np.ravel(np.asarray(values))
    sorter = np.argsort(flat, kind="quicksort")
    inverse = np.empty(sorter.size, dtype=np.intp)
    inverse[sorter] = np.arange(sorter.size, dtype=np.intp)
    ordered = flat[sorter]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = first.cumsum()[inverse]
    count = np.r_[np.nonzero(first)[0], len(first)]
    return 0.5 * (count[dense] + count[dense - 1] + 1)


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
    ranks = average_ranks(np.abs(d))
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
    error measure uses its stand-in on cases without it (:func:`~regbench.report.stats.across_instances.error_column`),
    unless ``values`` are given.
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
    from scipy import stats as sps

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
