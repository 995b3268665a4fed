"""Fixtures shared by the tests: a fresh plugin manager, and the ``regbench`` command in processes of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from regbench_processes import RegbenchProcesses

import regbench


@pytest.fixture
def pm(monkeypatch):
    """A fresh plugin manager with built-ins only (no third-party entry points)."""
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    return regbench.make_plugin_manager(entrypoints=False)


@pytest.fixture
def regbench_process(tmp_path: Path) -> Iterator[RegbenchProcesses]:
    """``regbench`` in processes of its own, run in the test's ``tmp_path`` (see :class:`RegbenchProcesses`)."""
    processes = RegbenchProcesses(tmp_path)
    yield processes
    processes.close()
