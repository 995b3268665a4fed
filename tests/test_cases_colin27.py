"""The Colin27 cases: real anatomy with AAL labels under known warps, and the unavailable path."""

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins import colin27_cases
from regbench_plugins.colin27_cases import CASES, DATA_ENV, GRID, LABEL_COUNT

import regbench
from regbench import CaseError
from regbench.cases.case import initial_mapping
from regbench.evaluation.measures import dense_metric, jacobian_determinant
from regbench.run import instance_key

AVAILABLE = all((colin27_cases.data_dir() / f).is_file() for f in (colin27_cases.BRAIN, colin27_cases.LABELS))
needs_data = pytest.mark.skipif(not AVAILABLE, reason="Colin27/AAL images missing: apt-get install mricron-data")
NAMES = [spec.name for spec in CASES]


def labels_of(image: sitk.Image) -> set[int]:
    return set(np.unique(sitk.GetArrayViewFromImage(image)).tolist()) - {0}


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetOrigin(), b.GetOrigin())
        and np.allclose(a.GetSpacing(), b.GetSpacing())
        and np.allclose(a.GetDirection(), b.GetDirection())
    )


def test_the_cases_are_listed_as_real_3d_cases_with_labels(pm):
    cases = pm.cases()
    assert {"colin27-affine", "colin27-bspline"} <= set(cases)
    for name in NAMES:
        assert {"real", "3d", "labels"} <= set(cases[name].tags)
        assert not cases[name].default
        assert "Colin27" in cases[name].description and "AAL" in cases[name].description
    assert "deformable" in cases["colin27-bspline"].tags


@needs_data
@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.name)
def test_the_labels_are_integer_on_their_grids_and_the_truth_carries_them_exactly(spec):
    data = spec.case().load()
    assert data.fixed.GetSize() == data.moving.GetSize() == GRID
    assert data.fixed.GetSpacing() == (4.0, 4.0, 4.0)
    for labels, image in ((data.fixed_labels, data.fixed), (data.moving_labels, data.moving)):
        assert labels.GetPixelID() == sitk.sitkUInt8
        assert same_grid(labels, image)
    # Every AAL label survives the 4 mm grid and the warp: the descriptions' count is the real one.
    assert labels_of(data.moving_labels) == labels_of(data.fixed_labels) == set(range(1, LABEL_COUNT + 1))
    warped = sitk.Resample(data.moving_labels, data.fixed, data.truth, sitk.sitkNearestNeighbor, 0)
    assert np.array_equal(sitk.GetArrayViewFromImage(warped), sitk.GetArrayViewFromImage(data.fixed_labels))
    # The labels lie on the brain: under 3% of the labelled voxels are dark (1.6%: partial volume at the edge; the
    # skull-stripped image is 0 off the brain, plus noise of σ 0.01). Misaligned labels would leave far more.
    brain = sitk.GetArrayViewFromImage(data.moving) > 0.05
    labelled = sitk.GetArrayViewFromImage(data.moving_labels) > 0
    assert (labelled & ~brain).sum() < 0.03 * labelled.sum()


@needs_data
@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.name)
def test_the_truth_fits_the_images_and_its_direction_is_right(spec):
    case = spec.case()
    truth = case.load().truth
    at_truth = dense_metric(case, truth)
    assert at_truth < 0.1 * dense_metric(case, sitk.Transform(3, sitk.sitkIdentity))
    if spec.truth.kind == "affine":  # a B-spline has no inverse to compare with
        assert at_truth < 0.1 * dense_metric(case, truth.GetInverse())


@needs_data
def test_the_bspline_truth_is_well_clear_of_folding():
    data = next(s for s in CASES if s.truth.kind == "bspline").case().load()
    jacobian = jacobian_determinant(data.truth, data.fixed)
    assert 0.5 < jacobian.min() < 0.95 and 1.05 < jacobian.max() < 2.0  # deformed, nowhere near J ≤ 0


@needs_data
@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.name)
def test_every_seed_is_a_distinct_instance_far_from_the_truth(spec):
    case = spec.case()
    assert len({instance_key(case, seed) for seed in (0, 1, 2)}) == 3
    data = case.load()
    for seed in (0, 1, 2):
        assert dense_metric(case, data.truth) < 0.5 * dense_metric(case, initial_mapping(case.setup, data, seed))


@needs_data
def test_a_short_run_on_the_affine_case_measures_truth_error_and_dice(pm):
    record = regbench.run_one(pm.get_strategy("gd"), pm.get_case("colin27-affine"), seed=1, pm=pm)
    assert record.status == "ok", record.error
    assert record.error_mean < 0.5 < record.initial_error_mean  # mm: registered from several mm away
    assert record.label_count == LABEL_COUNT
    assert record.dice_mean > record.initial_dice_mean
    assert record.dice_mean > 0.9


def test_without_the_files_the_cases_are_listed_with_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    pm = regbench.make_plugin_manager(entrypoints=False)
    for name in NAMES:
        case = pm.get_case(name)
        assert "apt-get install mricron-data" in case.unavailable and DATA_ENV in case.unavailable
        assert str(tmp_path) in case.unavailable
        with pytest.raises(CaseError, match=f"case {name!r} is unavailable"):
            case.load()
