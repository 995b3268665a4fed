"""What the plugin manager says about plugins: where an item comes from (:class:`Provenance`), why a plugin was left
out (:class:`BrokenPlugin`, :class:`PluginError`) and which names a strategy or case may have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

BLOCK_ENV = "REGBENCH_BLOCK_PLUGINS"

#: Strategy and case names go into command lines, globs, ``strategy.param=value`` grids, file names and reports.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,79}")
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9._+-]")
NAME_RULE = "letters, digits and . _ + - only, starting with a letter or digit, at most 80 characters"


def name_problem(name: object, kind: str) -> str | None:
    """Why ``name`` cannot name a strategy or case (``kind``), or None when it can: the rule, and what breaks it
    (a terminal escape in a name would reach every report, so the character is named, as ``repr`` shows it)."""
    if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
        return None
    return f"{kind} name {name!r} is not allowed: use {NAME_RULE} ({_broken_by(name)})"


def _broken_by(name: object) -> str:
    if not isinstance(name, str):
        return f"it is not a string but {type(name).__name__}"
    if not name:
        return "it is empty"
    if len(name) > 80:
        return f"it has {len(name)} characters"
    if name[0] in "._+-":
        return f"it starts with {name[0]!r}"
    at = next(i for i, ch in enumerate(name) if not _NAME_CHARACTER.fullmatch(ch))
    return f"{name[at]!r} at position {at + 1} is not one of them"


class PluginError(Exception):
    """A plugin failed to load, or two plugins clash; the message names the plugin and how to skip it."""


@dataclass(frozen=True)
class Provenance:
    """Where a strategy or case comes from."""

    plugin: str
    distribution: str | None
    version: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version}

    def __str__(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.plugin!r}{dist}"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin left out because it cannot load; :attr:`message` is the one line regbench prints for it."""

    plugin: str
    distribution: str | None
    version: str | None
    problem: str

    @property
    def message(self) -> str:
        origin = f" ({self.distribution} {self.version})" if self.distribution else ""
        fix = f"skip it with {BLOCK_ENV}={self.plugin}"
        if self.distribution and self.distribution != "regbench":
            fix = f"uninstall it (pip uninstall {self.distribution}) or {fix}"
        return f"plugin {self.plugin!r}{origin} is broken: {self.problem}; {fix}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "problem": self.problem,
            "message": self.message,
        }
