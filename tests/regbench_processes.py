"""The ``regbench`` command in processes of its own, for tests of what only a real process shows: a crash, a hang,
a signal, several runners on one store (the ``regbench_process`` fixture in ``conftest.py`` hands one out)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
#: ``regbench`` as the venv's Python runs it (no console script needed).
REGBENCH = [sys.executable, "-c", "from regbench.cli import main; main()"]


class RegbenchProcesses:
    """The ``regbench`` command in processes of its own, so a crash, a hang or a signal sent to it cannot take
    pytest down. Each runs in ``cwd`` with ``tests/`` first on ``PYTHONPATH``, so ``--plugin runner_plugin`` (and
    the other test plugins) import in it and in its workers."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._started: list[subprocess.Popen[str]] = []

    @staticmethod
    def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment (read now: ``monkeypatch.setenv`` counts), ``tests/`` on ``PYTHONPATH``."""
        path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
        return {**os.environ, "PYTHONPATH": path, **(extra or {})}

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """``regbench ARGS`` to its end (``timeout`` seconds at most), its output captured as text."""
        options = {"cwd": self.cwd, "capture_output": True, "text": True, **options}
        return subprocess.run([*REGBENCH, *args], env=self.env(env), timeout=timeout, **options)

    def start(self, *args: str, env: Mapping[str, str] | None = None, **options: Any) -> subprocess.Popen[str]:
        """``regbench ARGS`` started, not waited for: its stderr joins its stdout, a text pipe, unless ``options``
        say otherwise. Still running when the test ends, it is killed."""
        options = {"cwd": self.cwd, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, **options}
        proc = subprocess.Popen([*REGBENCH, *args], env=self.env(env), **options)
        self._started.append(proc)
        return proc

    def close(self) -> None:
        """Kill what still runs (a failed test must not leave a runner busy on the shared cores), close pipes."""
        for proc in self._started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
