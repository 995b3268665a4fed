"""The built-in measures against analytic answers."""

import math

import numpy as np
import pytest
import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup
from regbench.evaluation.measures import (
    dense_metric,
    foreground,
    jacobian_determinant,
    jacobian_of_displacement,
    jacobian_stats,
    landmark_errors,
    truth_errors,
)


def _pair(size=(40, 30), spacing=(1.0, 1.0), truth=None) -> CaseData:
    """A fixed image whose left half is bright (foreground) and right half dark; moving = fixed."""
    array = np.zeros(tuple(reversed(size)), dtype=np.float32)
    array[:, : size[0] // 2] = 1.0
    fixed = sitk.GetImageFromArray(array)
    fixed.SetSpacing(spacing)
    return CaseData(fixed=fixed, moving=fixed, truth=truth)


class ReturnsGiven(regbench.Strategy):
    """Returns a fixed transform after one (irrelevant) execution: the measures see exactly ``transform``."""

    def __init__(self, transform):
        super().__init__("given")
        self.transform = transform

    def run(self, ctx, params):
        method = ctx.new_method()
        method.SetOptimizerAsGradientDescent(1e-12, 1)
        ctx.execute(method)
        return self.transform


# -- error against truth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 2.0)])
def test_identity_against_a_translation_truth_is_the_translation_length_everywhere(spacing):
    data = _pair(spacing=spacing, truth=sitk.TranslationTransform(2, (3.0, -4.0)))
    out = truth_errors(data, sitk.TranslationTransform(2), sitk.TranslationTransform(2))
    for key in ("error_mean", "error_p95", "error_max", "error_mean_fg", "error_max_fg", "initial_error_mean"):
        assert out[key] == pytest.approx(5.0, abs=1e-12), key


def test_a_translation_estimate_is_off_by_the_difference():
    data = _pair(truth=sitk.TranslationTransform(2, (3.0, -4.0)))
    out = truth_errors(data, sitk.TranslationTransform(2, (3.0, -3.5)), sitk.TranslationTransform(2))
    assert out["error_mean"] == pytest.approx(0.5, abs=1e-12)
    assert out["error_max"] == pytest.approx(0.5, abs=1e-12)
    assert out["initial_error_mean"] == pytest.approx(5.0)
    exact = truth_errors(data, sitk.TranslationTransform(2, (3.0, -4.0)), sitk.TranslationTransform(2))
    assert exact["error_max"] == 0.0


def test_foreground_error_differs_from_whole_domain_error_for_a_rotation():
    # Identity against a rotation about the left edge's centre: the error grows with the distance to it, and
    # the foreground (left half) is closer, so its mean is smaller; both match a direct computation.
    size = (40, 30)
    centre = (0.0, 14.5)
    angle = math.radians(5.0)
    data = _pair(size=size, truth=sitk.Euler2DTransform(centre, angle, (0.0, 0.0)))
    out = truth_errors(data, sitk.Euler2DTransform(), sitk.Euler2DTransform())
    x, y = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    radius = np.hypot(x - centre[0], y - centre[1])
    distance = 2 * math.sin(angle / 2) * radius  # chord length: |R p − p| for a point at that radius
    assert out["error_mean"] == pytest.approx(distance.mean(), rel=1e-9)
    assert out["error_max"] == pytest.approx(distance.max(), rel=1e-9)
    assert out["error_p95"] == pytest.approx(np.percentile(distance, 95), rel=1e-9)
    fg = foreground(data)
    assert out["error_mean_fg"] == pytest.approx(distance[fg].mean(), rel=1e-9)
    assert out["error_mean_fg"] < out["error_mean"]


def test_foreground_is_the_mask_when_the_case_has_one():
    data = _pair()
    # The bright half (x < 20) and, after the one-voxel smoothing, the first dark column: Φ(−0.5) ≈ 0.31 of
    # the range there, Φ(−1.5) ≈ 0.07 < 0.1 one column further.
    fg = foreground(data)
    assert fg.sum() == 21 * 30
    assert fg[:, :21].all()
    mask = sitk.Image(data.fixed.GetSize(), sitk.sitkUInt8)
    mask[0, 0] = 1
    data.fixed_mask = mask
    assert foreground(data).sum() == 1


def test_landmark_tre_is_exact_for_a_translation():
    fixed_points = np.array([[0.0, 0.0], [10.0, 5.0], [3.0, 7.0]])
    data = _pair()
    data.landmarks = (fixed_points, fixed_points + np.array([3.0, 4.0]))
    out = landmark_errors(data, sitk.TranslationTransform(2, (3.0, 4.0)), sitk.TranslationTransform(2))
    assert out["tre_mean"] == out["tre_max"] == 0.0
    assert out["initial_tre_mean"] == pytest.approx(5.0)
    assert out["landmarks"] == 3
    assert landmark_errors(data, sitk.TranslationTransform(2, (0.0, 4.0)))["tre_p95"] == pytest.approx(3.0)


# -- Jacobian -------------------------------------------------------------------------------------------------


def test_jacobian_of_an_affine_map_is_its_determinant_with_any_spacing_and_direction():
    # ITK's DisplacementFieldJacobianDeterminant gets this wrong (it ignores the direction: 1.23–1.46 here).
    reference = sitk.Image([20, 15, 6], sitk.sitkFloat32)
    reference.SetSpacing((0.5, 2.0, 1.5))
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    reference.SetDirection((c, -s, 0, s, c, 0, 0, 0, 1))
    matrix = (1.3, 0.4, 0.1, 0.0, 1.0, 0.2, 0.1, 0.0, 0.9)
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(matrix)
    jac = jacobian_determinant(affine, reference)
    assert jac.shape == (6, 15, 20)
    np.testing.assert_allclose(jac, np.linalg.det(np.reshape(matrix, (3, 3))), rtol=1e-12)


# Slopes du/dx per unit interval [k, k+1] along x of a 64 × 48 field: identity, a stretch (J = 2), a fold
# (J = 1 − 3.5 = −2.5), identity again. Central differences average the two slopes around a voxel.
WIDTH, HEIGHT = 64, 48


def _folded_field() -> tuple[np.ndarray, sitk.Image]:
    slopes = np.zeros(WIDTH - 1)
    slopes[16:24] = 1.0
    slopes[24:32] = -3.5
    u = np.concatenate([[0.0], np.cumsum(slopes)])
    field = np.zeros((HEIGHT, WIDTH, 2))
    field[..., 0] = u[None, :]
    return field, sitk.Image([WIDTH, HEIGHT], sitk.sitkFloat32)


def test_a_constructed_fold_gives_the_known_folding_count_and_sdlogj():
    field, reference = _folded_field()
    stats = jacobian_stats(jacobian_of_displacement(field, reference))
    # Per row: x=16 → J 1.5; x=17..23 → 2 (7 voxels); x=24 → 1 + (1 − 3.5)/2 = −0.25; x=25..31 → −2.5
    # (7 voxels); x=32 → 1 − 1.75 = −0.75; the 47 others → 1.
    folded_per_row = 1 + 7 + 1
    assert stats["jacobian_nonpositive"] == folded_per_row * HEIGHT == 432
    assert stats["folding_fraction"] == pytest.approx(432 / (WIDTH * HEIGHT))
    assert stats["jacobian_min"] == pytest.approx(-2.5)
    assert stats["jacobian_max"] == pytest.approx(2.0)
    # SDlogJ over the 55 voxels per row where log J exists: one log 1.5, seven log 2, 47 zeros.
    logs = [math.log(1.5)] + [math.log(2.0)] * 7 + [0.0] * 47
    mean = sum(logs) / len(logs)
    expected = math.sqrt(sum((v - mean) ** 2 for v in logs) / len(logs))
    assert stats["sdlogj"] == pytest.approx(expected, rel=1e-12)


def test_learn2reg_style_clipping_would_hide_the_fold():
    # Learn2Reg's evaluation adds 3 and clips to [1e-9, 1e9] before counting J <= 0 and taking log J: on the
    # same field it finds no fold at all, and an SDlogJ that mixes shifted values. Ours counts 432 folds.
    field, reference = _folded_field()
    jac = jacobian_of_displacement(field, reference)
    clipped = np.clip(jac + 3, 1e-9, 1e9)
    assert int((clipped <= 0).sum()) == 0
    ours = jacobian_stats(jac)
    assert ours["jacobian_nonpositive"] == 432
    assert not math.isclose(float(np.log(clipped).std()), ours["sdlogj"], rel_tol=0.1)


def test_identity_deformation_has_no_folding_and_zero_sdlogj():
    reference = sitk.Image([16, 12], sitk.sitkFloat32)
    bspline = sitk.BSplineTransformInitializer(reference, [3, 3])
    stats = jacobian_stats(jacobian_determinant(bspline, reference))
    assert stats == {
        "jacobian_min": 1.0,
        "jacobian_max": 1.0,
        "folding_fraction": 0.0,
        "jacobian_nonpositive": 0,
        "sdlogj": 0.0,
    }


def test_sdlogj_is_none_when_every_voxel_is_folded():
    assert jacobian_stats(np.array([-1.0, 0.0]))["sdlogj"] is None


# -- through the hook ------------------------------------------------------------------------------------------


def test_the_hook_fills_the_record_fields(pm):
    truth = sitk.TranslationTransform(2, (3.0, -4.0))
    data = _pair(truth=truth)
    case = Case("eval-translation", lambda: data, Setup(transform="translation"))
    record = regbench.run_one(ReturnsGiven(sitk.TranslationTransform(2, (3.0, -3.5))), case, pm=pm)
    assert record.status == "ok", record.error
    for value in (record.error_mean, record.error_max, record.error_mean_fg):
        assert value == pytest.approx(0.5, abs=1e-12)
    assert record.initial_error_mean == pytest.approx(5.0)
    assert record.final_metric_dense == pytest.approx(dense_metric(case, sitk.TranslationTransform(2, (3, -3.5))))
    assert record.jacobian_min is None and record.folding_fraction is None  # not deformable


def test_the_hook_reports_jacobian_statistics_for_a_deformable_result(pm):
    data = _pair()
    bspline = sitk.BSplineTransformInitializer(data.fixed, [2, 2])
    params = np.zeros(len(bspline.GetParameters()))
    params[12] = 60.0  # one control point pulled along x far enough to fold the grid
    bspline.SetParameters(params.tolist())
    case = Case("eval-bspline", lambda: data, Setup(transform="bspline", mesh_size=(2,)))
    record = regbench.run_one(ReturnsGiven(bspline), case, pm=pm)
    expected = jacobian_stats(jacobian_determinant(bspline, data.fixed))
    assert expected["jacobian_nonpositive"] > 0
    assert record.jacobian_min == expected["jacobian_min"] < 0
    assert record.folding_fraction == expected["folding_fraction"]
    assert record.sdlogj == expected["sdlogj"]
    assert record.measures["jacobian_nonpositive"] == expected["jacobian_nonpositive"]


def test_no_overlap_is_the_same_value_for_every_metric():
    import SimpleITK as sitk
    from regbench_plugins.synthetic_cases import warped_pair

    from regbench import Case, Setup
    from regbench.evaluation.measures import dense_metric

    data = warped_pair((64, 64), sitk.TranslationTransform(2, (3.0, -2.0)), seed=5, noise=0.0)
    far = sitk.TranslationTransform(2, (500.0, 500.0))
    values = {
        m: dense_metric(Case(m, lambda: data, Setup(transform="translation", metric=m)), far)
        for m in ("mattes", "mean_squares")
    }
    assert values == {"mattes": 1.7976931348623157e308, "mean_squares": 1.7976931348623157e308}
