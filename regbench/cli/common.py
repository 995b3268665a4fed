"""Shared pieces of the subcommands: the plugin manager, usage errors, strict JSON output."""

from __future__ import annotations

import os
from typing import Any

import click
from rich.console import Console

from regbench.plugins import BUILTIN_PLUGINS, PluginError, RegbenchPluginManager, make_plugin_manager
from regbench.record import dumps
from regbench.worker import import_plugins


def plugin_manager(plugins: tuple[str, ...] = ()) -> RegbenchPluginManager:
    """The built-ins, installed plugins, and the ``--plugin`` modules (the same set run's workers load).

    A plugin problem is a usage error (exit 2) when ``--plugin`` modules are given (as in ``regbench run``:
    the user is checking their plugin), else an environment problem (exit 1: an installed plugin is broken)."""
    try:
        return make_plugin_manager(builtins=BUILTIN_PLUGINS + import_plugins(plugins))
    except PluginError as exc:
        if plugins:
            raise click.BadParameter(str(exc), param_hint="--plugin") from exc
        raise click.ClickException(str(exc)) from exc


def echo_json(data: Any) -> None:
    click.echo(dumps(data, indent=2))


def parse_assignments(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``name=value`` pairs from a repeatable option; a malformed one is a usage error."""
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        out[name.strip()] = value.strip()
    return out


def make_console(stderr: bool = False) -> Console:
    """A rich console; when output goes to a file or pipe (CI logs, `> out.txt`), wide enough that tables
    keep their columns instead of folding to rich's default 80."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=160)
    return console
