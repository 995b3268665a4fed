"""Gradient-free baselines: seeding, scales, iteration counting."""

import pytest
import SimpleITK as sitk
from regbench_plugins.gradient_free import corner_shift_scales

import regbench


@pytest.fixture(scope="module")
def builtin_pm():
    return regbench.make_plugin_manager(entrypoints=False)


def test_corner_shift_scales_are_shifts_per_unit_not_squared():
    image = sitk.Image(128, 128, sitk.sitkFloat32)
    affine = sitk.AffineTransform(2)
    affine.SetCenter((63.5, 63.5))
    scales = corner_shift_scales(affine, image)
    # a matrix entry moves the farthest corner by its distance from the centre along one axis
    assert scales == pytest.approx([63.5, 63.5, 63.5, 63.5, 1.0, 1.0])
    assert corner_shift_scales(sitk.TranslationTransform(2), image) == pytest.approx([1.0, 1.0])


def test_one_plus_one_is_seeded_from_the_run_seed(builtin_pm):
    params = {"number_of_iterations": 15}
    a = regbench.run_one("one-plus-one", "synth2d-affine", seed=5, params=params, threads=1, pm=builtin_pm)
    b = regbench.run_one("one-plus-one", "synth2d-affine", seed=5, params=params, threads=1, pm=builtin_pm)
    c = regbench.run_one("one-plus-one", "synth2d-affine", seed=6, params=params, threads=1, pm=builtin_pm)
    assert a.measures["one_plus_one_seed"] == b.measures["one_plus_one_seed"] != c.measures["one_plus_one_seed"]
    assert a.transform == b.transform
    assert a.transform != c.transform


def test_amoeba_counts_its_own_iterations_not_evaluation_events(builtin_pm):
    record = regbench.run_one("amoeba", "synth2d-affine", params={"number_of_iterations": 30}, threads=1, pm=builtin_pm)
    assert record.status == "ok", record.error
    for level in record.levels:
        assert level.iterations == level.optimizer_iteration
    assert record.hit_iteration_limit


def test_powell_reaches_the_affine_truth_with_its_defaults(builtin_pm):
    record = regbench.run_one("powell", "synth2d-affine", threads=1, pm=builtin_pm)
    assert record.status == "ok", record.error
    assert record.error_mean < 0.1 * record.initial_error_mean
