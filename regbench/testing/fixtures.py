"""The kit's pytest fixtures (``regbench_pm``, ``register_plugin``, ``tiny_case``): the plugin that
``pytest_plugins = ["regbench.testing"]`` loads. A module of its own so the checks import without pytest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from regbench.cases.case import Case
from regbench.cases.tiny import make_tiny_case
from regbench.plugin.manager import RegbenchPluginManager, make_plugin_manager

__all__ = ["fixture_regbench_pm", "fixture_register_plugin", "fixture_tiny_case"]


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
