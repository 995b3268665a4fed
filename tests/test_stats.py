"""Statistics on hand-built records with answers worked out by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from regbench.record import RunRecord
from regbench.report.load import instances
from regbench.report.load.columns import from_records
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_budget, anytime_ert, pairs
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.report.stats.summary import summary_rows, summary_table


def rec(strategy="a", case="c", seed=0, **fields) -> RunRecord:
    # an outcome as the harness judges it: a run that executed converged, one that did not failed with its status
    fields.setdefault("outcome", "converged" if fields.get("status", "ok") == "ok" else fields.get("status"))
    return RunRecord(strategy=strategy, case=case, seed=seed, key=f"{strategy}-{case}-{seed}", **fields)


def test_worst30_is_the_70th_percentile():
    assert stats.worst30(np.arange(1.0, 11.0)) == pytest.approx(7.3)  # 1 + 0.7 * 9
    assert stats.worst30(np.array([np.nan, 2.0, np.nan])) == 2.0
    assert math.isnan(stats.worst30(np.array([])))


def test_ert_counts_failures_in_full():
    # 1 + 2 + 3 + 4 seconds spent, two successes
    assert stats.ert(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False])) == 5.0
    assert stats.ert(np.array([1.0, 2.0]), np.array([False, False])) == math.inf


def test_ert_table_from_records_without_anytime_curves():
    # no anytime curve: a run's only known point after its start is its end, so it is charged its full time
    # whether it reached the target or not (the statistics before anytime curves)
    runs = from_records(
        [
            rec(seed=0, error_mean=0.5, wall_time_s=1.0),
            rec(seed=1, error_mean=3.0, wall_time_s=2.0),  # misses targets ≤ 2
            rec(seed=2, status="error", error_mean=None, wall_time_s=3.0),  # failed: never a success
            rec(seed=3, error_mean=0.1, wall_time_s=4.0),
        ]
    )
    results = stats.instance_results(runs)
    hits = anytime_stats.hit_times(runs)
    assert "4 of 4 runs have no anytime curve" in hits.note
    by_target = {row.target: row for row in anytime_ert.ert_rows(hits)}
    target_4 = stats.ERROR_TARGETS.index(4.0)
    target_1 = stats.ERROR_TARGETS.index(1.0)
    target_quarter = stats.ERROR_TARGETS.index(0.25)
    assert (by_target[target_4].successes, by_target[target_4].ert_s) == (3, pytest.approx(10 / 3))
    assert (by_target[target_1].successes, by_target[target_1].ert_s) == (2, 5.0)
    assert (by_target[target_quarter].successes, by_target[target_quarter].ert_s) == (1, 10.0)
    rates = {r.target: r.rate for r in stats.success_rates(results)}
    assert rates[target_4] == 0.75 and rates[target_1] == 0.5


def test_a_run_without_wall_time_is_charged_the_slowest_on_its_case():
    runs = from_records(
        [rec(seed=0, wall_time_s=1.0), rec(seed=1, wall_time_s=5.0), rec(seed=2, status="crashed"), rec(case="d")]
    )
    assert stats.charged_time(runs).tolist() == [1.0, 5.0, 5.0, 0.0]


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
    profile = anytime_ert.first_hit_profile(anytime_stats.hit_times(runs), 0)
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
    ecdfs = {e.label: e for e in anytime_ert.runtime_ecdfs(anytime_stats.hit_times(runs))}
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
    assert (row.runs, row.no_failure, row.rounding_failures, row.cap_hits) == (4, 3, 1, 1)
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

    from regbench.report.stats.across_instances import median

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


def test_group_median_skips_missing_values_and_does_not_overflow():
    big = 1.7976931348623157e308
    codes = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    values = np.array([3.0, 1.0, np.nan, big, big, np.nan, -np.inf, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = instances.group_median(codes, values, 5)
    assert out[:2].tolist() == [2.0, big] and out[3] == -np.inf
    assert np.isnan(out[2]) and np.isnan(out[4])  # no value; no run


def test_no_overlap_values_and_tiny_spans_raise_no_warning():
    big = 1.7976931348623157e308
    records = [
        # no truth: judged by the relative gap; a no-overlap run's dense value over a small span overflows
        rec("a", seed=0, final_metric_dense=-1.0, initial_metric_dense=-1.0 + 1e-12),
        rec("a", seed=1, outcome="no_overlap", final_metric_dense=big, initial_metric_dense=-1.0 + 1e-12),
        rec("b", "d", seed=0, final_metric_dense=big, initial_metric_dense=-big),
        rec("b", "d", seed=1, final_metric_dense=-big, initial_metric_dense=big),
    ] + [
        rec(s, "t", seed, error_mean=1e308 if seed % 2 else -1e308, wall_time_s=big) for s in "ab" for seed in range(8)
    ]
    runs = from_records(records)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gap = stats.relative_gap(runs)
        rows = summary_rows(runs) + summary_rows(runs, by="case")
        results = stats.instance_results(runs)
        stats.success_rates(results), stats.quality_profile(results)
        for kind in ("absolute", "relative"):
            hits = anytime_stats.hit_times(runs, kind=kind)
            anytime_ert.ert_rows(hits), anytime_ert.runtime_ecdfs(hits), anytime_ert.first_hit_profile(hits, 0)
        anytime_budget.fixed_budget(runs), anytime_budget.fixed_budget(runs, axis="iterations")
        tests = pairs.paired_tests(runs, "error_mean") + pairs.paired_tests(runs, "wall_time_s")
    assert gap[1] == np.inf  # infinitely far from the best, not NaN and not a warning
    assert rows and tests


def test_a_no_overlap_run_is_an_infinite_gap_however_wide_the_span():
    """Held out (issue 22): on 3D cases (a span f0 − f_best of ~10) DBL_MAX / span did not overflow, and the
    summary printed a median relative gap of 1.87e+305."""
    from rich.console import Console

    dbl_max = 1.7976931348623157e308
    records = [
        rec("good", seed=0, initial_metric_dense=100.0, final_metric_dense=1.0),
        rec("lost", seed=0, initial_metric_dense=100.0, outcome="no_overlap"),  # a record now: None
        rec("lost", seed=1, initial_metric_dense=100.0, final_metric_dense=dbl_max, outcome="no_overlap"),  # older
    ]
    assert stats.relative_gap(from_records(records)).tolist() == [0.0, math.inf, math.inf]
    rows = {r.solver: r for r in summary_rows(records)}
    assert rows["lost"].median_relative_gap == math.inf
    console = Console(width=250, record=True)
    console.print(summary_table(records))
    line = next(line for line in console.export_text().splitlines() if line.startswith("│ lost "))
    assert "∞" in line and "e+30" not in line


def test_summary_counts_runs_without_a_failure_by_outcome_not_status():
    from regbench.evaluation.outcomes import succeeded

    records = [
        rec(seed=0, outcome="converged"),
        rec(seed=1, outcome="no_overlap"),  # status ok: executed, but a failure
        rec(seed=2, outcome="worse_than_start"),
        rec(seed=3, outcome="folded", folding_fraction=0.2),
        rec(seed=4, outcome="diverged"),
        rec(seed=5, status="error"),
        rec(seed=6, outcome="no_progress"),  # executed, barely moved: a failure
    ]
    (row,) = summary_rows(records)
    assert row.no_failure == sum(succeeded(r) for r in records) == 1
    assert row.executed == 6 and row.runs == 7


def test_the_summary_never_pools_dense_metrics_of_different_cases():
    # mean squares (m) and Mattes MI (n): a median across them means nothing; the relative gap is unit-free
    def run(strategy, case, seed, f, f0):
        return rec(strategy, case, seed, final_metric_dense=f, initial_metric_dense=f0, error_mean=1.0)

    records = [
        run("a", "m", 0, 0.2, 1.0),
        run("a", "m", 1, 0.6, 1.0),
        run("b", "m", 0, 0.4, 1.0),
        run("b", "m", 1, 0.2, 1.0),
        run("a", "n", 0, -1.0, -0.2),
        run("a", "n", 1, -0.6, -0.2),
        run("b", "n", 0, -1.0, -0.2),
        run("b", "n", 1, -0.8, -0.2),
    ]
    rows = {r.solver: r for r in summary_rows(records)}
    # a: gaps 0, 0.5 (m) and 0, 0.5 (n); b: 0.25, 0 (m) and 0, 0.25 (n)
    assert (rows["a"].median_relative_gap, rows["b"].median_relative_gap) == pytest.approx((0.25, 0.125))
    assert math.isnan(rows["a"].median_dense_metric)
    by_case = {(r.solver, r.case): r for r in summary_rows(records, by="case")}
    assert by_case[("a", "m")].median_dense_metric == pytest.approx(0.4)
    assert by_case[("b", "n")].median_dense_metric == pytest.approx(-0.9)
    strategy_headers = [c.header for c in summary_table(records).columns]
    case_headers = [c.header for c in summary_table(records, by="case").columns]
    assert "med. rel.\ngap" in strategy_headers and "med. dense\nmetric" not in strategy_headers
    assert "med. dense\nmetric" in case_headers


def test_folding_and_overlap_columns_appear_where_measured():
    deformable = [
        rec(seed=0, folding_fraction=0.0, overlap_fraction=0.9),
        rec(seed=1, folding_fraction=0.26, overlap_fraction=0.1, outcome="folded"),
        rec(seed=2, folding_fraction=0.001, overlap_fraction=0.8),
    ]
    (row,) = summary_rows(deformable)
    assert (row.folding_known, row.folded_runs, row.max_folding) == (3, 2, 0.26)
    assert (row.min_overlap, row.low_overlap_runs) == (0.1, 1)
    table = summary_table(deformable)
    headers = [c.header for c in table.columns]
    assert "folded\nruns" in headers and "min.\noverlap" in headers
    cells = {c.header: list(c.cells) for c in table.columns}
    assert cells["folded\nruns"] == ["2 (max 26%)"] and cells["min.\noverlap"] == ["10% (1 low)"]
    rigid = [rec(seed=0, error_mean=1.0)]
    headers = [c.header for c in summary_table(rigid).columns]
    assert "folded\nruns" not in headers and "min.\noverlap" not in headers
