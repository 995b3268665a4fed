"""Statistics on hand-built records with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from regbench.record import RunRecord
from regbench.report import stats
from regbench.report.runs import from_records
from regbench.report.summary import summary_rows


def rec(strategy="a", case="c", seed=0, **fields) -> RunRecord:
    return RunRecord(strategy=strategy, case=case, seed=seed, key=f"{strategy}-{case}-{seed}", **fields)


def test_worst30_is_the_70th_percentile():
    assert stats.worst30(np.arange(1.0, 11.0)) == pytest.approx(7.3)  # 1 + 0.7 * 9
    assert stats.worst30(np.array([np.nan, 2.0, np.nan])) == 2.0
    assert math.isnan(stats.worst30(np.array([])))


def test_ert_counts_failures_in_full():
    # 1 + 2 + 3 + 4 seconds spent, two successes
    assert stats.ert(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False])) == 5.0
    assert stats.ert(np.array([1.0, 2.0]), np.array([False, False])) == math.inf


def test_ert_table_from_records():
    runs = from_records(
        [
            rec(seed=0, error_mean=0.5, wall_time_s=1.0),
            rec(seed=1, error_mean=3.0, wall_time_s=2.0),  # misses targets ≤ 2
            rec(seed=2, status="error", error_mean=None, wall_time_s=3.0),  # failed: never a success
            rec(seed=3, error_mean=0.1, wall_time_s=4.0),
        ]
    )
    hits = stats.solved(runs)
    by_target = {row.target: row for row in stats.ert_table(runs, hits)}
    target_4 = stats.ERROR_TARGETS.index(4.0)
    target_1 = stats.ERROR_TARGETS.index(1.0)
    target_quarter = stats.ERROR_TARGETS.index(0.25)
    assert (by_target[target_4].successes, by_target[target_4].ert_s) == (3, pytest.approx(10 / 3))
    assert (by_target[target_1].successes, by_target[target_1].ert_s) == (2, 5.0)
    assert (by_target[target_quarter].successes, by_target[target_quarter].ert_s) == (1, 10.0)
    rates = {r.target: r.rate for r in stats.success_rates(runs, hits)}
    assert rates[target_4] == 0.75 and rates[target_1] == 0.5


def test_a_run_without_wall_time_is_charged_the_slowest_on_its_case():
    runs = from_records(
        [rec(seed=0, wall_time_s=1.0), rec(seed=1, wall_time_s=5.0), rec(seed=2, status="crashed"), rec(case="d")]
    )
    assert stats.charged_time(runs).tolist() == [1.0, 5.0, 5.0, 0.0]


def test_holm_step_down():
    adjusted = stats.holm(np.array([0.01, 0.04, 0.03, 0.005]))
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    with_nan = stats.holm(np.array([0.01, np.nan, 0.04]))  # NaN is not a test: m = 2
    assert with_nan[[0, 2]] == pytest.approx([0.02, 0.04])
    assert math.isnan(with_nan[1])


def test_rank_biserial():
    assert stats.rank_biserial(np.array([1.0, 2.0, 3.0, -4.0])) == pytest.approx(0.2)  # (6 - 4) / 10
    assert stats.rank_biserial(np.array([1.0, 0.0, 2.0])) == 1.0
    assert stats.rank_biserial(np.array([0.0])) == 0.0
    assert math.isnan(stats.rank_biserial(np.array([])))


def test_paired_tests_across_instances():
    records = []
    for seed in range(6):
        records.append(rec("a", seed=seed, error_mean=1.0 + seed))
        records.append(rec("b", seed=seed, error_mean=0.5 + seed * 0.5))  # b lower on every instance
        records.append(rec("c", seed=seed, error_mean=1.0 + seed + (0.25 if seed % 2 else -0.25)))
    records.append(rec("a", seed=6, error_mean=2.0))
    records.append(rec("b", seed=6, status="error"))  # unpaired: b failed
    tests = {(t.a, t.b): t for t in stats.paired_tests(from_records(records), "error_mean")}
    ab = tests[("a", "b")]
    assert (ab.n, ab.n_missing) == (6, 1)
    assert ab.rank_biserial == 1.0
    assert ab.p == pytest.approx(2 / 64)  # exact two-sided p with all 6 signs positive
    assert ab.median_difference == pytest.approx(np.median([0.5 + 0.5 * s for s in range(6)]))
    ps = [tests[k].p for k in [("a", "b"), ("a", "c"), ("b", "c")]]
    assert [tests[k].p_holm for k in [("a", "b"), ("a", "c"), ("b", "c")]] == pytest.approx(stats.holm(np.array(ps)))
    assert tests[("a", "c")].p == pytest.approx(sps.wilcoxon([0.25, -0.25, 0.25, -0.25, 0.25, -0.25]).pvalue)


def test_performance_profile_ratios_and_failures():
    costs = np.array([[1.0, 2.0], [4.0, 2.0], [np.inf, 3.0], [np.nan, np.nan]])
    ratios = stats.performance_profile(costs)
    assert ratios.tolist() == [[1.0, 2.0], [2.0, 1.0], [math.inf, 1.0], [math.inf, math.inf]]
    profile = stats.Profile(["a", "b"], ratios)
    assert profile.fractions(np.array([1.0, 2.0, 1e9])).tolist() == [[0.25, 0.5, 0.5], [0.5, 0.75, 0.75]]


def test_time_profile_counts_a_missing_run_as_a_failure():
    runs = from_records(
        [
            rec("a", seed=0, error_mean=0.1, wall_time_s=1.0),
            rec("b", seed=0, error_mean=0.1, wall_time_s=3.0),
            rec("a", seed=1, error_mean=0.1, wall_time_s=2.0),
        ]
    )
    profile = stats.time_profile(runs, stats.solved(runs)[:, 0])
    assert profile.solvers == ["a", "b"]
    assert profile.ratios.tolist() == [[1.0, 3.0], [1.0, math.inf]]


def test_relative_gap_for_cases_without_truth():
    runs = from_records(
        [rec(seed=s, final_metric_dense=f, initial_metric_dense=5.0) for s, f in enumerate([1.0, 2.0, 3.0])]
        + [rec(case="truth", error_mean=0.3)]
    )
    values, has_truth = stats.quality(runs)
    assert values.tolist() == [0.0, 0.25, 0.5, 0.3]
    assert has_truth.tolist() == [False, False, False, True]
    hits = stats.solved(runs)
    assert hits[:, 0].tolist() == [True, False, False, True]  # relative target 0.1, error target 8


def test_runtime_ecdf_and_virtual_best():
    runs = from_records(
        [
            rec("a", seed=0, error_mean=0.1, wall_time_s=1.0),
            rec("a", seed=1, error_mean=5.0, wall_time_s=2.0),
            rec("b", seed=0, error_mean=0.1, wall_time_s=0.5),
            rec("b", seed=1, status="timeout", wall_time_s=9.0),
        ]
    )
    ecdfs = {e.label: e for e in stats.runtime_ecdfs(runs, stats.solved(runs))}
    n_targets = len(stats.ERROR_TARGETS)
    assert ecdfs["a"].n == 2 * n_targets
    # a: seed 0 solves every target at 1 s, seed 1 only the 8-unit target at 2 s
    assert ecdfs["a"].fraction(np.array([1.0, 2.0])).tolist() == pytest.approx(
        [n_targets / (2 * n_targets), (n_targets + 1) / (2 * n_targets)]
    )
    assert ecdfs["virtual best"].runtimes.tolist() == [0.5] * n_targets + [2.0]


def test_summary_rows_count_and_medians():
    records = [
        rec(seed=0, outcome="converged", iterations=10, error_mean=1.0, wall_time_s=1.0),
        rec(seed=1, outcome="line_search", rounding_failure=True, iterations=20, error_mean=2.0, wall_time_s=3.0),
        rec(seed=2, outcome="max_iterations", hit_iteration_limit=True, iterations=30, error_mean=10.0),
        rec(seed=3, status="error", outcome="error"),
    ]
    (row,) = summary_rows(records)
    assert (row.runs, row.ok, row.rounding_failures, row.cap_hits) == (4, 3, 1, 1)
    assert row.outcomes == {"converged": 1, "error": 1, "line_search": 1, "max_iterations": 1}
    # iterations over every run (the failed one recorded 0); errors and times over the runs that have one
    assert (row.median_iterations, row.median_error, row.median_time_s) == (15.0, 2.0, 2.0)
    assert row.worst30_error == pytest.approx(np.quantile([1.0, 2.0, 10.0], 0.7))


def test_a_parameter_grid_gives_one_solver_per_point():
    runs = from_records(
        [
            rec("gd", seed=0, params={"lr": 0.5, "n": 10}),
            rec("gd", seed=1, params={"lr": 1.0, "n": 10}),
            rec("other", params={"x": 1}),
        ]
    )
    assert runs.solver.tolist() == ["gd[lr=0.5]", "gd[lr=1.0]", "other"]


def test_median_of_no_overlap_values_does_not_overflow():
    import warnings

    from regbench.report.stats import median

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert median(np.array([1.7976931348623157e308, 1.7976931348623157e308])) == 1.7976931348623157e308
    assert median(np.array([1.0, 3.0, np.nan])) == 2.0
    assert median(np.array([5.0, 1.0, 3.0])) == 3.0


def tre(value: float) -> dict:
    return {"tre_mean": value, "tre_p95": 2 * value, "tre_max": 3 * value, "initial_tre_mean": 9.0, "landmarks": 3}


def test_landmark_tre_stands_in_for_the_error_on_cases_without_truth():
    runs = from_records(
        [rec(case="truth", seed=s, error_mean=e) for s, e in enumerate([0.5, 1.5])]
        + [rec(case="landmarks", seed=s, measures=tre(t)) for s, t in enumerate([0.2, 3.0])]
    )
    assert runs["tre_p95"].tolist()[2:] == [0.4, 6.0]  # read from the records' measures
    column = stats.error_column(runs, "error_mean")
    assert column.values.tolist() == [0.5, 1.5, 0.2, 3.0]
    assert (column.stand_in, column.stand_in_cases) == ("tre_mean", ("landmarks",))
    assert "tre_mean stands in for error_mean" in column.note() and "landmarks" in column.note()
    values, has_truth = stats.quality(runs, "error_mean")
    assert values.tolist() == [0.5, 1.5, 0.2, 3.0] and has_truth.all()  # error targets, not the metric gap
    assert stats.solved(runs)[:, 3].tolist() == [True, False, True, False]  # target 1
    (row,) = summary_rows(runs)
    assert row.median_error == 1.0  # median of 0.5, 1.5, 0.2, 3.0
    # the other way round: --error tre_mean uses error_mean on the case without landmarks
    back = stats.error_column(runs, "tre_mean")
    assert back.stand_in_cases == ("truth",) and back.values.tolist() == [0.5, 1.5, 0.2, 3.0]
    # a case with both keeps the chosen one; no stand-in is mentioned
    both = from_records([rec(error_mean=0.5, measures=tre(0.7))])
    assert stats.error_column(both, "error_mean").values.tolist() == [0.5]
    assert stats.error_column(both, "error_mean").note() == ""
