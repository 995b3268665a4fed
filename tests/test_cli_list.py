"""``regbench list``: what is registered, and a check of user case files and plugin modules before a long run."""

from __future__ import annotations

import json

import pytest
import SimpleITK as sitk
from click.testing import CliRunner

from regbench.cli import main


def invoke(*args):
    return CliRunner().invoke(main, ["list", *args])


@pytest.fixture
def case_file(tmp_path):
    fixed = sitk.GaussianSource(sitk.sitkFloat32, [32, 32], [4, 4], [16, 16], 100.0)
    moving = sitk.GaussianSource(sitk.sitkFloat32, [32, 32], [4, 4], [17, 15], 100.0)
    sitk.WriteImage(fixed, str(tmp_path / "fixed.nii.gz"))
    sitk.WriteImage(moving, str(tmp_path / "moving.nii.gz"))
    path = tmp_path / "cases.toml"
    path.write_text(
        '[[case]]\nname = "my-blobs"\nfixed = "fixed.nii.gz"\nmoving = "moving.nii.gz"\ndescription = "two blobs"\n'
    )
    return path


def test_list_shows_the_cases_of_a_case_file_with_their_file(case_file):
    result = invoke("--cases", str(case_file), "--json")
    assert result.exit_code == 0, result.output
    cases = {c["name"]: c for c in json.loads(result.stdout)["cases"]}
    assert cases["my-blobs"]["file"] == str(case_file.resolve())
    assert cases["my-blobs"]["description"] == "two blobs" and cases["my-blobs"]["available"]
    assert cases["synth2d-translation"]["file"] is None  # the registered cases are still listed
    table = invoke("--cases", str(case_file))
    assert table.exit_code == 0 and "my-blobs" in table.output and "two blobs" in table.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[case]]\nname = "x"\nfixed = "fixed.nii.gz"\nmoving = "nope.nii.gz"\n',
            "cases.toml:4: case 'x': moving image",  # the line of the moving key (#13)
        ),
        ('[[case]]\nname = "x"\nfixed = "fixed.nii.gz"\n', "'moving' is required"),
        ('[[case]]\nname = "synth2d-translation"\nfixed = "fixed.nii.gz"\nmoving = "moving.nii.gz"\n', "already"),
        ("[[case]\n", "cases.toml"),
    ],
)
def test_a_bad_case_file_is_a_usage_error_naming_the_file(case_file, text, message):
    case_file.write_text(text)
    result = invoke("--cases", str(case_file))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "--cases" in result.output
    assert "Traceback" not in result.output


def test_a_missing_case_file_is_a_usage_error(tmp_path):
    result = invoke("--cases", str(tmp_path / "gone.toml"))
    assert result.exit_code == 2 and "gone.toml: case file not found" in " ".join(result.output.split())


def test_list_imports_plugin_modules_as_run_does():
    result = invoke("--plugin", "runner_plugin", "--json")
    assert result.exit_code == 0, result.output
    names = {s["name"] for s in json.loads(result.stdout)["strategies"]}
    assert {"test-segfault", "test-hang", "test-sleep"} <= names
    without = {s["name"] for s in json.loads(invoke("--json").stdout)["strategies"]}
    assert "test-segfault" not in without


def test_a_plugin_module_that_fails_to_import_is_a_usage_error():
    result = invoke("--plugin", "no_such_module_anywhere")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--plugin: plugin module 'no_such_module_anywhere' failed to import" in text
    assert "Traceback" not in result.output
