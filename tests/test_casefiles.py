"""User cases from TOML files: end to end, and a clear message for each bad input."""

import dataclasses
import locale
import re
import textwrap

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic import phantom, warped_pair

import regbench
from regbench import CaseError
from regbench.cases.files import load_case_file
from regbench.cases.inputs import preserve_locale

TRUTH = sitk.TranslationTransform(2, (2.5, -1.5))


class StepDescent(regbench.SingleRunStrategy):
    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 100, relaxationFactor=0.5)
        method.SetOptimizerScalesFromPhysicalShift()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 2D pair in two formats, its truth, a mask, landmarks, and a few broken files."""
    root = tmp_path_factory.mktemp("case-files")
    data = warped_pair((64, 56), TRUTH, seed=4, noise=0.0, image=phantom)
    sitk.WriteImage(data.fixed, str(root / "fixed.nii.gz"))
    sitk.WriteImage(data.moving, str(root / "moving.mha"))
    sitk.WriteTransform(TRUTH, str(root / "truth.tfm"))
    sitk.WriteTransform(sitk.TranslationTransform(3, (1.0, 2.0, 3.0)), str(root / "truth3d.tfm"))
    mask = sitk.Cast(data.fixed > 0.1, sitk.sitkUInt8)
    sitk.WriteImage(mask, str(root / "mask.nrrd"))
    sitk.WriteImage(mask * 0, str(root / "empty.nrrd"))
    sitk.WriteImage(sitk.Cast(mask, sitk.sitkInt16) * -1, str(root / "negative.nrrd"))  # -1 inside, 0 outside
    sitk.WriteImage(sitk.Image([8, 8, 8], sitk.sitkFloat32), str(root / "volume.mha"))
    nan = sitk.Image(data.fixed)
    nan[3, 4] = float("nan")
    sitk.WriteImage(nan, str(root / "nan.mha"))
    (root / "garbage.nii.gz").write_bytes(b"this is not an image")
    fixed_points = np.array([[20.0, 20.0], [40.0, 30.0], [30.0, 45.0]])
    rows = ["x_fixed,y_fixed,x_moving,y_moving"]
    rows += [",".join(f"{v:g}" for v in (*p, *TRUTH.TransformPoint(p))) for p in fixed_points.tolist()]
    (root / "landmarks.csv").write_text("\n".join(rows) + "\n")
    (root / "short.csv").write_text("1,2,3,4\n5,6,7\n")
    return root


def write(root, text, name="cases.toml"):
    path = root / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


GOOD = """
    [setup]
    shrink_factors = [2, 1]
    smoothing_sigmas = [1.0, 0.0]

    [[case]]
    name = "user-translation"
    fixed = "fixed.nii.gz"
    moving = "moving.mha"
    truth = "truth.tfm"
    landmarks = "landmarks.csv"
    tags = ["mine"]

    [case.setup]
    transform = "translation"
    """


def test_a_case_file_with_truth_runs_end_to_end(pm, files):
    (case,) = load_case_file(write(files, GOOD))
    assert case.name == "user-translation" and case.default and "mine" in case.tags
    assert case.setup.shrink_factors == (2, 1) and case.setup.transform == "translation"
    record = regbench.run_one(StepDescent("step"), case, seed=1, threads=2, pm=pm)
    assert record.status == "ok", record.error
    assert record.initial_error_mean == pytest.approx(np.hypot(2.5, 1.5))
    assert record.error_mean < 0.1
    assert record.measures["tre_mean"] < 0.1 and record.measures["landmarks"] == 3
    assert record.measures["initial_tre_mean"] == pytest.approx(np.hypot(2.5, 1.5), rel=1e-6)


def test_truth_as_a_csv_is_landmarks_and_setup_lists_become_tuples(files):
    (case,) = load_case_file(
        write(
            files,
            """
            [[case]]
            name = "by-landmarks"
            fixed = "fixed.nii.gz"
            moving = "moving.mha"
            fixed_mask = "mask.nrrd"
            truth = "landmarks.csv"
            [case.setup]
            transform = "bspline"
            mesh_size = 3
            metric = "mattes"
            histogram_bins = 24
            sampling = "random"
            sampling_percentage = 0.3
            """,
        )
    )
    data = case.load()
    assert data.truth is None and data.landmarks[0].shape == (3, 2)
    np.testing.assert_allclose(data.landmarks[1] - data.landmarks[0], [[2.5, -1.5]] * 3)
    assert data.fixed_mask.GetPixelID() == sitk.sitkUInt8
    assert (case.setup.mesh_size, case.setup.histogram_bins, case.setup.sampling_percentage) == ((3,), 24, (0.3,))


def test_a_dicom_series_directory_is_read_as_one_volume(files, tmp_path):
    before = locale.getpreferredencoding(False)
    series = tmp_path / "series"
    series.mkdir()
    volume = sitk.GetImageFromArray((np.arange(4 * 16 * 16).reshape(4, 16, 16) % 251).astype(np.int16))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    with preserve_locale():
        write_series(writer, volume, series)
    text = f'[[case]]\nname = "dicom"\nfixed = "{series}"\nmoving = "{series}"\n'
    (case,) = load_case_file(write(tmp_path, text))
    fixed = case.load().fixed
    assert fixed.GetSize() == (16, 16, 4) and fixed.GetSpacing()[2] == pytest.approx(2.0)
    assert locale.getpreferredencoding(False) == before  # GDCM's switch to the C locale is undone


def write_series(writer, volume, series):
    for z in range(4):
        slice_ = volume[:, :, z]
        for tag, value in {
            "0020|000e": "1.2.826.0.1.3680043.2.1125.1",
            "0020|0013": str(z),
            "0020|0032": f"0\\0\\{2 * z}",
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0008|0060": "MR",
        }.items():
            slice_.SetMetaData(tag, value)
        writer.SetFileName(str(series / f"{z}.dcm"))
        writer.Execute(slice_)


# -- bad input: each message names the file (and TOML line) and what is wrong -----------------------------


def _case_toml(**keys):
    lines = ["# a comment", "", "[[case]]", 'name = "bad"']
    keys = {"fixed": "fixed.nii.gz", "moving": "moving.mha", **keys}
    lines += [f'{k} = "{v}"' for k, v in keys.items() if v is not None]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"fixed": "nowhere.nii.gz"}, r"fixed image .*nowhere\.nii\.gz not found"),
        ({"moving": "garbage.nii.gz"}, r"cannot read moving image .*garbage\.nii\.gz"),
        ({"moving": "volume.mha"}, r"moving image .*volume\.mha is 3D but fixed image .*fixed\.nii\.gz is 2D"),
        ({"fixed_mask": "empty.nrrd"}, r"fixed_mask .*empty\.nrrd is empty \(no non-zero pixel\)"),
        # was "is empty (no non-zero pixel)": the -1 pixels are non-zero, and negative is what is wrong
        (
            {"moving_mask": "negative.nrrd"},
            r"moving_mask .*negative\.nrrd has \d+ negative pixels \(lowest -1\): a mask",
        ),
        ({"truth": "truth3d.tfm"}, r"truth .*truth3d\.tfm is a 3D transform but the images are 2D"),
        ({"truth": "fixed.nii.gz"}, r"cannot read truth .*fixed\.nii\.gz as a transform"),
        ({"fixed": "nan.mha"}, r"fixed image .*nan\.mha has 1 NaN or infinite pixels"),
        ({"landmarks": "short.csv"}, r"short\.csv:2: expected 4 numbers \(2D fixed point, then moving point\), got 3"),
    ],
    ids=[
        *("missing", "unreadable", "dimension", "empty-mask", "negative-mask"),
        *("truth-dimension", "truth-unreadable", "nan", "csv"),
    ],
)
def test_bad_files_are_named_with_the_case_line(files, keys, expected):
    path = write(files, _case_toml(**keys), name="bad.toml")
    with pytest.raises(CaseError, match=expected) as info:
        load_case_file(path)
    # The line of the key that names the bad file (the dimension mismatch: the [[case]] header, line 3).
    (key,) = keys
    text = path.read_text().splitlines()
    line = 3 if key == "moving" and "3D" in expected else next(i for i, t in enumerate(text, 1) if t.startswith(key))
    assert str(info.value).startswith(f"{path}:{line}: case 'bad': "), str(info.value)


def test_toml_syntax_error_gives_the_line(files):
    path = write(files, '[[case]]\nname = "x"\nfixed = "unterminated\n', name="syntax.toml")
    with pytest.raises(CaseError, match=r"syntax\.toml: TOML syntax error: .*line 3"):
        load_case_file(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_case_toml(fixd="a.nii"), r"bad\.toml:7: unknown key 'fixd'; valid keys: name, fixed, moving"),
        (_case_toml() + "[case.setup]\ntransform = 'spline'\n", r"bad\.toml:7: setup: transform 'spline' is not one"),
        (_case_toml() + "[case.setup]\nshrink_factors = [2, 1.5]\n", r"setup 'shrink_factors' must be a list of int"),
        (_case_toml() + "[case.setup]\nlevels = 3\n", r"unknown setup key 'levels'; valid keys: transform"),
        ('[[case]]\nfixed = "fixed.nii.gz"\n', r"bad\.toml:1: 'name' is required"),
        ("[setup]\nmetric = 'mattes'\n", r"bad\.toml: no \[\[case\]\] table"),
        ("title = 'x'\n" + _case_toml(), r"bad\.toml:1: unknown top-level key 'title'"),
        (_case_toml() + _case_toml(), r"bad\.toml:9: case name 'bad' is used twice \(first at .*bad\.toml:3\)"),
        # a bad name was named only by file (the case file registers its cases as a plugin)
        (_case_toml().replace('"bad"', '"bad name"'), r"bad\.toml:4: case name 'bad name' is not allowed: use "),
        (
            _case_toml().replace('"bad"', f'"{"b" * 78}"') + "[case.simulate]\n",
            r"bad\.toml:4: case name 'b{78}-sim' is not allowed: .*it has 82 characters",
        ),
    ],
    ids=[
        *("unknown-key", "bad-choice", "bad-type", "unknown-setup", "no-name", "no-case", "top-level", "duplicate"),
        *("bad-name", "bad-simulated-name"),
    ],
)
def test_bad_tables_are_named_with_their_line(files, text, expected):
    with pytest.raises(CaseError, match=expected):
        load_case_file(write(files, text, name="bad.toml"))


def test_a_missing_case_file_is_named(tmp_path):
    with pytest.raises(CaseError, match=r"nope\.toml: case file not found"):
        load_case_file(tmp_path / "nope.toml")


def test_case_error_is_a_value_error():
    assert issubclass(CaseError, ValueError)


def test_the_cli_turns_a_bad_case_file_into_exit_2_without_traceback(files):
    from click.testing import CliRunner

    from regbench.cli import main

    path = write(files, _case_toml(fixed="nowhere.nii.gz"), name="cli.toml")
    result = CliRunner().invoke(main, ["run", "--cases", str(path), "-s", "lbfgs2"])
    assert result.exit_code == 2
    assert f"{path}:5: case 'bad': fixed image" in result.output and "not found" in result.output
    assert "Traceback" not in result.output


def test_editing_an_input_file_changes_the_run_key(tmp_path, pm):
    import os
    import shutil

    from regbench.run import new_record

    data = warped_pair((64, 56), TRUTH, seed=4, noise=0.0, image=phantom)
    sitk.WriteImage(data.fixed, str(tmp_path / "fixed.mha"))
    sitk.WriteImage(data.moving, str(tmp_path / "moving.mha"))
    text = '[[case]]\nname = "edited"\nfixed = "fixed.mha"\nmoving = "moving.mha"\n'

    def key():
        (case,) = load_case_file(write(tmp_path, text))
        return new_record(pm.get_strategy("lbfgs2"), case, 0, None, 1)[0].key

    before = key()
    assert key() == before  # nothing changed, same key: the stored result is reused
    shutil.copy(tmp_path / "fixed.mha", tmp_path / "moving.mha")  # another moving image, same name
    os.utime(tmp_path / "moving.mha", ns=(1, 1))
    assert key() != before


def test_initial_jitter_in_a_case_file_makes_each_seed_a_distinct_start(files):
    from regbench.run import instance_key

    text = _case_toml() + "[case.setup]\ntransform = 'rigid'\ninitial_jitter = 0.5\ninitial_jitter_angle = 2\n"
    (case,) = load_case_file(write(files, text, name="jitter.toml"))
    assert (case.setup.initial_jitter, case.setup.initial_jitter_angle) == (0.5, 2.0)
    assert isinstance(case.setup.initial_jitter_angle, float)  # an integer is a number too
    assert len({instance_key(case, seed) for seed in (0, 1, 2)}) == 3
    # The top-level [setup] table gives it to every case, as for any other setup key.
    (case,) = load_case_file(write(files, "[setup]\ninitial_jitter = 1.5\n" + _case_toml(), name="jitter.toml"))
    assert case.setup.initial_jitter == 1.5


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('initial_jitter = "0.5"', r"""setup 'initial_jitter' must be a finite number, got "0\.5" \(a string\)"""),
        ("initial_jitter = true", r"setup 'initial_jitter' must be a finite number, got true \(a boolean\)"),
        ("initial_jitter = nan", r"setup 'initial_jitter' must be a finite number, got nan \(not finite\)"),
        ("histogram_bins = 32.0", r"setup 'histogram_bins' must be an integer, got 32\.0 \(a float\)"),
        ("metric = 3", r"setup 'metric' must be a string, got 3 \(an integer\)"),
        (
            "mesh_size = [4, 'x']",
            r"""setup 'mesh_size' must be a list of integers \(or one integer\), got \[4, "x"\]""",
        ),
        (
            "smoothing_sigmas = {a = 1}",
            r"setup 'smoothing_sigmas' must be a list of finite numbers .*, got \{'a': 1\} \(a table\)",
        ),
    ],
)
def test_a_wrong_setup_type_names_the_file_line_key_and_type(files, line, expected):
    path = write(files, _case_toml() + f"[case.setup]\ntransform = 'translation'\n{line}\n", name="types.toml")
    with pytest.raises(CaseError, match=rf"^{re.escape(str(path))}:9: {expected}$"):
        load_case_file(path)


def test_a_wrong_default_type_names_the_line_of_the_top_level_setup(files):
    path = write(files, "[setup]\nmetric = 'mattes'\ninitial_jitter = '1'\n" + _case_toml(), name="types.toml")
    with pytest.raises(CaseError, match=rf"^{re.escape(str(path))}:3: setup 'initial_jitter' must be a finite number"):
        load_case_file(path)


def _toml_value(value):
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


SETUP_FIELDS = [f.name for f in dataclasses.fields(regbench.Setup)]


def test_every_setup_field_can_be_written_in_a_case_file(files):
    # Read off Setup's type hints, not a list kept by hand: a new Setup field parses by its type.
    defaults = regbench.Setup()
    body = "".join(f"{name} = {_toml_value(getattr(defaults, name))}\n" for name in SETUP_FIELDS)
    (case,) = load_case_file(write(files, _case_toml() + "[case.setup]\n" + body, name="all.toml"))
    assert case.setup == defaults


@pytest.mark.parametrize("name", SETUP_FIELDS)
def test_every_setup_field_refuses_a_wrong_type_with_a_clear_error(files, name):
    wrong = "3" if isinstance(getattr(regbench.Setup(), name), str) else '"x"'
    path = write(files, _case_toml() + f"[case.setup]\n{name} = {wrong}\n", name="wrong.toml")
    with pytest.raises(CaseError, match=rf"^{re.escape(str(path))}:8: setup {name!r} must be .*, got {wrong}"):
        load_case_file(path)


def test_a_negative_mask_given_through_the_api_is_named_negative(files):
    from regbench.cases.data import check_case_data

    fixed = sitk.ReadImage(str(files / "fixed.nii.gz"))
    data = regbench.CaseData(fixed=fixed, moving=fixed, fixed_mask=sitk.ReadImage(str(files / "negative.nrrd")))
    with pytest.raises(CaseError, match=r"case 'api': fixed_mask has \d+ negative pixels \(lowest -1\)"):
        check_case_data("api", data)
