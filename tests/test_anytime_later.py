"""The kept positions evaluated later, from the stored record and the run's plan alone, give the very numbers
that the evaluation during the run gives (trace columns, anytime curve, best or last), on the built-in cases."""

from __future__ import annotations

import json

import pytest

import regbench
import regbench.run
from regbench.evaluation import postrun
from regbench.record import RunRecord
from regbench.trace import AFTER_RUN_COLUMNS

#: Built-in synthetic cases (no download) × strategies with short caps: global, B-spline, MI, 3D, pyramids.
CASES = ["synth2d-affine", "synth2d-bspline", "synth2d-rigid-mi", "synth3d-affine", "synth2d-bspline-mi"]
STRATEGIES = {"lbfgs2": {"number_of_iterations": 15}, "rsgd": {"number_of_iterations": 25}, "cg": {}}
#: What the evaluation after the run writes (beside the trace's after-run columns); the rest is left alone.
FIELDS = (
    "anytime",
    "returned_best",
    "best_visited_metric_dense",
    "best_visited_error_mean",
    "regret_metric_dense",
    "regret_error_mean",
    "notes",
)


@pytest.fixture(scope="module")
def pm():
    return regbench.make_plugin_manager(entrypoints=False)


@pytest.mark.parametrize("case_name", CASES)
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_positions_evaluated_later_equal_those_evaluated_during_the_run(pm, monkeypatch, case_name, strategy):
    case = pm.get_case(case_name)
    saved: list[tuple[str, str]] = []

    def plan_then_complete(record, ctx, ended_s):  # evaluate_trace, keeping what a later evaluation starts from
        plan = postrun.plan_trace(record, ctx, ended_s)
        saved.append((record.to_json(), json.dumps(plan.to_dict())))
        postrun.complete_trace(record, ctx.case, plan)

    monkeypatch.setattr(regbench.run, "evaluate_trace", plan_then_complete)
    during = regbench.run_one(strategy, case, seed=3, params=STRATEGIES[strategy], pm=pm)
    assert during.status == "ok", during.error
    ((record_json, plan_json),) = saved
    later = RunRecord.from_json(record_json)  # as the store holds it: no dense values at the kept positions
    assert len(later.anytime) == 0 and all(v is None for v in later.trace.dense_metric)
    postrun.complete_trace(later, case.for_seed(later.seed), postrun.TracePlan.from_dict(json.loads(plan_json)))
    for name in AFTER_RUN_COLUMNS:
        assert getattr(later.trace, name) == getattr(during.trace, name), name
    for name in FIELDS:
        assert getattr(later, name) == getattr(during, name), name
    assert len(during.anytime) > 2 and any(v is not None for v in during.trace.dense_metric)


def test_evaluate_trace_is_plan_then_complete(pm):
    """The default path (no patch) gives the same record as the two halves: the test above checks the halves."""
    case = pm.get_case("synth2d-affine")
    record = regbench.run_one("rsgd", case, seed=1, params={"number_of_iterations": 25}, pm=pm)
    assert record.best_visited_metric_dense is not None and len(record.anytime) > 2
