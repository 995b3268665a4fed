"""Label images in cases: Dice and HD95 against independent computations, nearest-neighbour warping, the record
fields through ``run_one``, the outcome judged from labels alone, TOML checks, and what ``show`` and the reports
print."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import SimpleITK as sitk
from click.testing import CliRunner
from regbench_plugins.synthetic import phantom, warped_pair
from rich.console import Console

import regbench
from regbench import CaseError
from regbench.cases.case import Case, Setup
from regbench.cases.files import load_case_file
from regbench.cli import main
from regbench.evaluation.labels import dice_per_label, hd95, label_measures, overlap, surface, warp_labels
from regbench.evaluation.measures import evaluate_transform
from regbench.evaluation.outcomes import Evidence, judge
from regbench.plugin.measures import merge_measures
from regbench.record import RunRecord
from regbench.report.stats.summary import columns_for, summary_rows, summary_table
from regbench.report.text.explain import print_explanation
from regbench.store.exports import flat_row

TRUTH = sitk.TranslationTransform(2, (3.0, -2.0))


# -- independent references -------------------------------------------------------------------------------------


def brute_surface(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with a face neighbour outside the mask or outside the array: by shifting a padded copy."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    all_in = np.ones(mask.shape, dtype=bool)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            all_in &= np.roll(padded, step, axis=axis)[inner]
    return mask & ~all_in


def brute_hd95(a: np.ndarray, b: np.ndarray, spacing) -> float:
    """Every pairwise distance between the two surfaces' voxel centres (physical: index × spacing in array
    order), the nearest per point, p95 each way, the larger: no distance transform."""
    scale = np.asarray(spacing, dtype=float)[::-1]
    pa = np.argwhere(brute_surface(a)) * scale
    pb = np.argwhere(brute_surface(b)) * scale
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return float(max(np.percentile(d.min(axis=1), 95), np.percentile(d.min(axis=0), 95)))


def square(shape, corner, side) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[corner[0] : corner[0] + side, corner[1] : corner[1] + side] = True
    return mask


# -- Dice and HD95 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "k"), [(10, 3), (12, 1), (8, 8)])
def test_dice_of_a_square_shifted_along_x_is_s_minus_k_over_s(side, k):
    fixed = square((40, 48), (10, 10), side).astype(np.uint8) * 5
    warped = square((40, 48), (10, 10 + k), side).astype(np.uint8) * 5  # x is the last array axis
    assert dice_per_label(fixed, warped, [5]) == {5: pytest.approx((side - k) / side)}


def test_dice_of_two_labels_a_missing_one_and_one_in_neither():
    fixed = np.zeros((30, 30), dtype=np.int16)
    fixed[2:12, 2:12] = 1  # 100 voxels
    fixed[15:25, 15:25] = 2
    fixed[0:2, 20:30] = 7  # lost after warping
    warped = np.zeros_like(fixed)
    warped[2:12, 4:14] = 1  # shifted by 2: Dice 8/10
    warped[15:25, 15:25] = 2  # exact
    dice = dice_per_label(fixed, warped, [1, 2, 7, 9])
    assert dice == {1: pytest.approx(0.8), 2: 1.0, 7: 0.0, 9: None}


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 2.0), (0.7, 1.3)])
@pytest.mark.parametrize(("side", "k"), [(10, 3), (9, 1)])
def test_hd95_of_a_shifted_square_matches_brute_force_pairwise_distances(spacing, side, k):
    a = square((32, 36), (8, 6), side)
    b = square((32, 36), (8, 6 + k), side)
    assert hd95(a, b, spacing) == pytest.approx(brute_hd95(a, b, spacing), rel=1e-12)
    # the shift along x is k voxels: no surface point is farther than k·spacing_x from the other surface
    assert 0 < hd95(a, b, spacing) <= k * spacing[0] + 1e-12


def blobs(shape, seed, level=0.0) -> np.ndarray:
    """Smooth random blobs: concave shapes whose face and corner neighbourhoods differ, some on the border."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0) > level


def test_surface_voxels_have_a_face_neighbour_outside():
    for seed in range(3):
        mask = blobs((30, 34), seed)
        np.testing.assert_array_equal(surface(mask), brute_surface(mask))
    ell = np.zeros((6, 6), dtype=bool)
    ell[1:5, 1:3] = ell[3:5, 1:5] = True  # an L: its inner corner (2, 2) has only a diagonal neighbour outside
    assert not surface(ell)[3, 2] and surface(ell)[2, 2] and surface(ell).sum() == 11


def test_hd95_on_irregular_shapes_touching_the_border_matches_brute_force():
    rng = np.random.default_rng(0)
    for seed in range(4):
        a = blobs((24, 28), seed)
        b = np.roll(blobs((24, 28), seed, 0.1), 2, axis=1) | (rng.random((24, 28)) > 0.97)
        assert hd95(a, b, (1.5, 0.5)) == pytest.approx(brute_hd95(a, b, (1.5, 0.5)), rel=1e-12)


def test_hd95_in_3d_matches_brute_force():
    a = np.zeros((12, 14, 16), dtype=bool)
    a[3:9, 4:10, 5:12] = True
    b = np.roll(a, (1, -2), axis=(0, 2))
    assert hd95(a, b, (1.0, 2.0, 0.5)) == pytest.approx(brute_hd95(a, b, (1.0, 2.0, 0.5)), rel=1e-12)


def test_hd95_of_identical_masks_is_zero_and_of_an_empty_mask_none():
    a = square((20, 20), (3, 3), 6)
    assert hd95(a, a, (1.0, 1.0)) == 0.0
    assert hd95(a, np.zeros_like(a), (1.0, 1.0)) is None
    assert hd95(np.zeros_like(a), a, (1.0, 1.0)) is None


# -- nearest-neighbour warping ----------------------------------------------------------------------------------


def test_warp_by_k_pixels_shifts_the_array_and_keeps_the_label_values():
    rng = np.random.default_rng(1)
    array = rng.choice([0, 3, 17, 200], size=(30, 40)).astype(np.uint8)
    moving = sitk.GetImageFromArray(array)
    moving.SetSpacing((2.0, 0.5))
    moving.SetOrigin((-7.0, 3.0))
    k = 4
    shift = sitk.TranslationTransform(2, (k * 2.0, 0.0))  # fixed x → moving x + k voxels
    warped = warp_labels(moving, shift, moving)
    out = sitk.GetArrayFromImage(warped)
    assert warped.GetPixelID() == sitk.sitkUInt8
    expected = np.zeros_like(array)
    expected[:, : 40 - k] = array[:, k:]  # beyond the moving image: background 0
    np.testing.assert_array_equal(out, expected)
    assert set(np.unique(out)) <= set(np.unique(array))


def test_nearest_neighbour_makes_no_new_label_under_rotation():
    array = np.zeros((48, 48), dtype=np.int32)
    array[5:20, 5:40] = 10
    array[25:45, 10:30] = 11
    moving = sitk.GetImageFromArray(array)
    rotation = sitk.Euler2DTransform((23.5, 23.5), 0.3, (1.3, -0.7))
    out = sitk.GetArrayFromImage(warp_labels(moving, rotation, moving))
    assert set(np.unique(out)) == {0, 10, 11}


# -- a case with labels ----------------------------------------------------------------------------------------


def labelled_data(shift=TRUTH):
    """A 2D pair with a known translation; the moving labels thresholds of the moving phantom, carried onto the
    fixed grid through the truth (so the truth maps the labels onto themselves)."""
    data = warped_pair((80, 72), shift, seed=3, noise=0.0, image=phantom)
    values = sitk.GetArrayFromImage(data.moving)
    labels = np.zeros(values.shape, dtype=np.uint8)
    labels[values > 0.3] = 1
    labels[values > 0.6] = 2
    moving_labels = sitk.GetImageFromArray(labels)
    moving_labels.CopyInformation(data.moving)
    data.fixed_labels = warp_labels(moving_labels, shift, data.fixed)
    data.moving_labels = moving_labels
    data.truth = None  # labels are the only evidence
    return data


def labelled_case(name="labelled") -> Case:
    data = labelled_data()
    setup = Setup(transform="translation", shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0))
    return Case(name, lambda: data, setup)


class StepDescent(regbench.SingleRunStrategy):
    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 100, relaxationFactor=0.5)
        method.SetOptimizerScalesFromPhysicalShift()


@pytest.fixture(scope="module")
def labelled_run():
    pm = regbench.make_plugin_manager(entrypoints=False)
    return regbench.run_one(StepDescent("step"), labelled_case(), seed=0, pm=pm)


def test_run_one_records_dice_and_hd95_at_the_start_and_the_end(labelled_run):
    r = labelled_run
    assert r.status == "ok" and r.error_mean is None  # no truth
    assert r.label_count == 2 and set(r.dice_per_label) == {"1", "2"}
    assert r.initial_dice_mean < 0.8 and r.dice_mean > 0.98
    assert r.initial_hd95 > 2.0 and r.hd95 <= 1.0
    assert r.dice_mean == pytest.approx(np.mean(list(r.dice_per_label.values())))
    text = r.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the record"))
    assert RunRecord.from_json(text).dice_per_label == r.dice_per_label
    assert r.outcome != "worse_than_start"


def test_label_measures_match_the_per_label_functions_on_the_whole_image():
    data = labelled_data()
    moved = sitk.TranslationTransform(2, (2.0, -1.0))  # halfway to the truth (3, −2)
    out = label_measures(data, moved, sitk.TranslationTransform(2))
    fixed = sitk.GetArrayFromImage(data.fixed_labels)
    warped = sitk.GetArrayFromImage(warp_labels(data.moving_labels, moved, data.fixed))
    dice = dice_per_label(fixed, warped, [1, 2])
    assert out["dice_per_label"] == {"1": pytest.approx(dice[1]), "2": pytest.approx(dice[2])}
    spacing = data.fixed.GetSpacing()
    expected = np.mean([hd95(fixed == v, warped == v, spacing) for v in (1, 2)])  # bounding boxes change nothing
    assert out["hd95"] == pytest.approx(expected, rel=1e-12)
    assert out["label_count"] == 2 and out["initial_dice_mean"] < out["dice_mean"] < 1


def test_a_label_lost_by_the_transform_has_dice_zero_and_no_hd95():
    data = labelled_data()
    fixed = sitk.GetArrayFromImage(data.fixed_labels)
    fixed[0:3, 0:3] = 9  # a label only the fixed image has
    relabelled = sitk.GetImageFromArray(fixed)
    relabelled.CopyInformation(data.fixed_labels)
    data.fixed_labels = relabelled
    result = overlap(data, TRUTH)
    assert result.dice[9] == 0.0 and 9 not in result.hd95
    assert result.dice_mean == pytest.approx((result.dice[1] + result.dice[2]) / 3)


def test_a_dice_that_fell_is_worse_than_start_from_labels_alone():
    case = labelled_case("labelled-worse")
    record = RunRecord(strategy="x", case=case.name, seed=0, stop_category="converged")
    far = sitk.TranslationTransform(2, (-6.0, 5.0))  # the truth is (3, −2): this moves away from it
    merge_measures(record, evaluate_transform(case, far, record))
    assert record.error_mean is None and not record.measures.get("tre_mean")
    assert record.dice_mean < record.initial_dice_mean
    outcome, flags = judge(Evidence.of(record))
    assert outcome == "worse_than_start" and "worse_than_start" in flags
    # and the truth's own answer: registered there, the same labels say not worse
    record2 = RunRecord(strategy="x", case=case.name, seed=0, stop_category="converged")
    merge_measures(record2, evaluate_transform(case, TRUTH, record2))
    assert judge(Evidence.of(record2))[0] == "converged" and record2.dice_mean == 1.0


def test_dice_per_label_must_be_a_mapping_of_numbers():
    record = RunRecord(strategy="x", case="c", seed=0)
    merge_measures(record, {"dice_per_label": [0.5]})
    assert record.dice_per_label is None and "dice_per_label (not a mapping of numbers" in record.notes[-1]
    merge_measures(record, {"dice_per_label": {3: np.float64(0.5)}})
    assert record.dice_per_label == {"3": 0.5} and type(record.dice_per_label["3"]) is float


# -- checked at load ---------------------------------------------------------------------------------------------


def check(data) -> None:
    Case("c", lambda: data).load()


def test_label_checks_on_in_memory_cases():
    data = labelled_data()
    data.moving_labels = None
    with pytest.raises(CaseError, match="case 'c': fixed_labels is given but moving_labels is not"):
        check(data)
    data = labelled_data()
    data.moving_labels = sitk.Cast(data.moving_labels, sitk.sitkFloat32)
    with pytest.raises(CaseError, match="moving_labels is 32-bit float: label images must have an integer pixel"):
        check(data)
    data = labelled_data()
    data.fixed_labels.SetSpacing((2.0, 1.0))
    with pytest.raises(CaseError, match="fixed_labels does not lie on the fixed image's grid"):
        check(data)
    data = labelled_data()
    data.moving_labels = data.moving_labels * 0 + sitk.Cast(data.moving_labels > 0, sitk.sitkUInt8) * 5
    with pytest.raises(CaseError, match=r"share no non-zero label \(fixed_labels has 1, 2; moving_labels has 5\)"):
        check(data)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("label-files")
    data = labelled_data()
    sitk.WriteImage(data.fixed, str(root / "fixed.nii.gz"))
    sitk.WriteImage(data.moving, str(root / "moving.mha"))
    sitk.WriteImage(data.fixed_labels, str(root / "fixed_labels.nii.gz"))
    sitk.WriteImage(data.moving_labels, str(root / "moving_labels.nrrd"))
    sitk.WriteImage(sitk.Cast(data.fixed_labels, sitk.sitkFloat32), str(root / "float_labels.nii.gz"))
    sitk.WriteImage(data.moving_labels[:60, :], str(root / "cropped_labels.nrrd"))
    sitk.WriteImage(data.moving_labels * 0 + 4, str(root / "other_labels.nrrd"))
    return root


def case_file(root, name="labels.toml", **keys):
    keys = {"fixed_labels": "fixed_labels.nii.gz", "moving_labels": "moving_labels.nrrd", **keys}
    lines = ["[[case]]", 'name = "lab"', 'fixed = "fixed.nii.gz"', 'moving = "moving.mha"']
    lines += [f'{k} = "{v}"' for k, v in keys.items()]
    lines += ["[case.setup]", 'transform = "translation"']
    path = root / name
    path.write_text(textwrap.dedent("\n".join(lines)) + "\n")
    return path


def test_a_case_file_with_label_images_loads_them(files):
    (case,) = load_case_file(case_file(files))
    data = case.load()
    assert data.fixed_labels.GetPixelID() == sitk.sitkUInt8 and data.moving_labels is not None
    assert set(case.identity["inputs"]) >= {"fixed_labels", "moving_labels"}  # their content is in the run key


@pytest.mark.parametrize(
    ("keys", "line", "expected"),
    [
        (
            {"fixed_labels": "float_labels.nii.gz"},
            5,
            r"fixed_labels: label images must have an integer pixel type, .*float_labels\.nii\.gz is 32-bit float",
        ),
        ({"moving_labels": "cropped_labels.nrrd"}, 6, r"moving_labels does not lie on the moving image's grid"),
        ({"moving_labels": "other_labels.nrrd"}, 5, r"fixed_labels and moving_labels share no non-zero label"),
        ({"moving_labels": "nowhere.nrrd"}, 6, r"moving labels .*nowhere\.nrrd not found"),
    ],
    ids=["float", "off-grid", "no-common-label", "missing"],
)
def test_bad_label_files_name_the_file_line_and_key(files, keys, line, expected):
    path = case_file(files, "bad.toml", **keys)
    with pytest.raises(CaseError, match=expected) as info:
        load_case_file(path)
    assert str(info.value).startswith(f"{path}:{line}: case 'lab': "), str(info.value)


def test_list_with_a_bad_label_file_exits_2(files):
    path = case_file(files, "cli.toml", fixed_labels="float_labels.nii.gz")
    result = CliRunner().invoke(main, ["list", "--cases", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:5: case 'lab': fixed_labels: label images must have an integer pixel type" in result.output
    assert "Traceback" not in result.output


# -- shown: show, the summary table, the CSV row -------------------------------------------------------------


def test_show_prints_the_label_line(labelled_run):
    console = Console(width=250, record=True)
    print_explanation(labelled_run, console)
    text = console.export_text()
    assert "label Dice, mean over 2 labels: " in text and " → " in text
    assert "HD95 (mean over the labels in both)" in text and "lowest Dice: label " in text


def test_summary_shows_dice_when_a_run_has_labels_and_csv_flattens_the_mapping(labelled_run):
    rows = summary_rows([labelled_run], by="case")
    assert rows[0].median_dice == pytest.approx(labelled_run.dice_mean)
    assert {"dice", "hd95"} <= {c.key for c in columns_for(rows, "case")}
    by_strategy = {c.key for c in columns_for(summary_rows([labelled_run]), "strategy")}
    assert "dice" in by_strategy and "hd95" not in by_strategy  # HD95 is in one case's units
    console = Console(width=250, record=True)
    console.print(summary_table([labelled_run]))
    assert "Dice" in console.export_text()
    without = RunRecord(strategy="x", case="c", seed=0, outcome="converged")
    assert "dice" not in {c.key for c in columns_for(summary_rows([without]), "strategy")}
    row = flat_row(labelled_run)
    assert json.loads(row["dice_per_label"]) == labelled_run.dice_per_label


def test_the_html_per_case_table_has_dice_and_hd95(labelled_run, tmp_path):
    from regbench.report.html.page import write_html
    from regbench.report.load.columns import from_records

    page = write_html(from_records([labelled_run]), tmp_path / "html").index.read_text(encoding="utf-8")
    by_case = page[page.index('id="by-case"') :]
    assert "<th>median Dice</th>" in by_case and "<th>median HD95</th>" in by_case
    assert f"{labelled_run.dice_mean:.3g}" in by_case
