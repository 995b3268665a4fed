"""Hostile input files (issue 22, items 5 and 6): each is a usage error naming the file, found when the case or
record loads, never a traceback, a hang, or a case accepted whose every run then fails."""

from __future__ import annotations

import os

import pytest
import SimpleITK as sitk
from click.testing import CliRunner

from regbench import Case, CaseData, CaseError, Setup
from regbench.cli import main


def blob(size=(32, 32), centre=None) -> sitk.Image:
    """A smooth, non-constant image."""
    centre = centre or [n // 2 for n in size]
    return sitk.GaussianSource(sitk.sitkFloat32, list(size), [4] * len(size), list(centre), 100.0)


def case_file(tmp_path, fixed="fixed.mha", moving="moving.mha", extra=""):
    """A case file of one case; ``moving.mha`` is written, ``fixed`` is the test's."""
    sitk.WriteImage(blob(centre=[17, 15]), str(tmp_path / "moving.mha"))
    path = tmp_path / "cases.toml"
    path.write_text(f'[[case]]\nname = "c"\nfixed = "{fixed}"\nmoving = "{moving}"\n{extra}')
    return path


def list_cases(path):
    result = CliRunner().invoke(main, ["list", "--cases", str(path)])
    return result.exit_code, " ".join(result.output.split())


# -- item 5: files that raised a traceback or hung ----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_given_as_an_image_is_refused_without_waiting(tmp_path, regbench_process):
    os.mkfifo(tmp_path / "fixed.mha")
    path = case_file(tmp_path)
    # in a subprocess with a timeout: the old code blocked for ever opening the FIFO
    done = regbench_process.run("list", "--cases", str(path), timeout=20)
    assert done.returncode == 2, done.stderr
    assert "fixed.mha is a FIFO (named pipe), not a regular file" in " ".join(done.stderr.split())


def test_a_symlink_loop_given_as_an_image_is_a_usage_error(tmp_path):
    os.symlink("fixed.mha", tmp_path / "fixed.mha")
    code, output = list_cases(case_file(tmp_path))
    assert code == 2 and "cases.toml:3: case 'c': fixed image" in output and "is a symlink loop" in output
    assert "Traceback" not in output


def test_a_case_file_nesting_3000_arrays_is_a_usage_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    code, output = list_cases(path)
    assert code == 2 and "deep.toml: the case file is nested too deeply" in output


def test_show_of_a_json_file_nested_5000_deep_is_a_usage_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000 + "]" * 5000)
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 2, result.output
    assert "deep.json" in result.output and "nested too deeply" in result.output


# -- item 6: cases accepted at load whose every run then failed ---------------------------------------------


def test_a_4d_image_is_refused_at_load_naming_the_file(tmp_path):
    volumes = [blob((8, 8, 8)) for _ in range(5)]
    sitk.WriteImage(sitk.JoinSeries(volumes), str(tmp_path / "fixed.nii"))
    code, output = list_cases(case_file(tmp_path, fixed="fixed.nii"))
    assert code == 2 and "fixed.nii is 4D: registration takes 2D or 3D images" in output


def test_a_bspline_initial_transform_under_an_affine_model_is_refused(tmp_path):
    fixed = blob()
    sitk.WriteImage(fixed, str(tmp_path / "fixed.mha"))
    sitk.WriteTransform(sitk.BSplineTransformInitializer(fixed, [4, 4]), str(tmp_path / "start.tfm"))
    extra = 'initial_transform = "start.tfm"\n[case.setup]\ntransform = "affine"\n'
    code, output = list_cases(case_file(tmp_path, extra=extra))
    assert code == 2 and "cases.toml:5: case 'c': initial_transform is a B-spline transform" in output
    assert "'affine' model" in output


def test_non_orthonormal_direction_cosines_are_refused(tmp_path):
    fixed = blob()
    fixed.SetDirection((1.0, 0.5, 0.0, 1.0))
    sitk.WriteImage(fixed, str(tmp_path / "fixed.mha"))
    code, output = list_cases(case_file(tmp_path))
    assert code == 2 and "cases.toml:3: case 'c': fixed image's direction cosines are not orthonormal" in output


def test_a_two_component_image_is_refused_with_how_to_extract_one(tmp_path):
    sitk.WriteImage(sitk.Compose(blob(), blob(centre=[10, 10])), str(tmp_path / "fixed.mha"))
    code, output = list_cases(case_file(tmp_path))
    assert code == 2 and "fixed.mha has 2 different components per pixel" in output
    assert "VectorIndexSelectionCast" in output


def test_a_grey_image_saved_with_equal_components_is_still_read(tmp_path):
    """The documented rule for RGB PNGs of grey images: one component is kept when all are alike."""
    sitk.WriteImage(sitk.Compose(blob(), blob(), blob()), str(tmp_path / "fixed.mha"))
    code, output = list_cases(case_file(tmp_path))
    assert code == 0, output


def test_a_python_case_with_a_two_component_image_is_refused_at_load():
    data = CaseData(fixed=sitk.Compose(blob(), blob(centre=[10, 10])), moving=blob(centre=[17, 15]))
    case = Case("two-comp", lambda: data, Setup())
    with pytest.raises(CaseError, match="fixed image has 2 different components per pixel"):
        case.load()
