"""The case model: setup validation, starting transforms, seeds as instances."""

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic_cases import warped_pair

import regbench
import regbench.run
from regbench import Case, CaseError, Setup
from regbench.cases import initial_mapping, uses_moving_initial


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
        ({"initial_jitter": -1.0}, "initial_jitter must be ≥ 0"),
        ({"transform": "bspline", "initial_jitter": 1.0}, "initial_jitter applies to global transforms"),
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
    [({"seed": -1}, "seed must be an integer ≥ 0"), ({"seed": 1.5}, "seed must be"), ({"threads": -3}, "threads")],
)
def test_bad_seeds_and_threads_are_refused(data, pm, kwargs, message):
    case = Case("t", lambda: data, Setup(transform="translation"))
    with pytest.raises(regbench.ParameterError, match=message):
        regbench.run_one("lbfgs2", case, pm=pm, **kwargs)
