"""The case model: setup validation, starting transforms, seeds as instances."""

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic_cases import warped_pair

import regbench
import regbench.run
from regbench import Case, CaseError, Setup
from regbench.cases.case import initial_mapping, uses_moving_initial


@pytest.fixture(scope="module")
def data():
    return warped_pair((64, 64), sitk.TranslationTransform(2, (3.0, -2.0)), seed=5, noise=0.0)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"transform": "rigidd"}, "transform 'rigidd' is not one of translation, rigid, similarity, affine, bspline"),
        ({"metric": "mi"}, "metric 'mi' is not one of"),
        ({"shrink_factors": (4, 2), "smoothing_sigmas": (1.0,)}, "must have one value per level"),
        ({"sampling_percentage": (0.0,)}, "sampling_percentage must be in (0, 1]"),
        ({"initial_jitter": -1.0}, "initial_jitter must be a finite number ≥ 0 (physical units), got -1.0"),
        ({"initial_jitter": "0.5"}, "initial_jitter must be a finite number ≥ 0 (physical units), got '0.5'"),
        ({"initial_jitter_angle": float("nan")}, "initial_jitter_angle must be a finite number ≥ 0 (degrees)"),
        (
            {"transform": "translation", "initial_jitter_angle": 2.0},
            "initial_jitter_angle applies to rigid, similarity, affine models, not translation",
        ),
        (
            {"transform": "rigid", "initial_jitter_scale": 0.02},
            "initial_jitter_scale applies to similarity, affine models, not rigid",
        ),
    ],
)
def test_bad_setups_are_refused(setup, message):
    with pytest.raises(CaseError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        Setup(**setup)


def test_jitter_makes_each_seed_a_different_start(data, pm):
    case = Case("jitter", lambda: data, Setup(transform="translation", initial_jitter=2.0))
    starts = {seed: initial_mapping(case.setup, data, seed).GetParameters() for seed in (1, 1, 2)}
    assert len(starts) == 2 and starts[1] != starts[2]
    assert initial_mapping(case.setup, data, 1).GetParameters() == starts[1]  # same seed, same start
    a, b = (regbench.run_one("lbfgs2", case, seed=s, pm=pm) for s in (1, 2))
    assert a.initial_error_mean != b.initial_error_mean
    offset = np.array(starts[1])
    assert a.initial_error_mean == pytest.approx(np.linalg.norm(offset - (3.0, -2.0)), abs=1e-9)
    plain = Case("plain", lambda: data, Setup(transform="translation"))
    assert initial_mapping(plain.setup, data, 1).GetParameters() == (0.0, 0.0)


JITTERED = {
    "translation": {"initial_jitter": 1.0},
    "rigid": {"initial_jitter": 1.0, "initial_jitter_angle": 3.0},
    "similarity": {"initial_jitter": 1.0, "initial_jitter_angle": 3.0, "initial_jitter_scale": 0.05},
    "affine": {"initial_jitter": 1.0, "initial_jitter_angle": 3.0, "initial_jitter_scale": 0.05},
    "bspline": {"initial_jitter": 1.0, "mesh_size": (3,)},
}


@pytest.mark.parametrize("transform", list(JITTERED))
def test_seed_zero_is_the_nominal_start_and_other_seeds_are_distinct_starts(data, transform):
    jittered = Setup(transform=transform, **JITTERED[transform])
    nominal = Setup(transform=transform, mesh_size=jittered.mesh_size)
    assert initial_mapping(jittered, data, 0).GetParameters() == initial_mapping(nominal, data, 0).GetParameters()
    starts = {seed: initial_mapping(jittered, data, seed).GetParameters() for seed in range(6)}
    assert len(set(starts.values())) == 6
    assert initial_mapping(jittered, data, 3).GetParameters() == starts[3]  # drawn from the seed alone
    assert all(initial_mapping(nominal, data, seed).GetParameters() == starts[0] for seed in (1, 2))


def test_jittered_keeps_the_misalignments_that_apply_to_the_model():
    assert Setup(transform="translation").jittered(1.0, 2.0, 0.02).initial_jitter_angle == 0.0
    rigid = Setup(transform="rigid").jittered(1.0, 2.0, 0.02)
    assert (rigid.initial_jitter, rigid.initial_jitter_angle, rigid.initial_jitter_scale) == (1.0, 2.0, 0.0)
    affine = Setup(transform="affine", metric="mattes").jittered(1.0, 2.0, 0.02)
    assert (affine.initial_jitter_scale, affine.metric) == (0.02, "mattes")
    assert Setup(transform="bspline").jittered(0.5, 2.0, 0.02).initial_jitter == 0.5


def test_the_jitter_has_the_size_asked_for(data):
    # Over many seeds: the shift's spread per axis, the rotation's angle, the scale's log.
    setup = Setup(transform="similarity", initial_jitter=1.5, initial_jitter_angle=4.0, initial_jitter_scale=0.05)
    params = np.array([initial_mapping(setup, data, seed).GetParameters() for seed in range(1, 801)])
    scale, angle, shift = params[:, 0], params[:, 1], params[:, 2:]
    assert np.std(shift, axis=0) == pytest.approx([1.5, 1.5], rel=0.1)
    assert np.degrees(np.std(angle)) == pytest.approx(4.0, rel=0.1)
    assert np.std(np.log(scale)) == pytest.approx(0.05, rel=0.1)
    # Each part has its own stream: turning the rotation on leaves the shift's draws as they were.
    shift_only = Setup(transform="similarity", initial_jitter=1.5)
    assert initial_mapping(shift_only, data, 7).GetParameters()[2:] == tuple(params[6, 2:])
    assert initial_mapping(shift_only, data, 7).GetParameters()[:2] == (1.0, 0.0)


def test_a_jittered_rotation_turns_about_the_centre_in_3d():
    data = warped_pair((16, 20, 12), sitk.TranslationTransform(3, (1.0, 0.0, 0.0)), seed=2, noise=0.0)
    start = initial_mapping(Setup(transform="rigid", initial_jitter_angle=3.0), data, 1)
    matrix = np.reshape(start.GetMatrix(), (3, 3))
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-12)
    assert 0 < np.degrees(np.arccos((np.trace(matrix) - 1) / 2)) < 15
    np.testing.assert_allclose(start.TransformPoint(start.GetCenter()), start.GetCenter(), atol=1e-12)


def test_a_jittered_bspline_start_is_a_pure_translation(data):
    setup = Setup(transform="bspline", mesh_size=(3,), initial_jitter=1.0)
    start = initial_mapping(setup, data, 2)
    points = [data.fixed.TransformIndexToPhysicalPoint((i, j)) for i in range(0, 64, 9) for j in range(0, 64, 7)]
    shifts = np.array([np.subtract(start.TransformPoint(p), p) for p in points])
    np.testing.assert_allclose(shifts, np.broadcast_to(shifts[0], shifts.shape), atol=1e-9)
    assert 0 < np.linalg.norm(shifts[0]) < 5


def test_a_jittered_case_initial_transform_of_the_model_type_is_jittered_too(data):
    start = sitk.Euler2DTransform((31.5, 31.5), 0.1, (2.0, 1.0))
    with_start = regbench.CaseData(fixed=data.fixed, moving=data.moving, initial_transform=start)
    setup = Setup(transform="rigid", initial_jitter=1.0, initial_jitter_angle=2.0)
    assert initial_mapping(setup, with_start, 0).GetParameters() == start.GetParameters()
    moved = initial_mapping(setup, with_start, 1)
    assert moved.GetParameters() != start.GetParameters() and moved.GetCenter() == start.GetCenter()


def test_a_bspline_initial_transform_starts_a_bspline_model(data, pm):
    start = sitk.BSplineTransformInitializer(data.fixed, [3, 3], order=3)
    start.SetParameters(np.full(len(start.GetParameters()), 0.5))
    data_with_start = regbench.CaseData(fixed=data.fixed, moving=data.moving, initial_transform=start)
    case = Case("bspline-start", lambda: data_with_start, Setup(transform="bspline", mesh_size=(3,)))
    assert not uses_moving_initial(case.setup, data_with_start)
    assert initial_mapping(case.setup, data_with_start).GetParameters() == start.GetParameters()
    record = regbench.run_one("lbfgs2", case, seed=1, params={"number_of_iterations": 3}, pm=pm)
    assert record.status == "ok", record.error


def test_a_mask_off_the_image_grid_is_refused(data):
    mask = sitk.Image([10, 10], sitk.sitkUInt8) + 1
    bad = regbench.CaseData(fixed=data.fixed, moving=data.moving, fixed_mask=mask)
    with pytest.raises(CaseError, match=r"fixed_mask does not lie on the fixed image's grid \(size 10×10 vs 64×64"):
        Case("masked", lambda: bad).load()


def test_mesh_size_must_be_positive():
    with pytest.raises(CaseError, match=r"mesh_size must be integers ≥ 1"):
        Setup(transform="bspline", mesh_size=(0,))


def test_the_run_key_follows_the_case_definition(data, pm):
    a = Case("same-name", lambda: data, Setup(transform="translation"))
    b = Case("same-name", lambda: data, Setup(transform="rigid"))
    c = Case("same-name", lambda: data, Setup(transform="translation"), identity={"file": "x", "inputs": [1]})
    keys = {regbench.run.new_record(pm.get_strategy("lbfgs2"), case, 0, None, 1)[0].key for case in (a, b, c, a)}
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed must be an integer from 0 to 2147483647"),
        ({"seed": 1.5}, "seed must be"),
        ({"seed": 2**31}, "seed must be an integer from 0 to 2147483647, got 2147483648"),  # beyond the store's
        ({"seed": 10**20}, "seed must be an integer from 0"),
        ({"threads": -3}, "threads"),
    ],
)
def test_bad_seeds_and_threads_are_refused(data, pm, kwargs, message):
    case = Case("t", lambda: data, Setup(transform="translation"))
    with pytest.raises(regbench.ParameterError, match=message):
        regbench.run_one("lbfgs2", case, pm=pm, **kwargs)
