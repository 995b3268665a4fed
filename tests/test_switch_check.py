"""``regbench switch-check A B --store S``: is strategy B as good as strategy A on the same instances of one store.

Real runs of two strategies on a tiny case (one equivalent to gd, one stopped after 3 iterations), and hand-made
records (tests/run_summaries.py) for what real runs here cannot show cheaply: failures, copies, missing evidence.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner
from run_summaries import summary_row

import regbench
from regbench.cli import main
from regbench.report.gates.compare import GateError
from regbench.report.gates.switch import switch_check
from regbench.store.sqlite import Store

CASE = "synth2d-translation"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> str:
    """gd, rsgd (its default 200 iterations) and rsgd stopped after 3 iterations, on the same 4 instances."""
    path = str(tmp_path_factory.mktemp("switch") / "s.sqlite")
    for extra in ((), ("-p", "number_of_iterations=3")):
        strategies = "gd,rsgd" if not extra else "rsgd"
        out = invoke("run", "-s", strategies, "-c", CASE, "--seeds", "4", *extra, "--in-process", "--store", path)
        assert out.exit_code == 0, out.output
    return path


def test_an_equivalent_strategy_passes(real_store):
    out = invoke("switch-check", "gd", "rsgd[number_of_iterations=200]", "--store", real_store, "--margin", "0.1")
    assert out.exit_code == 0, out.output
    assert f"on {CASE}: 4 pairs" in out.output and "equivalent" in out.output
    assert out.output.rstrip().endswith("switch gate: passed")
    data = json.loads(
        invoke("switch-check", "gd", "rsgd[number_of_iterations=200]", "--store", real_store, "--json").stdout
    )
    assert data["passed"] and data["cases"][0]["pairs"] == 4 and data["cases"][0]["equivalent"] is True
    # the per-pair stop categories as the store holds them
    with Store.read_only(real_store) as store:
        held = store.summaries()
    gd = {r["seed"]: r["stop_category"] for r in held if r["strategy"] == "gd"}
    rsgd = {r["seed"]: r["stop_category"] for r in held if r["params"].get("number_of_iterations") == 200}
    shifts = Counter(f"{gd[s]} → {rsgd[s]}" for s in gd if gd[s] != rsgd[s])
    assert len(gd) == 4 and data["cases"][0]["stop_changes"] == dict(shifts)


def test_a_worse_strategy_fails_naming_the_case_and_why(real_store):
    out = invoke("switch-check", "gd", "rsgd[number_of_iterations=3]", "--store", real_store, "--margin", "0.1")
    assert out.exit_code == 1, out.output
    assert "NOT EQUIVALENT" in out.output and "switch gate: FAILED (1)" in out.output
    assert f"gd → rsgd[number_of_iterations=3] on {CASE}: error_mean changed by +" in out.output
    assert "not within ±0.1 physical units" in out.output
    # non-inferiority: the better one passes as B, the worse one fails
    better = invoke("switch-check", "rsgd[number_of_iterations=3]", "gd", "--store", real_store, "--margin", "0.1")
    assert better.exit_code == 1  # two-sided: much better is not equivalent either
    one_sided = ("--margin", "0.1", "--one-sided")
    passes = invoke("switch-check", "rsgd[number_of_iterations=3]", "gd", "--store", real_store, *one_sided)
    assert passes.exit_code == 0 and "non-inferior" in passes.output
    worse = invoke("switch-check", "gd", "rsgd[number_of_iterations=3]", "--store", real_store, *one_sided)
    assert worse.exit_code == 1 and "INFERIOR" in worse.output and "not below +0.1" in worse.output


def test_usage_errors_name_what_is_missing(real_store, tmp_path):
    out = invoke("switch-check", "gd", "nope", "--store", real_store)
    assert out.exit_code == 2 and "no strategy 'nope'" in out.output
    assert "gd, rsgd[number_of_iterations=200], rsgd[number_of_iterations=3]" in out.output
    out = invoke("switch-check", "gd", "rsgd", "--store", real_store)
    assert out.exit_code == 2 and "'rsgd' ran with 2 parameter sets" in out.output
    out = invoke("switch-check", "gd", "rsgd[number_of_iterations=3]", "-c", "other", "--store", real_store)
    assert out.exit_code == 2 and "no case 'other'" in out.output and CASE in out.output
    assert invoke("switch-check", "gd", "gd", "--store", real_store).exit_code == 2
    assert invoke("switch-check", "gd", "rsgd", "--store", str(tmp_path / "missing.sqlite")).exit_code == 2


def rows(strategy: str, errors: list[float | None], case: str = "c", **fields) -> list[dict]:
    return [summary_row(strategy, case, seed, error_mean=e, **fields) for seed, e in enumerate(errors)]


BASE = [1.00, 1.20, 0.90, 1.10, 1.05, 0.95]


def test_runs_failing_under_b_but_not_a_fail_the_gate():
    b = rows("b", BASE)
    b[2].update(outcome="diverged", error_mean=40.0)
    report = switch_check(rows("a", BASE) + b, "a", "b", 0.5)
    item = report.cases[0]
    assert (item.failures_a, item.failures_b, item.newly_failing) == (0, 1, 1)
    assert item.pairs == 6 and item.equivalent is True  # the failed pair is left out of the error's test
    assert report.failed == ["a → b on c: 1 of 6 runs fail with b but not with a"]
    assert switch_check(rows("a", BASE) + b, "a", "b", 0.5, max_newly_failing=1).passed


def test_pairs_are_instances_not_seeds_or_repeats():
    # seeds 0 and 1 solve the same problem (one instance): one pair, not two; a repeat is a copy too (a: 2 copies,
    # b: 1)
    a = [*rows("a", [1.0, 1.0, 2.0]), summary_row("a", "c", 0, error_mean=1.0, repeat=1)]
    b = rows("b", [1.1, 1.1, 2.1])
    for row in a + b:
        row["instance"] = "c-0" if row["seed"] < 2 else "c-2"
    report = switch_check(a + b, "a", "b", 0.5)
    assert report.cases[0].pairs == 2 and report.copies == 3 and report.unpaired == 0
    # records without an instance pair by seed; another thread count is another condition, not a pair
    old = [{**r, "instance": None} for r in rows("a", BASE) + rows("b", BASE)]
    assert switch_check(old, "a", "b", 0.5).cases[0].pairs == 6
    threads = rows("a", BASE, threads=1) + rows("b", BASE, threads=2)
    with pytest.raises(GateError, match=r"no paired instance on c: .* a has 6 instance"):
        switch_check(threads, "a", "b", 0.5)


def test_a_case_without_the_error_is_refused_and_a_stand_in_is_said():
    none = rows("a", [None] * 3) + rows("b", [None] * 3)
    with pytest.raises(GateError, match=r"case 'c': no run has error_mean \(a truth transform\) nor tre_mean"):
        switch_check(none, "a", "b", 0.5)
    landmarks = [{**r, "tre_mean": 1.0 + 0.01 * r["seed"]} for r in none]
    report = switch_check(landmarks, "a", "b", 0.5)
    assert report.passed and report.cases[0].field == "tre_mean"
    assert "tre_mean stands in for error_mean" in report.cases[0].notes[0]


def test_cases_only_one_strategy_ran_are_left_out_or_refused_when_named():
    data = rows("a", BASE) + rows("b", BASE) + rows("a", BASE, case="only-a")
    report = switch_check(data, "a", "b", 0.5)
    assert [c.case for c in report.cases] == ["c"]
    with pytest.raises(GateError, match="no paired instance on only-a"):
        switch_check(data, "a", "b", 0.5, cases=["only-a"])
    with pytest.raises(GateError, match="no case has runs of both a and b"):
        switch_check(rows("a", BASE) + rows("b", BASE, case="d"), "a", "b", 0.5)


def test_the_store_form_reads_hand_made_records(tmp_path):
    path = tmp_path / "h.sqlite"
    store = Store(path)
    for strategy, shift in (("a", 0.0), ("b", 2.0)):
        for seed, error in enumerate(BASE):
            store.add(
                regbench.RunRecord(
                    strategy=strategy,
                    case="c",
                    seed=seed,
                    key=f"{strategy}-{seed}",
                    instance=f"c-{seed}",
                    error_mean=error + shift,
                    outcome="diverged" if (strategy, seed) == ("b", 0) else "converged",
                    stop_category="converged",
                )
            )
    store.close()
    out = invoke("switch-check", "a", "b", "--store", str(path), "--margin", "0.5")
    assert out.exit_code == 1 and "switch gate: FAILED (2)" in out.output
    assert "a → b on c: error_mean changed by +2" in out.output and "failures 0 → 1" in out.output
    assert "a → b on c: 1 of 6 runs fail with b but not with a" in out.output
