"""Statistics from anytime curves on a hand-made store: every expected value is worked out by hand below.

The store: one case ``c`` with ground truth, three instances (seeds 0-2), two strategies; every instance starts
at an error of 10 (the 8-unit target is not met at the start, so no pair is left out). Curves (time s, error);
iterations are ten times the time:

    a seed 0  (0, 10) (1, 6) (2, 3) (4, 0.5)          converged, ends at 4 s
    a seed 1  (0, 10) (1, 9) (3, 4) (5, 2)            converged, never below 2: ends at 5 s (wall time 5.5 s)
    a seed 2  (0, 10) (0.5, 0.8) (1, 5) (2, 20)       diverged: reached 0.8 at 0.5 s, then lost it; ends at 2 s
    b seed 0  (0, 10) (2, 4) (4, 0.5)                 converged, ends at 4 s: ties a on seed 0 at ≤ 0.5
    b seed 1  no curve: status error after 3 s        never reaches anything, charged its 3 s
    b seed 2  (0, 10) (1, 1.0) (2, 1.0)               exactly 1.0: "at or below" 1 counts (a tie with the target)

Nobody reaches 0.25 (the target never reached). Wall times are the curve's end + 0.5 s (the after-run
evaluation): an unsuccessful run is charged the time its last execution ended, not its wall time.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import Anytime, RunRecord
from regbench.report.load.columns import from_records, load_store
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_budget, anytime_ert
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.store.sqlite import Store

CURVES = {
    ("a", 0): ([0, 1, 2, 4], [10, 6, 3, 0.5], "converged"),
    ("a", 1): ([0, 1, 3, 5], [10, 9, 4, 2], "converged"),
    ("a", 2): ([0, 0.5, 1, 2], [10, 0.8, 5, 20], "diverged"),
    ("b", 0): ([0, 2, 4], [10, 4, 0.5], "converged"),
    ("b", 1): None,
    ("b", 2): ([0, 1, 2], [10, 1.0, 1.0], "converged"),
}
T = {t: stats.ERROR_TARGETS.index(t) for t in stats.ERROR_TARGETS}


def hand_made_records() -> list[RunRecord]:
    records = []
    for (strategy, seed), curve in CURVES.items():
        common = {"strategy": strategy, "case": "c", "seed": seed, "instance": f"i{seed}", "key": f"{strategy}{seed}"}
        if curve is None:
            records.append(RunRecord(**common, status="error", outcome="error", wall_time_s=3.0, error="boom"))
            continue
        times, errors, outcome = curve
        anytime = Anytime(
            time_s=[float(t) for t in times],
            iterations=[int(10 * t) for t in times],
            dense_metric=[None] * len(times),
            error_mean=[float(e) for e in errors],
            error_mean_fg=[None] * len(times),
        )
        records.append(
            RunRecord(
                **common,
                outcome=outcome,
                initial_error_mean=10.0,
                error_mean=float(errors[-1]),
                iterations=int(10 * times[-1]),
                wall_time_s=times[-1] + 0.5,
                anytime=anytime,
            )
        )
    return records


def hand_made_runs():
    return from_records(hand_made_records())


def test_first_hit_times_per_run_and_instance():
    hits = anytime_stats.hit_times(hand_made_runs())
    assert hits.solvers == ["a", "b"] and hits.targets.labels == ["8", "4", "2", "1", "0.5", "0.25"]
    assert not hits.trivial.any() and hits.counted.all()
    inf = math.inf
    # a: seed 0 reaches 8 at 1 s (6), 4 and 2... at 2 s (3 ≤ 4) and 4 s; seed 2 reaches ≤ 1 at 0.5 s and loses it
    assert hits.time[:, 0, :].tolist() == [
        [1, 2, 4, 4, 4, inf],
        [3, 3, 5, inf, inf, inf],
        [0.5, 0.5, 0.5, 0.5, inf, inf],
    ]
    # b: the failed run reaches nothing; 1.0 is at or below the target 1
    assert hits.time[:, 1, :].tolist() == [[2, 2, 4, 4, 4, inf], [inf] * 6, [1, 1, 1, 1, inf, inf]]
    assert hits.iterations[:, 0, T[1.0]].tolist() == [40, inf, 5]
    # an unsuccessful run is charged the end of its last execution (a: 5 s, not its wall time 5.5 s) or, without
    # a curve, its wall time (b seed 1: 3 s)
    assert hits.full.tolist() == [[4, 4], [5, 3], [2, 2]]
    assert "1 of 6 runs have no anytime curve" in hits.note


def test_ert_counts_first_hits_and_charges_failures_in_full():
    rows = {(r.solver, r.target): r for r in anytime_ert.ert_rows(anytime_stats.hit_times(hand_made_runs()))}
    expected = {
        # a: Σ (first hit, or full time) / successes
        ("a", T[8.0]): (3, (1 + 3 + 0.5) / 3),
        ("a", T[4.0]): (3, (2 + 3 + 0.5) / 3),
        ("a", T[2.0]): (3, (4 + 5 + 0.5) / 3),
        ("a", T[1.0]): (2, (4 + 5 + 0.5) / 2),  # seed 1 charged its 5 s; seed 2's diverged run counts its hit
        ("a", T[0.5]): (1, (4 + 5 + 2) / 1),
        ("a", T[0.25]): (0, math.inf),  # never reached
        ("b", T[8.0]): (2, (2 + 3 + 1) / 2),
        ("b", T[4.0]): (2, (2 + 3 + 1) / 2),
        ("b", T[2.0]): (2, (4 + 3 + 1) / 2),
        ("b", T[1.0]): (2, (4 + 3 + 1) / 2),
        ("b", T[0.5]): (1, (4 + 3 + 2) / 1),
        ("b", T[0.25]): (0, math.inf),
    }
    for key, (successes, value) in expected.items():
        row = rows[key]
        assert (row.case, row.n, row.successes) == ("c", 3, successes), key
        assert row.ert_s == pytest.approx(value), key
    # the first hits themselves: a at ≤ 1 hit at 4 s (of 4) and 0.5 s (of 2): median 2.25 s, share (1 + 0.25) / 2
    a1 = rows[("a", T[1.0])]
    assert (a1.median_hit_s, a1.median_hit_share, a1.median_hit_iterations) == (2.25, 0.625, 22.5)
    assert math.isnan(rows[("a", T[0.25])].median_hit_s)
    # the end-of-run success rate stays outcome-based: the diverged run does not count there
    rates = {(r.solver, r.target): r for r in stats.success_rates(stats.instance_results(hand_made_runs()))}
    assert rates[("a", T[1.0])].successes == 1


def test_relative_targets_are_shares_of_the_initial_error():
    hits = anytime_stats.hit_times(hand_made_runs(), kind="relative")
    assert hits.targets.labels == ["50%", "10%", "1%", "0.1%"]
    assert hits.targets.limits.tolist() == [[5.0, 1.0, 0.1, 0.01]] * 3
    rows = {(r.solver, r.target): r for r in anytime_ert.ert_rows(hits)}
    assert rows[("a", 0)].ert_s == pytest.approx((2 + 3 + 0.5) / 3)  # ≤ 5: at 2 s (3), 3 s (4), 0.5 s (0.8)
    assert rows[("a", 1)].ert_s == pytest.approx((4 + 5 + 0.5) / 2)  # ≤ 1: as the absolute target 1
    assert (rows[("a", 2)].successes, rows[("a", 2)].ert_s) == (0, math.inf)


def test_a_target_the_start_already_meets_is_left_out():
    records = hand_made_records()
    for r in records:
        if r.seed == 0:  # instance 0 starts at 5: the 8-unit target is met before any iteration
            r.initial_error_mean = 5.0
            r.anytime.error_mean[0] = 5.0
    hits = anytime_stats.hit_times(from_records(records))
    assert hits.trivial[:, T[8.0]].tolist() == [True, False, False]
    row = next(r for r in anytime_ert.ert_rows(hits) if r.solver == "a" and r.target == T[8.0])
    assert (row.n, row.successes, row.ert_s) == (2, 2, pytest.approx((3 + 0.5) / 2))
    ecdf = {e.label: e for e in anytime_ert.runtime_ecdfs(hits)}
    assert ecdf["a"].n == 3 * 6 - 1


def test_runtime_ecdf_virtual_best_and_bootstrap_band():
    ecdfs = {e.label: e for e in anytime_ert.runtime_ecdfs(anytime_stats.hit_times(hand_made_runs()))}
    assert [ecdfs[s].n for s in ("a", "b", "virtual best")] == [18, 18, 18]
    assert ecdfs["a"].runtimes.tolist() == [0.5, 0.5, 0.5, 0.5, 1, 2, 3, 3, 4, 4, 4, 5]
    assert ecdfs["b"].runtimes.tolist() == [1, 1, 1, 1, 2, 2, 4, 4, 4]
    # per pair the fastest: a everywhere except where b is as fast (ties at 2 and 4 s on instance 0)
    assert ecdfs["virtual best"].runtimes.tolist() == [0.5, 0.5, 0.5, 0.5, 1, 2, 3, 3, 4, 4, 4, 5]
    assert ecdfs["a"].fraction(np.array([1.0, 4.0, 5.0])).tolist() == pytest.approx([5 / 18, 11 / 18, 12 / 18])
    # the band resamples instances: from 5 s on a's instances have 5/6, 3/6 and 4/6 of their targets, so every
    # resample lies between 3/6 and 5/6, and the curve itself inside the band
    a = ecdfs["a"]
    at = np.searchsorted(a.grid, 5.0, side="left")
    assert 0.5 - 1e-12 <= a.low[at] <= a.fraction(a.grid[at]) <= a.high[at] <= 5 / 6 + 1e-12
    assert (a.low <= a.fraction(a.grid) + 1e-12).all() and (a.fraction(a.grid) <= a.high + 1e-12).all()
    # seeded: the same store draws the same band
    again = {e.label: e for e in anytime_ert.runtime_ecdfs(anytime_stats.hit_times(hand_made_runs()))}
    assert np.array_equal(again["a"].low, a.low) and np.array_equal(again["a"].high, a.high)


def test_repeats_on_one_instance_are_combined_by_their_median_first_hit():
    records = []
    for k, (times, errors) in enumerate([([0, 1], [10, 0.5]), ([0, 2], [10, 0.5]), ([0, 3], [10, 5])]):
        curve = Anytime([0.0, *times[1:]], [0, 10], [None, None], [float(e) for e in errors], [None, None])
        records.append(
            RunRecord("a", "c", 0, repeat=k, instance="i", outcome="converged", initial_error_mean=10.0,
                      error_mean=errors[-1], wall_time_s=4.0, anytime=curve, key=f"r{k}")
        )  # fmt: skip
    hits = anytime_stats.hit_times(from_records(records))
    # ≤ 1: first hits 1 s, 2 s and never: the median, 2 s; the full time is the median end, 2 s
    assert hits.time[0, 0, T[1.0]] == 2.0 and hits.full[0, 0] == 2.0
    assert hits.time[0, 0, T[4.0]] == 2.0  # 1, 2 and never again


def test_fixed_budget_values_and_area_under_the_curve():
    budget = anytime_budget.fixed_budget(hand_made_runs())
    # the reference budget: the longest any solver ran on the instance (b seed 1 is charged its 3 s)
    assert budget.reference.tolist() == [4.0, 5.0, 2.0]
    # budgets 10%, 25%, 50%, 100%: instance 0 at 0.4, 1, 2, 4 s; instance 1 at 0.5, 1.25, 2.5, 5 s; instance 2 at
    # 0.2, 0.5, 1, 2 s. The value held then (carried forward), not the best so far: a seed 2 is back at 20.
    assert budget.value[:, 0, :].tolist() == [[10, 6, 3, 0.5], [10, 9, 9, 2], [10, 0.8, 5, 20]]
    assert budget.value[:, 1, :].tolist() == [[10, 10, 4, 0.5], [10, 10, 10, 10], [10, 10, 1, 1]]
    assert budget.relative[0, 0, :].tolist() == pytest.approx([1, 0.6, 0.3, 0.05])
    # AUC of a seed 0 on [0.004, 4] s: 1 until 1 s, 0.6 until 2 s, 0.3 until 4 s, on log time
    assert budget.auc[0, 0] == pytest.approx((np.log(250) + 0.6 * np.log(2) + 0.3 * np.log(2)) / np.log(1000))
    assert budget.auc[1, 1] == 1.0  # the failed run held its start throughout
    # a seed 2 on [0.002, 2] s: 1 until 0.5 s, 0.08 until 1 s, 0.5 until 2 s
    assert budget.auc[2, 0] == pytest.approx((np.log(250) + 0.08 * np.log(2) + 0.5 * np.log(2)) / np.log(1000))
    # a run killed at a 100 s time limit returned nothing: it does not set the others' budget
    timeout = RunRecord("c", "c", 1, instance="i1", status="timeout", outcome="timeout", wall_time_s=100.0, key="c1")
    assert anytime_budget.fixed_budget(from_records([*hand_made_records(), timeout])).reference.tolist() == [4, 5, 2]
    # by iterations (ten per second here): the same values at the same shares
    by_iterations = anytime_budget.fixed_budget(hand_made_runs(), axis="iterations")
    assert by_iterations.reference.tolist() == [40.0, 50.0, 20.0]
    assert np.array_equal(by_iterations.value, budget.value, equal_nan=True)
    assert np.isnan(by_iterations.auc).all()


def test_case_profiles_are_medians_over_instances():
    runs = hand_made_runs()
    profiles = anytime_budget.case_profiles(runs, "c", axis="time")
    a = next(p for p in profiles.profiles if p.solver == "a")
    at = np.flatnonzero((profiles.grid >= 1.0) & (profiles.grid < 2.0))[0]
    # at 1 ≤ t < 2 s a holds 6, 9 and 5 on its instances: median 6, quartiles 5.5 and 7.5
    assert (a.low[at], a.mid[at], a.high[at]) == (5.5, 6.0, 7.5)
    assert a.instances == 3 and a.end == 4.0  # the median of 4, 5 and 2 s
    shown, left_out = anytime_budget.shown_solvers(anytime_budget.fixed_budget(runs), "c", limit=1)
    assert (shown, left_out) == (["a"], ["b"])  # a's median AUC is the lower one


def test_no_warning_on_runs_without_curves_or_values():
    records = [*hand_made_records(), RunRecord("c", "c", 0, instance="i0", status="crashed", outcome="crashed")]
    runs = from_records(records)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("absolute", "relative"):
            hits = anytime_stats.hit_times(runs, kind=kind)
            anytime_ert.ert_rows(hits, by_case=False), anytime_ert.runtime_ecdfs(hits)
        anytime_budget.fixed_budget(runs)
        anytime_budget.case_profiles(runs, "c")


def test_report_prints_the_first_hit_table(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    for record in hand_made_records():
        store.add(record)
    store.close()
    assert len(load_store(path)["anytime"][0]) == 4  # the curve is loaded from the store's summaries
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert "Time to target from first hits over 3 distinct instances" in result.output
    lines = [line.split("│") for line in result.output.splitlines() if line.startswith(("│ a ", "│ b "))]
    # the summary and success-rate tables have rows for a and b too: the first-hit table's cells hold "(k/n)"
    first_hits = {cells[1].strip(): [c.strip() for c in cells[2:-1]] for cells in lines if "/3)" in "".join(cells)}
    # n, ERT at ≤ 4, ≤ 1, ≤ 0.25, ≤ 10% and ≤ 1% of the start, median first hit at ≤ 1, its share of the run
    assert first_hits["a"] == ["3", "1.83 (3/3)", "4.75 (2/3)", "∞ (0/3)", "4.75 (2/3)", "∞ (0/3)", "2.25", "62%"]
    assert first_hits["b"] == ["3", "3 (2/3)", "4 (2/3)", "∞ (0/3)", "4 (2/3)", "∞ (0/3)", "2.5", "75%"]
