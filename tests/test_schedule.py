"""The scheduler: expected run times from what was timed, and runs started longest expected first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from regbench.record import RunRecord
from regbench.runner.executors import LocalExecutor
from regbench.runner.matrix import Matrix, parse_param_option, plan
from regbench.runner.run_matrix import run_matrix, runtime_model
from regbench.runner.schedule import RunQueue, RuntimeModel, caps_from, spread
from regbench.runner.worker import plugin_manager
from regbench.store.sqlite import Store

PLUGINS = ("runner_plugin",)


@dataclass(frozen=True)
class Run:
    strategy: str
    case: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)


def test_nothing_timed_means_no_expectation():
    assert RuntimeModel().expected(Run("gd", "a")) is None


def test_the_same_strategy_case_and_parameters_give_the_median_of_their_times():
    model = RuntimeModel()
    for seconds in (1.0, 2.0, 9.0):
        model.observe("gd", "a", {"rate": 1}, seconds)
    model.observe("gd", "a", {"rate": 2}, 100.0)
    assert model.expected(Run("gd", "a", {"rate": 1})) == 2.0


def test_other_parameters_on_the_same_case_scale_by_the_iteration_cap():
    model = RuntimeModel(caps_from({"gd": "iterations"}))
    model.observe("gd", "a", {"iterations": 100, "rate": 1}, 2.0)
    assert model.expected(Run("gd", "a", {"iterations": 300, "rate": 1})) == pytest.approx(6.0)
    assert model.expected(Run("gd", "a", {"iterations": 300, "rate": 5})) == pytest.approx(6.0)


def test_an_unseen_pair_is_predicted_from_its_strategy_and_its_case():
    """lbfgs is 4× gd wherever both ran, and case b 10× case a: lbfgs on b, never timed, is the longest."""
    model = RuntimeModel()
    for strategy, factor in (("gd", 1.0), ("lbfgs", 4.0)):
        for case, size in (("a", 1.0), ("b", 10.0), ("c", 2.0)):
            if (strategy, case) != ("lbfgs", "b"):
                for _ in range(3):
                    model.observe(strategy, case, {}, factor * size)
    guesses = {(s, c): model.expected(Run(s, c)) for s in ("gd", "lbfgs") for c in ("a", "b", "c")}
    assert max(guesses, key=guesses.get) == ("lbfgs", "b")
    assert guesses["lbfgs", "b"] > guesses["gd", "b"] > guesses["lbfgs", "c"]


def test_times_that_say_nothing_are_not_learnt():
    model = RuntimeModel()
    for seconds in (None, 0.0, -1.0, float("nan"), float("inf")):
        model.observe("gd", "a", {}, seconds)
    assert model.observations == []


def test_spread_alternates_strategies_and_cases():
    runs = [Run(s, c) for s in ("x", "y") for c in ("a", "b", "c")]
    order = [(r.strategy, r.case) for r in spread(runs, lambda r: (r.strategy, r.case))]
    assert sorted(order) == sorted((r.strategy, r.case) for r in runs)
    assert order[:4] == [("x", "a"), ("y", "b"), ("x", "b"), ("y", "c")]


def test_the_queue_pops_the_longest_expected_and_learns_between_pops():
    model = RuntimeModel()
    model.observe("s", "short", {}, 1.0)
    model.observe("s", "long", {}, 5.0)
    queue = RunQueue([Run("s", "short"), Run("s", "long"), Run("s", "short"), Run("s", "long")], model, lambda r: r)
    assert queue.pop().case == "long"
    model.observe("s", "short", {}, 50.0)  # the short case turned out long: the median moves past 5
    model.observe("s", "short", {}, 50.0)
    assert queue.pop().case == "short"
    queue.push_front(Run("s", "retry"))
    assert queue.pop().case == "retry"
    assert [r.case for r in queue.ordered()] == ["short", "long"]
    assert len(queue) == 2


def test_the_store_remembers_run_times_for_the_next_matrix(tmp_path):
    chosen = Matrix(
        strategies=["test-sleep"],
        cases=["synth2d-translation"],
        params=[parse_param_option("test-sleep.seconds=0.05,0.3")],
    )
    run_matrix(chosen, tmp_path / "s.sqlite", workers=1, plugins=PLUGINS)
    with Store(tmp_path / "s.sqlite") as store:
        timings = store.timings(["test-sleep", "gd"])
        model = runtime_model(store, plan(chosen, plugin_manager(PLUGINS), 1))
    assert sorted(round(p["seconds"], 2) for _, _, p, _ in timings) == [0.05, 0.3]
    assert all(seconds >= p["seconds"] for _, _, p, seconds in timings)
    quick, slow = (model.expected(run.spec) for run in plan(chosen, plugin_manager(PLUGINS), 1))
    assert slow > quick


def test_runs_start_longest_expected_first(tmp_path):
    """One worker runs them one after another: the order they come back in is the order they started. The plan
    lists them shortest first; what the store learnt of an earlier matrix puts the longest first."""
    pm = plugin_manager(PLUGINS)
    seconds = ["0.01", "0.2", "0.4"]
    chosen = Matrix(
        strategies=["test-sleep"],
        cases=["synth2d-translation"],
        seeds=[0, 1],
        params=[parse_param_option("test-sleep.seconds=" + ",".join(seconds))],
    )
    runs = plan(chosen, pm, 1)
    assert [r.spec.params["seconds"] for r in runs] == [0.01, 0.01, 0.2, 0.2, 0.4, 0.4]
    model = RuntimeModel()
    for value in seconds:  # as if timed by an earlier matrix
        model.observe(
            "test-sleep", "synth2d-translation", {**runs[0].spec.params, "seconds": float(value)}, 0.1 + float(value)
        )
    order: list[RunRecord] = []
    with LocalExecutor(1, plugins=PLUGINS) as executor:
        executor.run(runs, order.append, model=model)
    assert [r.params["seconds"] for r in order] == [0.4, 0.4, 0.2, 0.2, 0.01, 0.01]
