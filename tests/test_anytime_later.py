"""A run whose kept positions are evaluated later (``evaluate_later``: what a matrix run does), completed from its
stored record alone, equals the same run evaluated during the run: trace columns, anytime curve, best or last,
notes and every other field, to the bit, on the built-in cases."""

from __future__ import annotations

import pytest
import SimpleITK as sitk

import regbench
from regbench.record import RunRecord
from regbench.run import complete_evaluation, execute_record, new_record
from regbench.trace import AFTER_RUN_COLUMNS

#: Built-in synthetic cases (no download) × strategies with short caps: global, B-spline, MI, 3D, pyramids.
CASES = ["synth2d-affine", "synth2d-bspline", "synth2d-rigid-mi", "synth3d-affine", "synth2d-bspline-mi"]
STRATEGIES = {"lbfgs2": {"number_of_iterations": 15}, "rsgd": {"number_of_iterations": 25}, "cg": {}}


@pytest.fixture(scope="module")
def pm():
    return regbench.make_plugin_manager(entrypoints=False)


class ThenLeaves(regbench.SingleRunStrategy):
    """Gradient descent, then a returned transform that maps the fixed image far outside the moving one."""

    metric_pairing = "previous"

    def configure(self, method, params):
        method.SetOptimizerAsGradientDescent(learningRate=1.0, numberOfIterations=12)
        method.SetOptimizerScalesFromPhysicalShift()

    def run(self, ctx, params):
        super().run(ctx, params)
        return sitk.TranslationTransform(2, (1e5, 0.0))


def run(pm, strategy, case, params, *, later):
    strategy = strategy if isinstance(strategy, regbench.Strategy) else pm.get_strategy(strategy)
    record, parsed = new_record(strategy, case, 3, params, None)
    return execute_record(record, strategy, case, parsed, pm, evaluate_later=later)


def stored_then_completed(pm, strategy, case, params) -> RunRecord:
    pending = run(pm, strategy, case, params, later=True)
    stored = RunRecord.from_json(pending.to_json())  # as the store holds it: no dense values at the kept positions
    assert stored.evaluation_plan is not None
    assert len(stored.anytime) == 0 and all(v is None for v in stored.trace.dense_metric)
    return complete_evaluation(stored, case.for_seed(stored.seed))


def assert_same_record(later: RunRecord, during: RunRecord) -> None:
    assert later.evaluation_plan is None
    for name in AFTER_RUN_COLUMNS:
        assert getattr(later.trace, name) == getattr(during.trace, name), name
    assert later.without_timings() == during.without_timings()


@pytest.mark.parametrize("case_name", CASES)
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_positions_evaluated_later_equal_those_evaluated_during_the_run(pm, case_name, strategy):
    case = pm.get_case(case_name)
    during = run(pm, strategy, case, STRATEGIES[strategy], later=False)
    assert during.status == "ok", during.error
    assert len(during.anytime) > 2 and any(v is not None for v in during.trace.dense_metric)
    assert_same_record(stored_then_completed(pm, strategy, case, STRATEGIES[strategy]), during)


def test_a_run_that_leaves_the_image_completes_as_during_the_run(pm):
    """No overlap: the record holds None where the run saw DBL_MAX; completing later reads what the run saw."""
    case, strategy = pm.get_case("synth2d-affine"), ThenLeaves("then-leaves")
    during = run(pm, strategy, case, {}, later=False)
    assert during.outcome == "no_overlap" and during.final_metric_dense is None
    assert during.returned_best is False and len(during.anytime) > 2
    assert_same_record(stored_then_completed(pm, strategy, case, {}), during)


def test_a_complete_record_is_left_as_it_is(pm):
    case = pm.get_case("synth2d-affine")
    record = run(pm, "rsgd", case, {"number_of_iterations": 10}, later=False)
    before = record.to_json()
    assert complete_evaluation(record, case).to_json() == before
    assert "evaluation_plan" not in before  # a complete record's JSON is what it was before plans existed
