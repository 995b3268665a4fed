"""The deliberately broken plugin package (tests/plugins/regbench-broken), installed with pip beside the docs' example
plugin as CI does: ``regbench list`` shows the example and reports the broken plugin, ``regbench run`` refuses until
it is blocked, and ``pytest benchmarks/`` records its segfaulting strategy as crashed. Elsewhere these tests skip
(installing it breaks ``regbench run`` on purpose, so the main suite runs without it)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from regbench.cli import main

try:
    DIST = importlib.metadata.distribution("regbench-broken")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "regbench-broken is not installed: pip install ./tests/plugins/regbench-broken", allow_module_level=True
    )

ROOT = Path(__file__).resolve().parents[1]
LINE = (
    f"plugin 'broken' (regbench-broken {DIST.version}) is broken: it registered <class 'regbench_broken.Steady'> as "
    "a strategy, not a regbench.Strategy instance (a class: register an instance, e.g. register(Steady('my-strategy', "
    "...))); uninstall it (pip uninstall regbench-broken) or skip it with REGBENCH_BLOCK_PLUGINS=broken"
)


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.chdir(tmp_path)


def test_list_shows_the_example_and_reports_the_broken_plugin():
    result = CliRunner(env={"COLUMNS": "400"}).invoke(main, ["list"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "broken-segfault" in text and "gd" in text
    try:
        importlib.metadata.distribution("regbench-example")
        assert "example-powell" in text
    except importlib.metadata.PackageNotFoundError:
        pass
    assert "Broken plugins (1)" in text and LINE in text


def test_run_refuses_with_the_same_line_until_it_is_blocked(monkeypatch):
    args = ["run", "-s", "gd", "-c", "synth2d-translation", "-p", "number_of_iterations=3", "--store", "s.sqlite"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and LINE in " ".join(refused.output.split()), refused.output
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "broken")
    assert CliRunner().invoke(main, args).exit_code == 0


def test_the_segfaulting_strategy_is_a_crashed_record(monkeypatch):
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "broken")
    args = ["run", "-s", "broken-segfault", "-c", "synth2d-translation", "--json", "--store", "s.sqlite"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "crashed" and record["provenance"]["strategy"]["distribution"] == "regbench-broken"


def test_pytest_benchmarks_finish_and_record_the_crash(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "REGBENCH_BLOCK_PLUGINS": "broken", "PYTHONIOENCODING": "utf-8"}
    args = ["benchmarks/test_registration.py", "-p", "no:cacheprovider", "--benchmark-json", str(out)]
    args += ["--regbench-strategies", "broken-segfault,gd", "--regbench-cases", "synth2d-translation"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    status = {b["extra_info"]["strategy"]: b["extra_info"]["status"] for b in json.loads(out.read_text())["benchmarks"]}
    assert status == {"broken-segfault": "crashed", "gd": "ok"}
    unblocked = subprocess.run(
        [sys.executable, "-m", "pytest", *args[:3], "--collect-only", "-q"],
        cwd=ROOT,
        env={**env, "REGBENCH_BLOCK_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unblocked.returncode == 4 and LINE in " ".join(unblocked.stderr.split())  # a usage error, like run
