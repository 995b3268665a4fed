"""The gradient-descent family and its learning-rate policies: what SimpleITK really does with the rate."""

import pytest

import regbench
from regbench import Case, Setup


@pytest.fixture(scope="module")
def builtin_pm():
    return regbench.make_plugin_manager(entrypoints=False)


@pytest.fixture(scope="module")
def dense_affine(builtin_pm):
    """The built-in affine problem at one full-resolution level: every iteration value is a dense value."""
    return Case("affine-dense", builtin_pm.get_case("synth2d-affine").loader, Setup(transform="affine"))


def rates_by_level(record):
    rates = {}
    for level, rate in zip(record.trace.level, record.trace.learning_rate, strict=True):
        rates.setdefault(level, []).append(rate)
    return rates


def test_once_replaces_the_requested_rate_at_the_start_of_each_level(builtin_pm):
    requested = 1.0
    record = regbench.run_one(
        "gd-once",
        "synth2d-affine",
        params={"learning_rate": requested, "number_of_iterations": 5},
        threads=1,
        pm=builtin_pm,
    )
    assert record.status == "ok", record.error
    rates = rates_by_level(record)
    assert set(rates) == {0, 1}
    for level_rates in rates.values():
        assert len(set(level_rates)) == 1  # estimated once, then fixed for the level
        assert level_rates[0] != pytest.approx(requested, rel=0.01)
    assert rates[0][0] != pytest.approx(rates[1][0], rel=0.01)  # re-estimated at the finer level
    assert [level.learning_rate_first for level in record.levels] == [rates[0][0], rates[1][0]]


def test_estimation_does_nothing_without_a_scales_estimator(builtin_pm):
    record = regbench.run_one(
        "gd-once",
        "synth2d-affine",
        params={"learning_rate": 3.0, "number_of_iterations": 3, "scales": "none"},
        threads=1,
        pm=builtin_pm,
    )
    assert set(record.trace.learning_rate) == {3.0}
    assert any("has no effect without a scales estimator" in note for note in record.notes)


def test_each_iteration_changes_the_rate_within_a_level(builtin_pm):
    record = regbench.run_one(
        "gd-each-iteration", "synth2d-affine", params={"number_of_iterations": 8}, threads=1, pm=builtin_pm
    )
    assert len(set(rates_by_level(record)[0])) > 1


def test_never_uses_the_rate_as_given(builtin_pm):
    params = {"estimate_learning_rate": "never", "learning_rate": 250.0, "number_of_iterations": 4}
    record = regbench.run_one("gd", "synth2d-affine", params=params, threads=1, pm=builtin_pm)
    assert set(record.trace.learning_rate) == {250.0}
    assert len(record.segments) == 1  # one execution over the pyramid


def test_auto_scales_follow_the_transform_model(builtin_pm):
    def notes(case, **params):
        params = {"number_of_iterations": 2, **params}
        return regbench.run_one("gd", case, params=params, threads=1, pm=builtin_pm).notes

    assert "scales 'auto' resolved to 'physical_shift' for this affine case" in notes("synth2d-affine")
    # A B-spline keeps its tiny shift scales when the rate is estimated (the estimate compensates) ...
    assert "scales 'auto' resolved to 'physical_shift' for this bspline case" in notes("synth2d-bspline")
    # ... and drops them under a raw rate, which they would make explode.
    raw = notes("synth2d-bspline", estimate_learning_rate="never", learning_rate=250)
    assert "scales 'auto' resolved to 'none' for this bspline case" in raw


def test_jacobian_scales_on_a_bspline_are_refused_with_the_reason(builtin_pm):
    record = regbench.run_one(
        "gd", "synth2d-bspline", params={"scales": "jacobian", "number_of_iterations": 2}, threads=1, pm=builtin_pm
    )
    assert record.status == "error"
    assert record.error.startswith("UnsupportedSetup: scales 'jacobian' cannot be used with a B-spline")
    assert "use scales 'physical_shift', 'index_shift' or 'none'" in record.error
    assert record.segments == []  # refused before any Execute
    # the same scales are fine on a global transform
    ok = regbench.run_one(
        "gd", "synth2d-affine", params={"scales": "jacobian", "number_of_iterations": 2}, threads=1, pm=builtin_pm
    )
    assert ok.status == "ok", ok.error


@pytest.mark.parametrize("name", ["rsgd", "gdls", "cg"])
def test_family_members_use_their_own_optimizer(builtin_pm, name):
    record = regbench.run_one(name, "synth2d-affine", params={"number_of_iterations": 2}, threads=1, pm=builtin_pm)
    prefix = {
        "rsgd": "RegularStepGradientDescentOptimizerv4",
        "gdls": "GradientDescentLineSearchOptimizerv4Template",
        "cg": "ConjugateGradientLineSearchOptimizerv4Template",
    }[name]
    assert record.stop_condition.startswith(prefix)


def test_return_best_beats_the_last_iterate_when_gd_overshoots(builtin_pm, dense_affine):
    # A raw rate far too large for this problem: plain gradient descent ends worse than it started.
    params = {"estimate_learning_rate": "never", "learning_rate": 1500.0, "number_of_iterations": 40}
    plain = regbench.run_one("gd", dense_affine, params=params, threads=1, pm=builtin_pm)
    best = regbench.run_one("gd-best", dense_affine, params=params, threads=1, pm=builtin_pm)
    assert plain.status == best.status == "ok"
    # its error barely moved (no_progress, which precedes diverged) and its dense metric ended worse (diverged)
    assert plain.outcome == "no_progress" and "diverged" in plain.flags and plain.returned_best is False
    assert plain.trace.metric == best.trace.metric  # the same optimization, only the returned transform differs
    assert best.final_metric_dense <= plain.final_metric_dense
    assert best.final_metric_dense < best.initial_metric_dense
    assert best.returned_best is True
    # The value at callback k belongs to the position of callback k-1: paired right, the returned transform's
    # dense metric is exactly the smallest value the trace saw.
    assert best.final_metric_dense == pytest.approx(min(best.trace.metric), rel=1e-9)
    assert best.measures["return_best_chose"] == "best"
    assert best.trace.metric[best.measures["return_best_iteration"]] == min(best.trace.metric)


def test_return_best_records_the_cost_of_copying_positions(builtin_pm, dense_affine):
    record = regbench.run_one("gd-best", dense_affine, params={"number_of_iterations": 15}, threads=1, pm=builtin_pm)
    measures = record.measures
    assert measures["position_copies"] == record.iterations  # one copy per iteration at the last level
    assert 0 < measures["position_copy_s"] < record.wall_time_s
    assert measures["position_copy_s_per_iteration"] == pytest.approx(measures["position_copy_s"] / record.iterations)
    assert 0 < measures["position_copy_fraction"] < 1


def test_level_schedule_runs_one_execution_per_level_with_its_rate(builtin_pm):
    record = regbench.run_one(
        "gd-level-schedule",
        "synth2d-affine",
        params={"learning_rates": "300,150", "rate_base": "raw", "number_of_iterations": 4},
        threads=1,
        pm=builtin_pm,
    )
    assert record.status == "ok", record.error
    assert [[level.index for level in s.levels] for s in record.segments] == [[0], [1]]
    assert [s.learning_rate for s in record.segments] == [300.0, 150.0]
    assert [level.shrink_factor for level in record.levels] == [2, 1]


def test_level_schedule_rates_are_multiples_of_the_estimated_rate(builtin_pm):
    params = {"number_of_iterations": 20}
    schedule = regbench.run_one("gd-level-schedule", "synth2d-affine", params=params, threads=1, pm=builtin_pm)
    gd = regbench.run_one("gd", "synth2d-affine", params=params, threads=1, pm=builtin_pm)
    assert schedule.status == "ok", schedule.error
    estimated = schedule.measures["estimated_learning_rate"]
    # The first level's factor 2 doubles its maximum step; ITK's estimate is linear in it, so the estimated
    # rate (for factor 1) is the one plain gd estimates.
    assert estimated == pytest.approx(gd.measures["estimated_learning_rate"], rel=1e-9)
    assert schedule.measures["learning_rate_halvings"] == 0
    assert [s.learning_rate for s in schedule.segments] == pytest.approx([2 * estimated, estimated], rel=1e-12)


def test_restarts_record_one_segment_per_rate_and_sum_iterations(builtin_pm):
    rates = [400.0, 200.0, 100.0]
    record = regbench.run_one(
        "gd-restarts",
        "synth2d-affine",
        params={"learning_rates": rates, "rate_base": "raw", "number_of_iterations": 6},
        threads=1,
        pm=builtin_pm,
    )
    assert record.status == "ok", record.error
    assert len(record.segments) == len(rates)
    assert [s.learning_rate for s in record.segments] == rates
    assert record.iterations == sum(s.iterations for s in record.segments)
    assert record.iterations == len(record.trace)  # gradient descent: one event per iteration
    # the first execution runs the whole pyramid, the restarts the finest level
    assert [[level.index for level in s.levels] for s in record.segments] == [[0, 1], [1], [1]]


def test_restarts_default_to_a_geometric_sequence(builtin_pm):
    record = regbench.run_one(
        "gd-restarts",
        "synth2d-affine",
        params={
            "first_learning_rate": 400,
            "rate_factor": 0.25,
            "executions": 3,
            "number_of_iterations": 2,
            "rate_base": "raw",
        },
        threads=1,
        pm=builtin_pm,
    )
    assert [s.learning_rate for s in record.segments] == [400.0, 100.0, 25.0]


def test_restart_rates_are_relative_to_the_held_rate(builtin_pm):
    record = regbench.run_one(
        "gd-restarts", "synth2d-affine", params={"number_of_iterations": 20}, threads=1, pm=builtin_pm
    )
    assert record.status == "ok", record.error
    held = record.measures["estimated_learning_rate"]
    assert record.measures["learning_rate_halvings"] == 0
    # gd over the pyramid (one execution per level) at the held rate, then the finest level at 1/2, 1/4, 1/8 of it
    assert [[level.index for level in s.levels] for s in record.segments] == [[0], [1], [1], [1], [1]]
    expected = [held, held, held / 2, held / 4, held / 8]
    assert [s.learning_rate for s in record.segments] == pytest.approx(expected, rel=1e-12)


def test_restarts_keep_best_returns_the_lowest_metric_segment(builtin_pm):
    # Smaller rates refine; the last one is far too large and throws the result away (no overlap: no value).
    record = regbench.run_one(
        "gd-restarts-best",
        "synth2d-affine",
        params={"learning_rates": "300,150,20000", "rate_base": "raw", "number_of_iterations": 20},
        threads=1,
        pm=builtin_pm,
    )
    assert record.status == "ok", record.error
    metrics = record.measures["restart_metrics"]
    assert len(metrics) == 3
    assert metrics[2] is None
    kept = record.measures["restart_kept"]
    valued = {i: value for i, value in enumerate(metrics) if value is not None}
    assert kept == min(valued, key=valued.get)
    assert record.final_metric_dense == pytest.approx(metrics[kept], rel=1e-9)
    assert any(note.startswith(f"kept execution {kept} of 3") for note in record.notes)
    # The executions after the kept one (one segment each under raw rates) were discarded: they are rejected.
    assert kept < 2 and len(record.segments) == 3
    assert [s.rejected for s in record.segments] == [i > kept for i in range(3)]
