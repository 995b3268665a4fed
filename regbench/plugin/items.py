"""The items plugins register, looked up and refused: a strategy or case by name (an unknown name lists the
registered ones), and the refusal of an item by ``register()``, naming the plugin at fault.
"""

from __future__ import annotations

from typing import Any

from regbench.util.provenance import PluginError


class _Refused(Exception):
    """``register()`` refused an item: raised through the plugin's hook, naming the plugin at fault."""

    def __init__(self, plugin: str, problem: str) -> None:
        super().__init__(problem)
        self.plugin, self.problem = plugin, problem


def _lookup(items: dict[str, Any], name: str, kind: str) -> Any:
    try:
        return items[name]
    except KeyError:
        valid = ", ".join(sorted(items)) or "(none registered)"
        raise PluginError(f"unknown {kind} {name!r}; registered: {valid}") from None
