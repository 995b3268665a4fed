"""Shared pieces of the subcommands: the plugin manager, usage errors, strict JSON output."""

from __future__ import annotations

import os
from typing import Any

import click
from rich.console import Console

from regbench.plugins import PluginError, RegbenchPluginManager
from regbench.record import dumps
from regbench.worker import plugin_manager as worker_plugin_manager


def plugin_manager(plugins: tuple[str, ...] = ()) -> RegbenchPluginManager:
    """The built-ins, installed plugins, and the ``--plugin`` modules (the same set run's workers load), with their
    strategies and cases collected. A ``--plugin`` module that fails to import is a usage error (exit 2); any other
    broken plugin is left out and listed in the manager's ``broken``, for the command to report."""
    try:
        pm = worker_plugin_manager(plugins)
    except PluginError as exc:
        raise click.BadParameter(str(exc), param_hint="--plugin") from exc
    pm.strategies()
    pm.cases()
    return pm


def refuse_broken(pm: RegbenchPluginManager) -> None:
    """A usage error (exit 2) naming every broken plugin, one line each, when there is one: a benchmark without
    an installed plugin's strategies would not be the benchmark that was asked for."""
    if pm.broken:
        raise click.UsageError("\n".join(b.message for b in pm.broken))


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
