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
