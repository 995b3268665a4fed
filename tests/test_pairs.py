"""Paired tests on hand-built records with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from test_stats import rec

from regbench.report.load.columns import from_records
from regbench.report.stats import pairs


def test_holm_step_down():
    adjusted = pairs.holm(np.array([0.01, 0.04, 0.03, 0.005]))
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    with_nan = pairs.holm(np.array([0.01, np.nan, 0.04]))  # NaN is not a test: m = 2
    assert with_nan[[0, 2]] == pytest.approx([0.02, 0.04])
    assert math.isnan(with_nan[1])


def test_rank_biserial():
    assert pairs.rank_biserial(np.array([1.0, 2.0, 3.0, -4.0])) == pytest.approx(0.2)  # (6 - 4) / 10
    assert pairs.rank_biserial(np.array([1.0, 0.0, 2.0])) == 1.0
    assert pairs.rank_biserial(np.array([0.0])) == 0.0
    assert math.isnan(pairs.rank_biserial(np.array([])))


def test_paired_tests_across_instances():
    records = []
    for seed in range(6):
        records.append(rec("a", seed=seed, error_mean=1.0 + seed))
        records.append(rec("b", seed=seed, error_mean=0.5 + seed * 0.5))  # b lower on every instance
        records.append(rec("c", seed=seed, error_mean=1.0 + seed + (0.25 if seed % 2 else -0.25)))
    records.append(rec("a", seed=6, error_mean=2.0))
    records.append(rec("b", seed=6, status="error"))  # unpaired: b failed
    tests = {(t.a, t.b): t for t in pairs.paired_tests(from_records(records), "error_mean")}
    ab = tests[("a", "b")]
    assert (ab.n, ab.n_missing) == (6, 1)
    assert ab.rank_biserial == 1.0
    assert ab.p == pytest.approx(2 / 64)  # exact two-sided p with all 6 signs positive
    assert ab.median_difference == pytest.approx(np.median([0.5 + 0.5 * s for s in range(6)]))
    ps = [tests[k].p for k in [("a", "b"), ("a", "c"), ("b", "c")]]
    assert [tests[k].p_holm for k in [("a", "b"), ("a", "c"), ("b", "c")]] == pytest.approx(pairs.holm(np.array(ps)))
    # |a − c| is 0.25 on every instance: all ties, so the normal approximation with tie correction, not a
    # permutation test
    ac = tests[("a", "c")]
    tied = [-0.25, 0.25, -0.25, 0.25, -0.25, 0.25]
    assert ac.method == "normal approximation" and ab.method == "exact"
    assert ac.p == pytest.approx(sps.wilcoxon(tied, zero_method="pratt", method="asymptotic").pvalue)


def test_a_pair_with_fewer_than_six_instances_is_not_a_test():
    records = [rec(s, seed=seed, error_mean=1.0 + seed + (0.5 if s == "b" else 0)) for s in "ab" for seed in range(5)]
    records += [rec(s, seed=seed, error_mean=1.0 + seed + (0.5 if s == "c" else 0)) for s in "c" for seed in range(5)]
    records += [rec(s, seed=seed, error_mean=1.0) for s in "d" for seed in range(6)]  # d has a 6th instance
    tests = {(t.a, t.b): t for t in pairs.paired_tests(from_records(records), "error_mean")}
    ab = tests[("a", "b")]
    assert (ab.n, ab.p, ab.p_holm, ab.rank_biserial, ab.tested) == (5, None, None, None, False)
    assert ab.reason == "n = 5 < 6: too few instances for a signed-rank test"
    assert ab.median_difference == -0.5  # still described, just not tested
    assert all(not t.tested for t in tests.values())  # every pair shares at most 5 instances


def test_identical_results_on_every_instance_give_p_one():
    records = [rec(s, seed=seed, error_mean=1.0 + seed) for s in "ab" for seed in range(8)]
    (test,) = pairs.paired_tests(from_records(records), "error_mean")
    assert (test.n, test.p, test.method, test.rank_biserial) == (8, 1.0, "identical on every instance", 0.0)


def test_tie_heavy_data_uses_the_normal_approximation_not_a_permutation_test(monkeypatch):
    # 12 instances, |A − B| mostly 1: scipy's default would run a permutation test per pair (~0.5 s each)
    calls = []
    real = sps.wilcoxon

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sps, "wilcoxon", spy)  # the module pairs imports when it tests
    deltas = [1.0, 1.0, 1.0, 2.0, 2.0, -1.0, 1.0, 1.0, 2.0, 1.0, 0.0, 1.0]
    records = []
    for seed, delta in enumerate(deltas):
        records.append(rec("a", seed=seed, error_mean=10.0 + delta, wall_time_s=1.0 + delta))
        records.append(rec("b", seed=seed, error_mean=10.0, wall_time_s=1.0))
        records.append(rec("c", seed=seed, error_mean=10.0 - delta, wall_time_s=1.0))
    tests = pairs.paired_tests(from_records(records), "error_mean") + pairs.paired_tests(
        from_records(records), "wall_time_s"
    )
    # the method each call asked for, not the clock (a loaded machine is slow either way): never scipy's default
    assert calls and all(c.get("method") in ("asymptotic", "exact") for c in calls)
    assert all(c.get("zero_method") == "pratt" for c in calls if c.get("method") == "asymptotic")
    ab = next(t for t in tests if (t.a, t.b, t.measure) == ("a", "b", "error_mean"))
    assert ab.method == "normal approximation"
    expected = real(np.array(deltas), zero_method="pratt", method="asymptotic").pvalue
    assert ab.p == pytest.approx(expected)


def test_average_ranks_are_scipys_rankdata_without_importing_it():
    """The ranks the recommendation and r use, computed without scipy.stats (its import costs the end of every
    ``regbench run`` about a second): the same floats as scipy's, ties and all."""
    from scipy import stats

    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(1, 30))
        values = rng.integers(0, 6, size=n) * rng.choice([1.0, 0.5, 1e-3]) if rng.random() < 0.7 else rng.normal(size=n)
        assert np.array_equal(pairs.average_ranks(values), stats.rankdata(values)), values
