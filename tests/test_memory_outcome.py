"""A run that runs out of memory is recorded ``memory`` however the MemoryError reaches regbench, every
``regbench_run_finished`` hook sees the status that is stored, and the error names the limit that was met: regbench's
``--max-memory`` only when regbench set it (issue 22, item 7)."""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import pytest

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

TESTS = Path(__file__).resolve().parent


def test_a_memory_error_simpleitk_wrapped_is_recorded_memory(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    from memory_plugin import WrappedMemoryError

    record = regbench.run_one(WrappedMemoryError("wrapped"), make_tiny_case(), threads=1)
    assert record.status == record.outcome == "memory", record.error
    assert "returned a result with an exception set (raised from MemoryError)" in record.error


def test_run_finished_sees_the_memory_status_that_is_stored(tmp_path, monkeypatch):
    log = tmp_path / "finished.log"
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("REGBENCH_TEST_MEMORY_LOG", str(log))
    monkeypatch.setenv("REGBENCH_MAX_MEMORY_MB", "256")  # what `regbench run --max-memory 256` gives its workers
    chosen = Matrix(strategies=["test-greedy"], cases=["synth2d-translation"])
    [record] = run_matrix(chosen, tmp_path / "s.sqlite", workers=1, plugins=("retry_plugin", "memory_plugin"))
    assert record.status == record.outcome == "memory", record.error
    assert "memory limit of 256 MiB (--max-memory)" in record.error
    assert log.read_text().split() == [record.key, "memory", "memory"]


def _limit_address_space(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.skipif(not hasattr(os, "sysconf") or sys.platform != "linux", reason="RLIMIT_AS as on Linux")
def test_a_limit_set_outside_regbench_is_named_not_max_memory(regbench_process):
    """`ulimit -v` in the user's shell and no --max-memory: the error says the shell's limit was met."""
    limit = 3 * 2**30
    if os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") < 2 * limit:
        pytest.skip("regbench's default --max-memory (the RAM) would be the tighter limit here")
    args = ["run", "-s", "test-huge", "-c", "synth2d-translation", "--plugin", "memory_plugin", "--json"]
    limited = partial(_limit_address_space, limit)  # as `ulimit -v 3145728` in the shell would
    result = regbench_process.run(*args, "--store", "s.sqlite", preexec_fn=limited)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == record["outcome"] == "memory", record["error"]
    assert "--max-memory" not in record["error"]
    assert "address-space limit of 3072 MiB (RLIMIT_AS, set outside regbench: ulimit -v 3145728" in record["error"]
