"""A worker killed from outside (SIGKILL: kill, a batch system, the OOM killer) is retried once before its run is
recorded ``crashed``; a segfault is the run's own and is recorded at once."""

from __future__ import annotations

from pathlib import Path

from regbench.matrix import Matrix
from regbench.runner import run_matrix

TESTS = Path(__file__).resolve().parent


def test_a_run_killed_from_outside_is_retried_once(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("REGBENCH_TEST_MARKER_DIR", str(tmp_path))
    chosen = Matrix(strategies=["test-killed-once", "test-killed-always"], cases=["synth2d-translation"])
    records = {r.strategy: r for r in run_matrix(chosen, tmp_path / "s.sqlite", workers=1, plugins=("retry_plugin",))}
    assert records["test-killed-once"].status == "ok"  # the retry ran it
    always = records["test-killed-always"]
    assert always.status == "crashed"
    assert always.error.startswith("worker died with signal SIGKILL") and "(again, after one retry)" in always.error


def test_a_run_past_max_memory_is_recorded_as_memory(tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    env = {**__import__("os").environ, "PYTHONPATH": str(TESTS)}
    args = ["run", "-s", "test-greedy", "-c", "synth2d-translation", "--plugin", "retry_plugin", "--max-memory", "256"]
    result = subprocess.run(
        [sys.executable, "-c", "from regbench.cli import main; main()", *args, "--store", "s.sqlite", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "memory" and record["outcome"] == "memory", record["error"]
    assert "memory limit of 256 MiB (--max-memory)" in record["error"]


def test_without_max_memory_the_same_run_succeeds(tmp_path):
    import json
    import subprocess
    import sys

    env = {**__import__("os").environ, "PYTHONPATH": str(TESTS)}
    args = ["run", "-s", "test-greedy", "-c", "synth2d-translation", "--plugin", "retry_plugin", "--max-memory", "0"]
    result = subprocess.run(
        [sys.executable, "-c", "from regbench.cli import main; main()", *args, "--store", "s.sqlite", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "ok"
