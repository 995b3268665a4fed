"""The record checked against independent computations on the same Execute."""

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic_cases import warped_pair

import regbench
from regbench import Case, Setup
from regbench.util.transforms import transform_from_dict


class Observed(regbench.Strategy):
    """Gradient descent with its own observers beside the harness's: an independent count of the events."""

    def __init__(self, name="observed", configure=None):
        super().__init__(name)
        self.configure = configure or (
            lambda m: m.SetOptimizerAsGradientDescent(50.0, 15, 1e-12, 50, estimateLearningRate=m.Never)
        )
        self.events: list[tuple[int, float]] = []
        self.end_value = None
        self.end_level = None

    def run(self, ctx, params):
        method = ctx.new_method()
        self.configure(method)
        method.SetOptimizerScalesFromPhysicalShift()

        def on_iteration():
            self.events.append((method.GetCurrentLevel(), method.GetMetricValue()))

        def on_end():
            self.end_value = method.GetMetricValue()
            self.end_level = method.GetCurrentLevel()

        method.AddCommand(sitk.sitkIterationEvent, on_iteration)
        method.AddCommand(sitk.sitkEndEvent, on_end)
        return ctx.execute(method).transform


@pytest.fixture(scope="module")
def translation_case():
    truth = sitk.TranslationTransform(2, (3.0, -2.0))
    data = warped_pair((64, 64), truth, seed=5, noise=0.0)
    return Case("t64", lambda: data, Setup(transform="translation", shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)))


def test_iterations_equal_the_number_of_iteration_events(pm, translation_case):
    strategy = Observed()
    record = regbench.run_one(strategy, translation_case, seed=1, pm=pm)
    assert record.status == "ok", record.error
    assert record.iterations == len(strategy.events) == 30
    per_level = [sum(1 for level, _ in strategy.events if level == i) for i in range(2)]
    assert [level.iterations for level in record.levels] == per_level == [15, 15]
    # the level's own counter, read from the stale value at the next level event and at the end event
    assert [level.optimizer_iteration for level in record.levels] == [15, 15]
    assert record.trace.metric == [value for _, value in strategy.events]
    assert record.hit_iteration_limit


def test_final_metric_is_the_end_event_value(pm, translation_case):
    strategy = Observed()
    record = regbench.run_one(strategy, translation_case, seed=1, pm=pm)
    assert record.final_metric == strategy.end_value
    assert strategy.end_level == 2  # one past the last level index, as reference §3.2 says
    # at the iteration cap, GD reports the value before its last step (reference §3.4)
    assert record.final_metric == strategy.events[-1][1]


def _metric_evaluate(case, transform):
    data = case.load()
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetInitialTransform(transform)
    return method.MetricEvaluate(sitk.Cast(data.fixed, sitk.sitkFloat32), sitk.Cast(data.moving, sitk.sitkFloat32))


def test_dense_metric_equals_a_separate_metric_evaluate(pm, translation_case):
    record = regbench.run_one(Observed(), translation_case, seed=1, pm=pm)
    returned = transform_from_dict(record.transform)
    assert record.final_metric_dense == pytest.approx(_metric_evaluate(translation_case, returned), rel=1e-12)
    assert record.initial_metric_dense == pytest.approx(
        _metric_evaluate(translation_case, sitk.TranslationTransform(2)), rel=1e-12
    )
    assert record.final_metric_dense < record.initial_metric_dense


class ReturnsGiven(regbench.Strategy):
    """Executes nothing useful, then returns a chosen transform: the error is known exactly."""

    def __init__(self, offset):
        super().__init__("given")
        self.offset = offset

    def run(self, ctx, params):
        method = ctx.new_method()
        method.SetOptimizerAsGradientDescent(1.0, 0)
        ctx.execute(method)
        return sitk.TranslationTransform(2, self.offset)


def test_error_against_truth_for_a_known_translation(pm, translation_case):
    record = regbench.run_one(ReturnsGiven((3.5, -2.0)), translation_case, pm=pm)
    assert record.error_mean == pytest.approx(0.5, abs=1e-9)
    assert record.error_max == pytest.approx(0.5, abs=1e-9)
    assert record.error_mean_fg == pytest.approx(0.5, abs=1e-9)
    assert record.initial_error_mean == pytest.approx(np.hypot(3.0, 2.0), abs=1e-9)
    record = regbench.run_one(ReturnsGiven((3.0, -2.0)), translation_case, pm=pm)
    assert record.error_max == pytest.approx(0.0, abs=1e-9)


def test_transform_round_trips_exactly(pm):
    record = regbench.run_one("lbfgs2", "synth2d-affine", seed=1, params={"number_of_iterations": 5}, pm=pm)
    rebuilt = transform_from_dict(record.transform)
    assert list(rebuilt.GetParameters()) == record.transform["parameters"]
    again = regbench.RunRecord.from_json(record.to_json())
    assert transform_from_dict(again.transform).GetParameters() == rebuilt.GetParameters()


def test_lbfgs2_counts_both_internal_runs_per_level(pm):
    truth = sitk.AffineTransform(2)
    truth.SetCenter((31.5, 31.5))
    truth.SetMatrix((1.05, 0.04, -0.03, 0.96))
    truth.SetTranslation((2.0, -1.5))
    data = warped_pair((64, 64), truth, seed=7, noise=0.0)
    case = Case("a64", lambda: data, Setup(transform="affine", shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)))
    params = {"number_of_iterations": 3, "solution_accuracy": 1e-12}
    record = regbench.run_one("lbfgs2", case, seed=1, params=params, pm=pm)
    assert record.stop_condition == "Reached maximum number of iterations"
    last = record.levels[-1]
    assert last.optimizer_iteration == 3  # SimpleITK's counter sees one run of libLBFGS...
    assert last.iterations == 6  # ...the events include the second run from its result (reference §7)
    assert record.iterations == sum(level.iterations for level in record.levels) == len(record.trace)


def test_an_exception_in_execute_is_an_error_record(pm, translation_case):
    def broken(method):
        method.SetOptimizerAsGradientDescent(0.5, 5)
        method.AddCommand(sitk.sitkIterationEvent, lambda: 1 / 0)

    record = regbench.run_one(Observed(configure=broken), translation_case, pm=pm)
    assert record.status == "error"
    assert record.outcome == "error"
    assert "Python Callable" in record.error
    assert record.segments and record.segments[0].stop_category == "error"
    regbench.RunRecord.from_json(record.to_json())  # still a complete, strict-JSON record


def test_a_strategy_that_raises_is_an_error_record(pm, translation_case):
    class Raises(regbench.Strategy):
        def run(self, ctx, params):
            raise ValueError("bad configuration")

    record = regbench.run_one(Raises("raises"), translation_case, pm=pm)
    assert (record.status, record.error) == ("error", "ValueError: bad configuration")


def test_seed_and_threads_make_runs_repeat_bit_for_bit(pm):
    case = Case(
        "sampled",
        pm.get_case("synth2d-affine").loader,
        Setup(
            transform="affine",
            sampling="random",
            sampling_percentage=(0.2,),
            shrink_factors=(2, 1),
            smoothing_sigmas=(1.0, 0.0),
        ),
    )
    params = {"number_of_iterations": 20}
    a = regbench.run_one("gd", case, seed=3, params=params, threads=1, pm=pm)
    b = regbench.run_one("gd", case, seed=3, params=params, threads=1, pm=pm)
    c = regbench.run_one("gd", case, seed=4, params=params, threads=1, pm=pm)
    assert a.trace.metric == b.trace.metric
    assert a.transform == b.transform
    assert a.trace.metric != c.trace.metric  # the seed reaches the sampler
    assert (a.threads, a.sampling_seed) == (1, 4)
    assert a.key == b.key != c.key


def test_iteration_observers_see_every_event(pm, translation_case):
    seen = []

    class Watcher:
        @regbench.hookimpl
        def regbench_record_iteration(self, run, event):
            seen.append((event.level, event.iteration, event.metric))

    finished = []

    class Finisher:
        @regbench.hookimpl
        def regbench_run_finished(self, record):
            finished.append(record.key)

    pm.register(Watcher())
    pm.register(Finisher())
    record = regbench.run_one(Observed(), translation_case, pm=pm)
    assert [m for _, _, m in seen] == record.trace.metric
    assert [i for _, i, _ in seen[:3]] == [0, 1, 2]
    assert finished == [record.key]


def test_evaluate_hook_fills_fields_and_measures(pm, translation_case):
    class Extra:
        @regbench.hookimpl
        def regbench_evaluate(self, case, transform, record):
            return {"dice_like": 0.75, "error_p95": 123.0}

    pm.register(Extra())
    record = regbench.run_one(ReturnsGiven((3.0, -2.0)), translation_case, pm=pm)
    assert record.measures["dice_like"] == 0.75
    assert record.error_p95 in (123.0, pytest.approx(0.0, abs=1e-9))  # hook order decides; both land in the field


def test_returned_best_is_false_when_gd_overshoots(pm, translation_case):
    # a learning rate far too large: the last iterate is worse than the best visited
    def overshoot(method):
        method.SetOptimizerAsGradientDescent(6000.0, 12, 1e-12, 50, estimateLearningRate=method.Never)

    record = regbench.run_one(Observed(configure=overshoot), translation_case, pm=pm)
    assert record.status == "ok"
    best_visited = min(level.best_metric for level in record.levels if level.index == 1)
    assert record.final_metric_dense > 2 * best_visited
    assert record.returned_best is False

    def gentle(method):
        method.SetOptimizerAsGradientDescent(1000.0, 12, 1e-12, 50, estimateLearningRate=method.Never)

    record = regbench.run_one(Observed(configure=gentle), translation_case, pm=pm)
    assert record.returned_best is True
    assert record.error_mean < 0.01


def test_a_failing_evaluate_or_finished_plugin_loses_nothing(pm, translation_case):
    class Broken:
        @regbench.hookimpl
        def regbench_evaluate(self, record):
            raise RuntimeError("tracker down")

        @regbench.hookimpl
        def regbench_run_finished(self, record):
            raise RuntimeError("tracker down")

    pm.register(Broken(), name="broken-tracker")
    record = regbench.run_one(ReturnsGiven((3.5, -2.0)), translation_case, pm=pm)
    assert record.status == "ok"
    assert record.error_mean == pytest.approx(0.5, abs=1e-9)  # the built-in evaluation still ran
    failures = [n for n in record.notes if "broken-tracker" in n]
    assert len(failures) == 2 and "regbench_evaluate" in failures[0] and "regbench_run_finished" in failures[1]


def test_peak_rss_is_per_run_not_the_process_lifetime_peak(pm, translation_case):
    import psutil

    baseline = psutil.Process().memory_info().rss / 2**20  # what the test process holds already (grows with the suite)
    ballast = np.ones(400 * 1024 * 1024 // 8)  # 400 MB touched, then released before the run
    ballast.sum()
    del ballast
    record = regbench.run_one(ReturnsGiven((3.0, -2.0)), translation_case, pm=pm)
    assert 0 < record.peak_rss_mb < baseline + 300  # the 400 MB peak before the run is not this run's
