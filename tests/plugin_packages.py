"""Installed plugin distributions for tests: a module plus a ``.dist-info`` with a ``regbench`` entry point, on
``sys.path`` (and ``PYTHONPATH``, so worker processes and subprocesses see it too), as ``pip install`` leaves them."""

from __future__ import annotations

import os
import textwrap
import uuid
from pathlib import Path

import pytest

GOOD = '''
import regbench

class Steady(regbench.SingleRunStrategy):
    """regular-step gradient descent, from a third-party package"""

    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-3, 30)

@regbench.hookimpl
def regbench_register_strategies(register):
    register(Steady("steady"))
'''


def install(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    *,
    distribution: str = "regbench-steady",
    version: str = "1.2.3",
    entry_point: str = "steady",
) -> str:
    """Install ``source`` as a plugin module of its own distribution; returns the module's (fresh) name."""
    module = f"{entry_point.replace('-', '_')}_{uuid.uuid4().hex[:12]}"  # no import cache between tests
    root = tmp_path / f"site-{module}"
    root.mkdir()
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[regbench]\n{entry_point} = {module}\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    return module
