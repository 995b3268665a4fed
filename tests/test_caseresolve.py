"""A TOML case is first class after its run (issue 20): the record keeps its case file and the digest of the case,
so ``show --images/--resample``, the HTML report's pictures, the recommendation's tolerance and ``audit`` find it
again from the store; a moved or changed file is named, and ``--cases FILE`` points at it.

Before this, every command below failed on such a store: ``show`` exited 2 with "cannot be loaded here: unknown
case", the HTML said "No pictures", the tolerance was the 0.5 default, ``audit`` refused the case, and ``show``,
``report`` and ``recommend`` had no ``--cases`` option.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from click.testing import CliRunner
from regbench_plugins.synthetic import phantom

import regbench
from regbench.cases.case import CaseError, case_digest
from regbench.cases.files import load_case_file
from regbench.cli import main
from regbench.evaluation.tolerance import registration_tolerance
from regbench.report.decide.inputs import case_tolerances
from regbench.report.load.case_of_run import CaseResolver, resolve_case
from regbench.report.load.columns import from_records, load_store
from regbench.store.sqlite import Store

NAME = "t1-pd-oblique"
CASES = f"""
[[case]]
name = "{NAME}"
fixed = "../images/fixed.nii.gz"
moving = "../images/moving.nii.gz"
truth = "../images/truth.tfm"

[case.setup]
transform = "translation"
shrink_factors = [{{shrink}}]
smoothing_sigmas = [0.0]
"""


def write_pair(root, size, spacing, shift, angle=0.3):
    """A phantom on an oblique, anisotropic grid and its copy moved by a known translation (the truth)."""
    (root / "images").mkdir(parents=True)
    moving = phantom(size, seed=3)
    moving.SetSpacing(spacing)
    if len(size) == 2:
        c, s = np.cos(angle), np.sin(angle)
        moving.SetDirection((c, -s, s, c))
    truth = sitk.TranslationTransform(len(size), shift)
    fixed = sitk.Resample(moving, moving, truth, sitk.sitkLinear, 0.0)
    sitk.WriteImage(fixed, str(root / "images" / "fixed.nii.gz"))
    sitk.WriteImage(moving, str(root / "images" / "moving.nii.gz"))
    sitk.WriteTransform(truth, str(root / "images" / "truth.tfm"))
    (root / "cases").mkdir()
    (root / "cases" / "mine.toml").write_text(CASES.format(shrink=2 if len(size) == 2 else 1))
    return root


def invoke(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, [str(a) for a in args])


def run_project(root, monkeypatch, seeds=2):
    monkeypatch.chdir(root)
    result = invoke(
        "run", "--cases", "cases/mine.toml", "--store", "s.sqlite", "-s", "gd", "--seeds", seeds,
        "-p", "number_of_iterations=20", "--in-process",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store.read_only(root / "s.sqlite") as store:
        return sorted(store.records(), key=lambda r: r.seed)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A 2D 96×96 pair with oblique direction cosines and 2 × 3 mm pixels, run into a store; cwd is the project."""
    root = write_pair(tmp_path / "project", (96, 96), (2.0, 3.0), (2.0, -1.5))
    return root, run_project(root, monkeypatch)


def test_the_record_keeps_its_case_file_its_digest_and_the_fixed_spacing(project):
    root, (record, *_) = project
    (case,) = load_case_file(root / "cases" / "mine.toml")
    assert record.provenance["case_file"] == "cases/mine.toml"  # as typed, for the rerun command
    assert record.provenance["case_file_abs"] == (root / "cases" / "mine.toml").as_posix()
    assert record.provenance["case_digest"] == case_digest(case)
    assert record.fixed_spacing == [2.0, 3.0]


def test_show_images_and_resample_work_on_a_toml_case_from_the_store(project):
    root, (record, *_) = project
    result = invoke(
        "show", record.key[:10], "--store", "s.sqlite", "--images", "pics", "--resample", "out.nii.gz",
        "--save-transform", "t.tfm",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {p.name for p in (root / "pics").iterdir()} >= {"overlay.png", "checkerboard.png", "difference.png"}
    fixed, moved = sitk.ReadImage(str(root / "images" / "fixed.nii.gz")), sitk.ReadImage(str(root / "out.nii.gz"))
    assert moved.GetSize() == fixed.GetSize()
    assert np.allclose(moved.GetSpacing(), fixed.GetSpacing()) and np.allclose(moved.GetOrigin(), fixed.GetOrigin())
    assert np.allclose(moved.GetDirection(), fixed.GetDirection())
    assert (root / "t.tfm").is_file()


def test_show_finds_the_case_file_from_another_directory(project, tmp_path, monkeypatch):
    root, (record, *_) = project
    monkeypatch.chdir(tmp_path)  # cases/mine.toml is not here: the record's absolute path is
    result = invoke("show", record.key, "--store", root / "s.sqlite", "--resample", "out.mha")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.mha").is_file()


def test_the_html_report_has_pictures_for_a_toml_case(project):
    root, _ = project
    result = invoke("report", "--store", "s.sqlite", "--html", "html", "--no-stats")
    assert result.exit_code == 0, result.output
    page = (root / "html" / "index.html").read_text()
    section = page.split(f'<section class="case" id="rec-{NAME}">', 1)[1].split("</section>", 1)[0]
    assert "No pictures" not in section
    images = section.split('<img src="')[1:]
    assert images and all(src.startswith(f"runs/{NAME}/") for src in images)
    first = images[0].split('"', 1)[0]
    assert (root / "html" / first).is_file()


def test_a_moved_case_file_is_named_and_cases_points_at_it(project):
    root, (record, *_) = project
    (root / "cases").rename(root / "moved")
    result = invoke("show", record.key, "--store", "s.sqlite", "--images", "pics", "--save-transform", "t.tfm")
    assert result.exit_code == 2
    assert f"case '{NAME}' came from cases/mine.toml" in result.output
    assert "not there any more" in result.output and "--cases FILE" in result.output
    assert not (root / "t.tfm").exists() and not (root / "pics").exists()  # nothing written before the error
    result = invoke("show", record.key, "--store", "s.sqlite", "--images", "pics", "--cases", "moved/mine.toml")
    assert result.exit_code == 0, result.output
    assert (root / "pics" / "overlay.png").is_file()
    # the report and the recommendation take the same option
    assert invoke("recommend", "--store", "s.sqlite", "--cases", "moved/mine.toml").exit_code == 0
    result = invoke("report", "--store", "s.sqlite", "--html", "html", "--no-stats", "--cases", "moved/mine.toml")
    assert result.exit_code == 0, result.output
    assert "No pictures" not in (root / "html" / "index.html").read_text()


@pytest.mark.parametrize("edit", ["setup", "input"])
def test_a_changed_case_file_is_said_to_have_changed(project, edit):
    root, (record, *_) = project
    if edit == "setup":
        path = root / "cases" / "mine.toml"
        path.write_text(path.read_text().replace('"translation"', '"rigid"'))
    else:  # another fixed image under the same name
        shutil.copy(root / "images" / "moving.nii.gz", root / "images" / "fixed.nii.gz")
    result = invoke("show", record.key, "--store", "s.sqlite", "--resample", "out.nii.gz")
    assert result.exit_code == 2
    assert "cases/mine.toml has changed since the run" in result.output
    assert f"its case '{NAME}' now has another definition" in result.output
    assert not (root / "out.nii.gz").exists()
    result = invoke("show", record.key, "--store", "s.sqlite", "--resample", "out.nii.gz", "--cases", "cases/mine.toml")
    assert result.exit_code == 2 and "is not the one the run used" in result.output


def test_a_bad_cases_file_is_a_usage_error_naming_it(project):
    _, (record, *_) = project
    for command in (["show", record.key, "--images", "pics"], ["report"], ["recommend"]):
        result = invoke(*command, "--store", "s.sqlite", "--cases", "nope.toml")
        assert result.exit_code == 2, command
        assert "nope.toml: case file not found" in result.output


def test_the_tolerance_of_anisotropic_voxels_comes_from_the_store_alone(tmp_path, monkeypatch):
    """2 × 2 × 3 mm voxels: half the finest spacing, 1.0 mm, with the case file and its images gone (the start is
    far enough off, about 8 mm, that a quarter of it does not decide instead)."""
    root = write_pair(tmp_path / "volume", (20, 20, 12), (2.0, 2.0, 3.0), (4.0, -4.0, 6.0))
    (record,) = run_project(root, monkeypatch, seeds=1)
    assert record.fixed_spacing == [2.0, 2.0, 3.0]
    shutil.rmtree(root / "cases")
    shutil.rmtree(root / "images")
    runs = load_store(root / "s.sqlite")
    assert case_tolerances([NAME], runs=runs)[NAME] == (1.0, "half the finest spacing 2")
    result = invoke("recommend", "--store", "s.sqlite", "--json")
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(result.stdout)  # stderr warns that the curves cannot be completed: the case is gone
    assert rec["evidence"] == "truth" and rec["tolerance"] == 1.0


def test_a_record_without_a_spacing_gets_it_from_its_case_file(project):
    _, (record, *_) = project
    record.fixed_spacing = None  # a record stored before the field existed
    # the spacing (2, 3) from the case file; the start's error from the record: the smaller rule decides
    expected = registration_tolerance((2.0, 3.0), record.initial_error_mean)
    assert case_tolerances([NAME], runs=from_records([record]))[NAME] == expected
    assert case_tolerances([NAME])[NAME] == (0.5, "case not loadable here: default")  # by name: not registered
    assert case_tolerances([NAME], case_files=["cases/mine.toml"])[NAME][0] == 1.0
    assert case_tolerances([NAME], 0.3)[NAME] == (0.3, "--tolerance")


def test_audit_accepts_a_toml_case(project):
    args = ["audit", "-s", "gd", "--source", "threads", "--threads", "1", "--json"]
    result = invoke(*args, "--cases", "cases/mine.toml")
    assert result.exit_code in (0, 1), result.output  # 1: flagged unstable, a verdict, not a refusal
    (stability,) = json.loads(result.output)["stability"]
    assert stability["case"] == NAME and stability["sources"][0]["runs"] == 1
    result = invoke(*args, "-c", NAME, "--cases", "cases/mine.toml")
    assert result.exit_code in (0, 1), result.output
    result = invoke(*args, "-c", NAME)
    assert result.exit_code == 2 and f"unknown case '{NAME}': no plugin registers it" in result.output


def test_the_resolver_by_name_and_by_record(project, pm):
    _, (record, *_) = project
    assert resolve_case("synth2d-translation", pm).name == "synth2d-translation"  # a registered case
    resolver = CaseResolver(pm, ["cases/mine.toml"])
    assert list(resolver.given_cases()) == [NAME]
    assert resolver.resolve(NAME).setup.transform == "translation"
    assert resolver.resolve(record).load().fixed.GetSpacing() == (2.0, 3.0)
    with pytest.raises(CaseError, match="no plugin registers it and no --cases file defines it"):
        resolver.resolve("no-such-case")
    # a run made from Python with a case object: no case file recorded, only the digest
    record.provenance = {k: v for k, v in record.provenance.items() if not k.startswith("case_file")}
    with pytest.raises(CaseError, match="not registered here and the run recorded no case file"):
        resolve_case(record, pm)
    assert resolver.resolve(record).name == NAME


def test_a_registered_case_run_records_its_spacing_and_digest(pm):
    case = pm.get_case("synth2d-translation")
    record = regbench.run_one("gd", case, params={"number_of_iterations": 2}, pm=pm)
    assert record.fixed_spacing == list(case.load().fixed.GetSpacing())
    assert record.provenance["case_digest"] == case_digest(case) and "case_file" not in record.provenance
    assert resolve_case(record, pm) is case


def test_the_digest_ignores_setup_keys_at_their_default(project):
    """A regbench that adds a setup key (at a default that changes nothing) keeps the stored runs' digests."""
    root, (record, *_) = project
    (case,) = load_case_file(root / "cases" / "mine.toml")
    full = case.fingerprint()
    older = {**full, "setup": {k: v for k, v in full["setup"].items() if k != "ants_radius"}}  # before the key
    case.fingerprint = lambda: older
    assert case_digest(case) == record.provenance["case_digest"]
    case.fingerprint = lambda: {**full, "setup": {**full["setup"], "ants_radius": 3}}  # not the default: changed
    assert case_digest(case) != record.provenance["case_digest"]
