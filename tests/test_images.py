"""Pictures and files of one run, checked against hand-made inputs; the saved transform and resampled image."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.figures import images
from regbench.store.sqlite import Store
from regbench.util.transforms import transform_to_dict


def edge_image(edge: int, size=(64, 48)) -> sitk.Image:
    a = np.zeros(size[::-1], dtype=np.float32)
    a[:, edge:] = 1.0
    return sitk.GetImageFromArray(a)


def first_bright_column(row: np.ndarray) -> int:
    return int(np.argmax(row > 0.5))


def test_a_known_shift_appears_as_a_known_checkerboard_offset():
    fixed, moving = edge_image(8), edge_image(13)  # the moving edge is 5 px to the right
    before = images.resample(moving, fixed, sitk.TranslationTransform(2))
    board, mask = images.checkerboard(sitk.GetArrayFromImage(fixed), sitk.GetArrayFromImage(before), tiles=2)
    # both edges lie in the left column of tiles (32 px wide): its rows alternate between fixed and moving
    offsets = {first_bright_column(board[r]) for r in range(board.shape[0]) if mask[r, 0]}
    assert offsets == {8}  # fixed tiles: the fixed edge
    offsets = {first_bright_column(board[r]) for r in range(board.shape[0]) if not mask[r, 0]}
    assert offsets == {13}  # moving tiles: shifted by exactly 5 px
    # through the right translation the tiles agree: no offset left
    after = images.resample(moving, fixed, sitk.TranslationTransform(2, (5.0, 0.0)))
    board, mask = images.checkerboard(sitk.GetArrayFromImage(fixed), sitk.GetArrayFromImage(after), tiles=2)
    assert {first_bright_column(board[r]) for r in range(board.shape[0])} == {8}


def folded_field(size=(40, 32), band=(16, 22)) -> tuple[sitk.Transform, np.ndarray]:
    """A displacement along x with slope −2 over a band of columns: det J = 1 − 2 = −1 there, 1 elsewhere."""
    u = np.zeros((size[1], size[0], 2))
    x = np.arange(size[0], dtype=float)
    ux = -2.0 * (np.clip(x, band[0], band[1]) - band[0])
    u[..., 0] = ux[None, :]
    expected = np.zeros((size[1], size[0]), dtype=bool)
    expected[:, band[0] + 1 : band[1]] = True  # the interior of the band (central differences)
    field = sitk.GetImageFromArray(u, isVector=True)
    return sitk.DisplacementFieldTransform(field), expected


def test_a_hand_folded_field_marks_the_folded_voxels():
    transform, expected = folded_field()
    del expected
    reference = sitk.Image(40, 32, sitk.sitkFloat32)
    jac = images.jacobian_determinant(transform, reference)
    folded = jac <= 0
    assert folded[:, 17:22].all()  # the band's interior is folded
    assert not folded[:, :15].any() and not folded[:, 24:].any()  # away from it nothing is
    assert np.allclose(jac[:, 18:21], -1.0)
    assert images.is_deformable(transform)


def folded_bspline(fixed: sitk.Image, push: float = 25.0) -> sitk.BSplineTransform:
    """A 3×3-mesh B-spline on ``fixed`` whose two middle control points are pushed past each other along x by
    ``push`` (it folds from about 10 on); 0: the identity."""
    bspline = sitk.BSplineTransformInitializer(fixed, [3, 3])
    params = np.zeros(bspline.GetNumberOfParameters())
    side = round(np.sqrt(params.size // 2))  # control points per axis; x components first, x fastest
    params[2 * side + 2], params[2 * side + 3] = push, -push
    bspline.SetParameters(params.tolist())
    return bspline


def test_pictures_of_a_folded_bspline_run(tmp_path):
    fixed = sitk.GetImageFromArray(np.random.default_rng(0).random((32, 40)).astype(np.float32))
    bspline = folded_bspline(fixed)
    record = RunRecord(strategy="hand", case="hand", seed=0, key="k")
    record.transform = transform_to_dict(bspline)
    pictures = images.write_images(record, tmp_path, fixed=fixed, moving=fixed, before=sitk.TranslationTransform(2))
    names = {p.name for p in pictures.files}
    assert names == {"overlay.png", "checkerboard.png", "difference.png", "jacobian.png", "grid.png"}
    expected = int((images.jacobian_determinant(bspline, fixed) <= 0).sum())
    assert pictures.folded_voxels == expected > 0
    # a rigid run has no Jacobian map or grid
    record.transform = transform_to_dict(sitk.TranslationTransform(2, (1.0, 0.0)))
    rigid = images.write_images(
        record, tmp_path / "rigid", fixed=fixed, moving=fixed, before=sitk.Transform(2, sitk.sitkIdentity)
    )
    assert {p.name for p in rigid.files} == {"overlay.png", "checkerboard.png", "difference.png"}
    assert rigid.folded_voxels is None


def test_the_jacobian_scale_is_centred_on_one_whatever_the_folds():
    # unfolded voxels between 0.6 and 1.4, and a fold down to −160: the scale is 1 ± 0.4, the fold drawn apart
    jac = np.concatenate([np.linspace(0.6, 1.4, 101), [-160.0, -3.0]])
    norm = images.jacobian_norm(jac)
    assert (norm.vmin, norm.vcenter, norm.vmax) == pytest.approx((0.6, 1.0, 1.4), abs=0.01)
    # a near-identity map keeps a ±0.1 scale; a wild one is shown from 0 to 2 at most
    assert (images.jacobian_norm(np.array([0.999, 1.0, 1.001])).vmin, images.jacobian_norm(np.array([1.0])).vmax) == (
        pytest.approx(0.9),
        pytest.approx(1.1),
    )
    wild = images.jacobian_norm(np.array([0.01, 1.0, 50.0]))
    assert (wild.vmin, wild.vmax) == pytest.approx((0.0, 2.0))
    # det = 1 is the diverging map's neutral middle (near white), shrinking and growing opposite hues
    from matplotlib import colormaps

    cmap = colormaps[images.JACOBIAN_CMAP]
    assert np.all(np.array(cmap(norm(1.0))[:3]) > 0.9)
    low, high = np.array(cmap(norm(0.6))[:3]), np.array(cmap(norm(1.4))[:3])
    assert low[0] > low[2] and high[2] > high[0]  # brown (red over blue) below 1, teal (blue over red) above


def test_a_folded_run_shows_its_folds_in_the_overlay_and_on_a_scale_centred_on_one(tmp_path):
    import matplotlib.image as mpimg

    fixed = sitk.GetImageFromArray(np.random.default_rng(0).random((32, 40)).astype(np.float32))
    record = RunRecord(strategy="hand", case="hand", seed=0, key="k")
    identity = sitk.Transform(2, sitk.sitkIdentity)

    def yellow_in_overlay(push: float, where) -> tuple[int, images.Pictures]:
        record.transform = transform_to_dict(folded_bspline(fixed, push))
        drawn = images.write_images(record, where, fixed=fixed, moving=fixed, before=identity)
        rgb = mpimg.imread(where / "overlay.png")[..., :3]
        # the overlay is (f, m, f): red and blue always equal, so yellow is only ever the folds' outline
        return int(((rgb[..., 0] > 0.8) & (rgb[..., 1] > 0.8) & (rgb[..., 2] < 0.3)).sum()), drawn

    outlined, folded = yellow_in_overlay(25.0, tmp_path / "folded")
    assert folded.folded_voxels > 0 and outlined > 0
    low, high = folded.jacobian_scale
    assert low >= 0 and (low + high) / 2 == pytest.approx(1.0)  # the −160s of the fold do not set the scale
    plain, smooth = yellow_in_overlay(2.0, tmp_path / "smooth")
    assert smooth.folded_voxels == 0 and plain == 0
    assert sum(smooth.jacobian_scale) / 2 == pytest.approx(1.0)


@pytest.mark.slow
def test_saved_transform_and_resampled_image_match_the_record(pm, tmp_path):
    record = regbench.run_one("lbfgsb", "synth2d-rigid", seed=0, threads=1, pm=pm)
    store = tmp_path / "runs.sqlite"
    with Store(store) as s:
        s.add(record)
    tfm, nii, pics = tmp_path / "out.tfm", tmp_path / "out.nii.gz", tmp_path / "pics"
    result = CliRunner().invoke(
        main,
        [
            "show",
            record.key,
            "--store",
            str(store),
            "--save-transform",
            str(tfm),
            "--resample",
            str(nii),
            "--images",
            str(pics),
        ],
    )
    assert result.exit_code == 0, result.output
    saved = sitk.ReadTransform(str(tfm))
    rebuilt = images.record_transform(record)
    data = pm.get_case("synth2d-rigid").load()
    for index in [(0, 0), (10, 20), (40, 5)]:
        point = data.fixed.TransformIndexToPhysicalPoint(index)
        assert np.allclose(saved.TransformPoint(point), rebuilt.TransformPoint(point), atol=1e-9)
    moved = sitk.ReadImage(str(nii))
    assert moved.GetSize() == data.fixed.GetSize() and moved.GetSpacing() == data.fixed.GetSpacing()
    expected = sitk.GetArrayFromImage(sitk.Resample(data.moving, data.fixed, rebuilt, sitk.sitkLinear, 0.0))
    assert np.allclose(sitk.GetArrayFromImage(moved), expected, atol=1e-5)
    # the registered image is closer to the fixed image than the start: it is the run's result
    start = sitk.GetArrayFromImage(
        images.resample(data.moving, data.fixed, images.initial_transform(record, pm.get_case("synth2d-rigid"), data))
    )
    f = sitk.GetArrayFromImage(data.fixed)
    assert np.abs(f - expected).mean() < np.abs(f - start).mean()
    assert (pics / "overlay.png").is_file()


def test_a_3d_run_is_drawn_as_three_orthogonal_slices(tmp_path):
    import matplotlib.image as mpimg

    fixed = sitk.GetImageFromArray(np.random.default_rng(0).random((20, 24, 28)).astype(np.float32))
    bspline = sitk.BSplineTransformInitializer(fixed, [3, 3, 3])
    params = np.zeros(bspline.GetNumberOfParameters())
    side = 6  # control points per axis; x components first, x fastest
    params[2 * side * side + 2 * side + 2], params[2 * side * side + 2 * side + 3] = 20.0, -20.0
    bspline.SetParameters(params.tolist())
    record = RunRecord(strategy="hand", case="hand3d", seed=0, key="k")
    record.transform = transform_to_dict(bspline)
    pictures = images.write_images(record, tmp_path, fixed=fixed, moving=fixed, before=sitk.TranslationTransform(3))
    assert pictures.folded_voxels == int((images.jacobian_determinant(bspline, fixed) <= 0).sum()) > 0
    jac = mpimg.imread(tmp_path / "jacobian.png")
    assert jac.shape[1] > 2 * jac.shape[0]  # three panels side by side
    red = (jac[..., 0] > 0.9) & (jac[..., 1] < 0.1) & (jac[..., 2] < 0.1)
    assert red.any()  # the folded voxels are marked


UNWRITABLE = {
    ("--save-transform", "nodir/out.tfm"): "nodir/out.tfm: the directory nodir does not exist",
    ("--resample", "out.xyz"): "out.xyz: '.xyz' is not an image format ITK writes: e.g. out.nii.gz or out.mha",
    ("--save-transform", "out.nii"): "out.nii: '.nii' is not a transform format ITK writes: e.g. out.tfm or",
    ("--resample", "out.png"): "out.png: ITK could not write it: PNG supports unsigned char",  # a float image
}


def test_a_file_itk_cannot_write_is_a_usage_error_naming_it(pm, tmp_path, monkeypatch):
    """ITK's errors named its C++ source file and an object address; the first three are found before the
    explanation is printed."""
    record = regbench.run_one("gd", "synth2d-translation", seed=0, threads=1, pm=pm)
    with Store(tmp_path / "runs.sqlite") as s:
        s.add(record)
    monkeypatch.chdir(tmp_path)
    for (option, path), message in UNWRITABLE.items():
        result = CliRunner().invoke(main, ["show", record.key, "--store", "runs.sqlite", option, path])
        assert result.exit_code == 2, result.output
        output = " ".join(result.output.split())
        assert f"Invalid value for {option}: {message}" in output
        assert ".cxx" not in output and "0x" not in output and "Traceback" not in output
        assert ("time:" in output) == (path == "out.png")
    assert not list(tmp_path.glob("out*")) and not (tmp_path / "nodir").exists()
