"""Test kit for regbench plugins: pytest fixtures and the contract every strategy must meet.

Opt in from your test suite's root ``conftest.py`` (installing regbench registers no pytest plugin, so
SimpleITK is not loaded into every pytest session)::

    pytest_plugins = ["regbench.testing"]

Fixtures: ``regbench_pm`` (a fresh plugin manager, entry points off), ``register_plugin`` (register a plugin
into that manager for one test) and ``tiny_case`` (a 2D 64² case with known truth that runs in well under a
second).

The contract is modelled on scikit-learn's ``check_estimator``: each ``check_*`` function tests one rule and
raises :class:`StrategyCheckFailed` naming the strategy, the rule and what to fix. :func:`check_strategy` runs
them all; :func:`parametrize_with_checks` makes one pytest test per strategy and check::

    @parametrize_with_checks([MyOptimizer("my-opt")])
    def test_contract(strategy, check):
        check(strategy)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from regbench import checks
from regbench.cases import Case
from regbench.checks import *  # noqa: F403  (the contract's public names, re-exported for test suites)
from regbench.plugins import RegbenchPluginManager, make_plugin_manager
from regbench.tinycase import make_tiny_case

__all__ = [
    *checks.__all__,
    "fixture_regbench_pm",
    "fixture_register_plugin",
    "fixture_tiny_case",
]


@pytest.fixture(name="regbench_pm")
def fixture_regbench_pm(monkeypatch: pytest.MonkeyPatch) -> RegbenchPluginManager:
    """A fresh plugin manager with the built-in plugins only (no entry points, nothing blocked)."""
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    return make_plugin_manager(entrypoints=False)


@pytest.fixture(name="register_plugin")
def fixture_register_plugin(regbench_pm: RegbenchPluginManager) -> Iterator[Callable[..., Any]]:
    """``register_plugin(plugin, name=None)`` registers a plugin object or module into ``regbench_pm`` for
    this test; a misspelled hook raises ``PluginError`` at once."""
    registered: list[Any] = []

    def register(plugin: Any, name: str | None = None) -> Any:
        regbench_pm.register(plugin, name=name)
        registered.append(plugin)
        regbench_pm.validate()  # a hook that does not exist raises PluginError, naming the plugin
        return plugin

    yield register
    for plugin in reversed(registered):
        if regbench_pm.is_registered(plugin):
            regbench_pm.unregister(plugin)


@pytest.fixture(name="tiny_case")
def fixture_tiny_case() -> Case:
    """A 2D 64² case with a known translation: see :func:`make_tiny_case`."""
    return make_tiny_case()


# -- the contract: rules on the strategy object ------------------------------------------------------------------

# Names appear in CLI options, globs and ``strategy.param=value`` grids.
