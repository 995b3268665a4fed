"""Instances, not copies: seeds that repeat one problem, and --repeat re-executions, count once in every statistic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.load import instances
from regbench.report.load.columns import from_records, load_store
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.report.stats import anytime_ert, pairs
from regbench.store.sqlite import Store


def rec(strategy="a", case="c", seed=0, instance=None, repeat=0, **fields) -> RunRecord:
    fields.setdefault("outcome", "converged" if fields.get("status", "ok") == "ok" else fields.get("status"))
    return RunRecord(
        strategy=strategy,
        case=case,
        seed=seed,
        instance=instance,
        repeat=repeat,
        key=f"{strategy}-{case}-{seed}-{repeat}",
        **fields,
    )


def test_seeds_with_one_instance_are_one_instance_and_the_report_says_so():
    records = [
        rec(s, case, seed, instance=f"{case}-hash", error_mean=1.0)
        for s in ("a", "b")
        for case in ("c1", "c2")
        for seed in range(3)
    ] + [rec(s, "c3", seed, instance=f"c3-{seed}", error_mean=1.0) for s in ("a", "b") for seed in range(3)]
    found = instances.instances(from_records(records))
    assert (len(found), found.pairs) == (5, 9)  # c1 and c2 one instance each, c3 three
    assert found.copies == {"c1": [(0, [1, 2])], "c2": [(0, [1, 2])]}
    warning = found.warning()
    assert warning.startswith("9 (case, seed) pairs are 5 distinct instances: ")
    assert "seeds 1, 2 repeat seed 0's problem on cases c1, c2" in warning
    assert found.summary() == "5 distinct instances of 9 case–seed pairs"
    labels, index = instances.instance_index(from_records(records))
    assert len(labels) == 5 and index.max() == 4


def test_records_without_an_instance_id_key_on_case_and_seed():
    # an older store: no instance ids, so no copies can be detected, and the report says so
    old = from_records([rec("a", "c", seed) for seed in range(3)] + [rec("b", "c", seed) for seed in range(3)])
    found = instances.instances(old)
    assert (len(found), found.pairs, found.unknown, found.copies) == (3, 3, 6, {})
    assert any("no instance id" in line for line in instances.notes(old))
    # a record without an id on a (case, seed) whose other runs agree on one takes it: still paired with them
    mixed = from_records([rec("a", "c", 0, instance="x"), rec("a", "c", 1, instance="x"), rec("b", "c", 1)])
    assert len(instances.instances(mixed)) == 1


def test_success_rate_counts_instances_not_copies():
    # a solves one problem that three seeds copy, and fails the only other one: 1 of 2 instances, not 3 of 4 runs
    records = [rec("a", seed=s, instance="same", error_mean=0.5, wall_time_s=1.0) for s in range(3)]
    records.append(rec("a", seed=3, instance="other", error_mean=5.0, wall_time_s=1.0))
    results = stats.instance_results(from_records(records))
    rate = {r.target: r for r in stats.success_rates(results)}[stats.ERROR_TARGETS.index(1.0)]
    assert (rate.n, rate.successes) == (2, 1)
    hits = anytime_stats.hit_times(from_records(records))
    (row,) = [e for e in anytime_ert.ert_rows(hits) if e.target == stats.ERROR_TARGETS.index(1.0)]
    assert (row.n, row.successes, row.ert_s) == (2, 1, 2.0)  # the copies' time counts once
    ecdf = anytime_ert.runtime_ecdfs(hits)[0]
    assert ecdf.n == 2 * len(stats.ERROR_TARGETS)


def test_repeats_are_combined_by_their_median():
    # three executions of one key (--repeat 3) of a nondeterministic setup: the median decides, not the last one
    records = [
        rec("a", repeat=k, instance="i", error_mean=e, wall_time_s=t, deterministic=False)
        for k, (e, t) in enumerate([(0.5, 1.0), (3.0, 2.0), (2.5, 9.0)])
    ]
    runs = from_records(records)
    results = stats.instance_results(runs)
    assert results.quality.tolist() == [[2.5]] and results.time.tolist() == [[2.0]]
    rates = {r.target: r for r in stats.success_rates(results)}
    assert (rates[stats.ERROR_TARGETS.index(1.0)].successes, rates[stats.ERROR_TARGETS.index(4.0)].successes) == (0, 1)
    assert rates[0].n == 1
    notes = " ".join(instances.notes(runs))
    assert "2 runs are --repeat re-executions" in notes and "3 runs are not reproducible" in notes
    # a failed repeat counts as never reaching a target: the median of (0.5, failed, failed) fails
    failing = [rec("a", instance="i", error_mean=0.5)]
    failing += [rec("a", repeat=k, instance="i", status="error") for k in (1, 2)]
    assert stats.instance_results(from_records(failing)).quality.tolist() == [[math.inf]]


def test_copies_do_not_make_a_paired_test_significant():
    # three cases, seeds 0-2 copies of one problem each: 9 (case, seed) pairs, 3 instances. Counting pairs gives
    # p = 2/512; there are only 3 instances, too few to test.
    records = [
        rec(s, f"c{k}", seed, instance=f"c{k}", error_mean=1.0 + k + (0.5 if s == "b" else 0.0))
        for s in ("a", "b")
        for k in range(3)
        for seed in range(3)
    ]
    (test,) = pairs.paired_tests(from_records(records), "error_mean")
    assert test.n == 3
    assert (test.p, test.p_holm, test.rank_biserial) == (None, None, None)
    assert test.reason == "n = 3 < 6: too few instances for a signed-rank test"
    assert test.median_difference == -0.5


def test_profiles_and_matrices_have_one_row_per_instance():
    records = [rec(s, seed=seed, instance="one", error_mean=0.5, wall_time_s=1.0) for s in "ab" for seed in range(5)]
    runs = from_records(records)
    solvers, matrix = instances.instance_matrix(runs, runs["error_mean"])
    assert solvers == ["a", "b"] and matrix.shape == (1, 2)
    results = stats.instance_results(runs)
    hits = anytime_stats.hit_times(runs)
    assert stats.quality_profile(results).n == 1 and anytime_ert.first_hit_profile(hits, 0).n == 1
    assert instances.run_counts(runs).tolist() == [[5, 5]]


def test_report_n_equals_the_distinct_instances(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    for s in ("a", "b"):
        for k in range(4):
            for seed in range(3):
                # cases c0, c1: every seed the same problem; c2, c3: each seed its own
                instance = f"c{k}" if k < 2 else f"c{k}-{seed}"
                store.add(rec(s, f"c{k}", seed, instance=instance, error_mean=0.5 + k, wall_time_s=1.0))
    store.close()
    runs = load_store(path)
    assert runs["instance"].tolist()[:3] == ["c0", "c0", "c0"] and runs["repeat"].tolist()[:3] == [0, 0, 0]
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(path)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "8 distinct instances of 12 case–seed pairs" in text
    assert "12 (case, seed) pairs are 8 distinct instances: seeds 1, 2 repeat seed 0's problem on cases c0, c1" in text
    rows = [
        [c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines() if line.startswith("│ a ")
    ]
    summary, success = rows[0], rows[1]
    assert summary[1] == "12" and success[1] == "8"  # 12 runs; the success table's n: 8 instances
    tests = {(t.a, t.b): t for t in pairs.paired_tests(runs, "error_mean")}
    assert tests[("a", "b")].n == 8


@pytest.mark.parametrize("field", ["overlap_fraction", "initial_overlap_fraction", "regret_metric_dense"])
def test_new_record_fields_are_columns(field, tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    store.add(rec(flags=["folding", "low_overlap"], deterministic=False, **{field: 0.25}))
    store.add(rec(seed=1))
    store.close()
    runs = load_store(path)
    assert runs[field].tolist()[0] == 0.25 and np.isnan(runs[field][1])
    assert runs["flags"].tolist() == ["folding,low_overlap", ""]
    assert runs["deterministic"].tolist()[0] == 0.0 and np.isnan(runs["deterministic"][1])
