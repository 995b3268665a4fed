"""A worker killed from outside (SIGKILL: kill, a batch system, the OOM killer) is retried once before its run is
recorded ``crashed``; a segfault is the run's own and is recorded at once."""

from __future__ import annotations

import json
from pathlib import Path

from regbench_processes import RegbenchProcesses

from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

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


def greedy_run(processes: RegbenchProcesses, max_memory: str) -> dict:
    """``regbench run --json`` of the strategy that allocates ~1 GiB, in a process of its own, with --max-memory."""
    args = ["run", "-s", "test-greedy", "-c", "synth2d-translation", "--plugin", "retry_plugin", "--json"]
    result = processes.run(*args, "--max-memory", max_memory, "--store", "s.sqlite")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_a_run_past_max_memory_is_recorded_as_memory(regbench_process):
    record = greedy_run(regbench_process, "256")
    assert record["status"] == "memory" and record["outcome"] == "memory", record["error"]
    assert "memory limit of 256 MiB (--max-memory)" in record["error"]


def test_without_max_memory_the_same_run_succeeds(regbench_process):
    assert greedy_run(regbench_process, "0")["status"] == "ok"
