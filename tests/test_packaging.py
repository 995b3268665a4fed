"""Packaging: one version source, and the strategy contract usable without pytest (a test-time tool only)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import regbench

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("regbench") == regbench.__version__


def test_the_cli_prints_the_package_version():
    out = subprocess.run(
        [str(Path(sys.executable).with_name("regbench")), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert regbench.__version__ in out


def test_the_check_kit_runs_without_pytest():
    # sys.modules["pytest"] = None makes any `import pytest` fail, as in an environment without it.
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import regbench, regbench.testing.checks as checks\n"
        "checks.check_strategy(regbench.make_plugin_manager(entrypoints=False).get_strategy('gd'))\n"
        "print('checked')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "checked"
