"""Shared pieces of the subcommands: the plugin manager with usage errors, strict JSON output, the console."""

from __future__ import annotations

from typing import Any

import click

from regbench.console import make_console as make_console  # re-export: the subcommands import it from here
from regbench.plugins import PluginError, RegbenchPluginManager
from regbench.strictjson import dumps
from regbench.worker import plugin_manager as worker_plugin_manager


def cli_plugin_manager(plugins: tuple[str, ...] = ()) -> RegbenchPluginManager:
    """:func:`regbench.worker.plugin_manager` (the set run's workers load) for a subcommand: its strategies and cases
    collected now, and a ``--plugin`` module that fails to import a usage error (exit 2). Any other broken plugin is
    left out and listed in the manager's ``broken``, for the command to report."""
    try:
        pm = worker_plugin_manager(plugins)
    except PluginError as exc:
        raise click.BadParameter(str(exc), param_hint="--plugin") from exc
    pm.strategies()
    pm.cases()
    pm.probe_families()  # a broken probe-family plugin is reported now, not after the runs
    return pm


def pattern_option(kind: str, help: str):
    """``-s/--strategy`` or ``-c/--case`` PATTERN: names or globs, repeatable or comma-separated, chosen by the rule
    of :mod:`regbench.names` (``split_patterns``, then ``select``)."""
    short, name, dest = {"strategy": ("-s", "--strategy", "strategies"), "case": ("-c", "--case", "cases")}[kind]
    return click.option(short, name, dest, multiple=True, metavar="PATTERN", help=help)


def refuse_broken(pm: RegbenchPluginManager) -> None:
    """A usage error (exit 2) naming every broken plugin, one line each, when there is one: a benchmark without
    an installed plugin's strategies would not be the benchmark that was asked for."""
    if pm.broken:
        raise click.UsageError("\n".join(b.message for b in pm.broken))


def echo_json(data: Any) -> None:
    click.echo(dumps(data, indent=2))
