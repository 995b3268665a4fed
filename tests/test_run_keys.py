"""Runs are keyed by content: a touched or copied project reuses its stored runs, and a TOML-case run's record
keeps its case file (relative to the working directory), so `show` prints a command that repeats it."""

from __future__ import annotations

import os
import shutil

import SimpleITK as sitk
from click.testing import CliRunner
from regbench_plugins.synthetic import phantom, warped_pair

from regbench.cli import main
from regbench.store.sqlite import Store

TRUTH = sitk.TranslationTransform(2, (2.0, -1.0))
CASES = """
[[case]]
name = "mine"
fixed = "images/fixed.mha"
moving = "images/moving.mha"
[case.setup]
transform = "translation"
"""
RUN = ["run", "--cases", "cases.toml", "-s", "gd", "--seeds", "2", "-p", "number_of_iterations=3", "--in-process"]


def project(root):
    (root / "images").mkdir(parents=True)
    data = warped_pair((48, 40), TRUTH, seed=2, noise=0.0, image=phantom)
    sitk.WriteImage(data.fixed, str(root / "images" / "fixed.mha"))
    sitk.WriteImage(data.moving, str(root / "images" / "moving.mha"))
    (root / "cases.toml").write_text(CASES)
    return root


def run(where, monkeypatch, *extra):
    monkeypatch.chdir(where)
    result = CliRunner().invoke(main, [*RUN, "--store", "results.sqlite", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_touched_and_a_copied_project_reuse_their_stored_runs(tmp_path, monkeypatch, pm):
    first = project(tmp_path / "a")
    assert "2 new" in run(first, monkeypatch)
    for name in ("fixed.mha", "moving.mha"):
        os.utime(first / "images" / name, ns=(10**18, 10**18))  # touch: a new modification time
    assert "0 new, 2 already in the store" in run(first, monkeypatch)
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(first, copy)  # another absolute path (and new times: copytree keeps them, cp would not)
    for name in ("fixed.mha", "moving.mha"):
        os.utime(copy / "images" / name)
    assert "0 new, 2 already in the store" in run(copy, monkeypatch)
    # An edited input is a new problem: new keys.
    shutil.copy(copy / "images" / "fixed.mha", copy / "images" / "moving.mha")
    assert "2 runs: 2 new;" in run(copy, monkeypatch)


def test_show_repeats_a_toml_case_run(tmp_path, monkeypatch, pm):
    root = project(tmp_path / "p")
    run(root, monkeypatch)
    with Store.read_only(root / "results.sqlite") as store:
        (record, *_) = list(store.records())
    assert record.provenance["case_file"] == "cases.toml"
    shown = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["show", record.key[:10], "--store", "results.sqlite"])
    assert shown.exit_code == 0, shown.output
    assert "--cases cases.toml" in shown.output and "FILE" not in shown.output
