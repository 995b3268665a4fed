"""LBFGS2's validated parameters and LBFGSB's limits (scales ignored, restarts per level, growing meshes)."""

import pytest
from regbench_plugins.synthetic_cases import bspline_2d

import regbench
from regbench import Case, Setup
from regbench.strategy import ParameterError


@pytest.fixture(scope="module")
def builtin_pm():
    return regbench.make_plugin_manager(entrypoints=False)


@pytest.fixture(scope="module")
def growing_mesh_case():
    return Case(
        "bspline-growing",
        bspline_2d,
        Setup(
            transform="bspline",
            mesh_size=(4,),
            mesh_scale_factors=(1, 2),
            shrink_factors=(2, 1),
            smoothing_sigmas=(1.0, 0.0),
        ),
    )


def test_hessian_accuracy_zero_is_refused_with_the_valid_range(builtin_pm):
    # 0 would crash the Python process with SIGSEGV inside libLBFGS.
    with pytest.raises(ParameterError) as info:
        regbench.run_one("lbfgs2", "synth2d-affine", params={"hessian_approximate_accuracy": 0}, pm=builtin_pm)
    message = str(info.value)
    assert "strategy 'lbfgs2': hessian_approximate_accuracy: 0 is out of range; must be ≥ 1 and ≤ 100" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("line_search_accuracy", 0.7, "must be > 0 and ≤ 0.5"),
        ("line_search_minimum_step", 0, "must be > 0"),
        ("scales", "shift", "'shift' is not one of 'auto', 'none', 'physical_shift'"),
    ],
)
def test_other_lbfgs2_values_are_checked(builtin_pm, name, value, expected):
    with pytest.raises(ParameterError, match=expected):
        builtin_pm.get_strategy("lbfgs2").parse_params({name: value})


def test_lbfgs2_counts_the_events_of_both_internal_runs(builtin_pm):
    record = regbench.run_one("lbfgs2", "synth2d-affine", params={"number_of_iterations": 3}, threads=1, pm=builtin_pm)
    for level in record.levels:
        # SimpleITK's counter sees one libLBFGS run; the events include the second one too.
        assert level.iterations >= level.optimizer_iteration
    assert record.iterations == len(record.trace)
    assert record.iterations > sum(level.optimizer_iteration for level in record.levels)


def test_lbfgsb_on_a_growing_mesh_is_an_explained_error_record(builtin_pm, growing_mesh_case):
    record = regbench.run_one("lbfgsb", growing_mesh_case, threads=1, pm=builtin_pm)
    assert record.status == "error" and record.outcome == "error"
    assert record.error.startswith("UnsupportedSetup: LBFGSB cannot optimize a B-spline whose mesh grows")
    assert "mesh_scale_factors [1, 2]" in record.error
    assert "Use a case with a fixed mesh" in record.error
    assert record.segments == []  # refused before any Execute
    assert record.to_json()  # strict JSON all the same


def test_the_refusal_is_what_simpleitk_would_do(builtin_pm, growing_mesh_case):
    # Without the up-front check, Execute fails on the grown mesh (reference §4): the refusal is not a guess.
    class RawLBFGSB(regbench.SingleRunStrategy):
        count_iterations = "optimizer"

        def configure(self, method, params):
            method.SetOptimizerAsLBFGSB(numberOfIterations=5)

    record = regbench.run_one(RawLBFGSB("raw-lbfgsb"), growing_mesh_case, threads=1, pm=builtin_pm)
    assert record.status == "error"
    assert "must equal number of local parameters" in record.error


def test_gradient_descent_follows_the_growing_mesh(builtin_pm, growing_mesh_case):
    record = regbench.run_one("gd", growing_mesh_case, params={"number_of_iterations": 3}, threads=1, pm=builtin_pm)
    assert record.status == "ok", record.error
    assert len(record.transform["parameters"]) == 2 * (2 * 4 + 3) ** 2  # 8×8 mesh, cubic: 11² control points


def test_lbfgsb_notes_that_it_ignores_scales_and_runs_one_execution_per_level(builtin_pm):
    record = regbench.run_one("lbfgsb", "synth2d-affine", params={"number_of_iterations": 5}, threads=1, pm=builtin_pm)
    assert record.status == "ok", record.error
    assert any(note.startswith("LBFGSB ignores parameter scales") for note in record.notes)
    assert [[level.index for level in s.levels] for s in record.segments] == [[0], [1]]
    # an event fires per function evaluation; iterations come from the optimizer's own counter
    for level in record.levels:
        assert level.iterations == level.optimizer_iteration
    assert len(record.trace) > record.iterations


def test_lbfgsb_in_one_execution_restarts_the_finest_level_from_the_initial_parameters(builtin_pm):
    params = {"number_of_iterations": 20}
    one = regbench.run_one("lbfgsb-one-execution", "synth2d-affine", params=params, threads=1, pm=builtin_pm)
    per_level = regbench.run_one("lbfgsb", "synth2d-affine", params=params, threads=1, pm=builtin_pm)
    assert len(one.segments) == 1 and len(one.segments[0].levels) == 2
    assert any("restarts every pyramid level from the initial parameters" in note for note in one.notes)
    # The finest level is the dense metric: its first value in one execution is the initial transform's.
    assert one.levels[1].first_metric == pytest.approx(one.initial_metric_dense, rel=1e-9)
    # One execution per level starts the finest level from the coarse result instead.
    assert per_level.levels[1].first_metric < 0.5 * per_level.initial_metric_dense


def test_lbfgsb_bounds_must_be_ordered(builtin_pm):
    record = regbench.run_one(
        "lbfgsb", "synth2d-affine", params={"lower_bound": 1, "upper_bound": -1}, threads=1, pm=builtin_pm
    )
    assert record.status == "error"
    assert "lower_bound 1.0 must be below upper_bound -1.0" in record.error


def test_lbfgsb_under_mattes_mi_is_bounded_to_half_the_image(builtin_pm):
    # Unbounded, a long quasi-Newton step takes every sample out of the moving image and Mattes MI throws.
    unbounded = regbench.run_one(
        "lbfgsb", "synth2d-rigid-mi", params={"extent_bounds": "never"}, threads=1, pm=builtin_pm
    )
    assert unbounded.outcome == "no_overlap"
    assert "All samples map outside moving image buffer" in unbounded.error
    bounded = regbench.run_one("lbfgsb", "synth2d-rigid-mi", threads=1, pm=builtin_pm)
    assert bounded.status == "ok", bounded.error
    assert bounded.error_mean_fg < 0.1 * bounded.initial_error_mean_fg
    assert "every parameter bounded to [-64, 64] (extent_bounds: half the fixed image's extent)" in bounded.notes


def test_lbfgsb_extent_bounds_leave_other_metrics_alone(builtin_pm):
    record = regbench.run_one("lbfgsb", "synth2d-affine", params={"number_of_iterations": 3}, threads=1, pm=builtin_pm)
    assert not any("extent_bounds" in note for note in record.notes)


def test_lbfgs2_can_still_step_out_of_the_image_under_mattes_mi(builtin_pm):
    # The limit the docs state: no LBFGS2 parameter bounds the step length (see regbench_plugins.lbfgs).
    record = regbench.run_one("lbfgs2", "synth2d-rigid-mi", threads=1, pm=builtin_pm)
    assert record.outcome == "no_overlap"
    assert "All samples map outside moving image buffer" in record.error
