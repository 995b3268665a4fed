"""Shared pieces of the subcommands: the plugin manager with usage errors, strict JSON output, the console."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from regbench.plugin.manager import PluginError, RegbenchPluginManager
from regbench.runner.worker import plugin_manager as worker_plugin_manager
from regbench.util.console import make_console as make_console  # re-export: the subcommands import it from here
from regbench.util.console import visible
from regbench.util.env_vars import EnvVarError
from regbench.util.strict_json import dumps

#: A command function, as an option decorator takes and returns it (``click.option(...)`` is a ``Callable[[F], F]``).
F = TypeVar("F", bound=Callable[..., Any])


class Group(click.Group):
    """The ``regbench`` group: an error message is printed with its control characters shown, not obeyed. Usage
    errors quote paths, names and plugins' exception texts, any of which may hold a terminal escape; click echoes
    them to a terminal as they are.

    ``lazy`` maps a subcommand's name to ``"module:attribute"``: its module is imported when the command is looked
    up, so ``regbench run`` does not import the report, gates and export machinery it never uses."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attribute = self.lazy[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EnvVarError as exc:  # a bad setting in the environment, read wherever it is needed: a usage error
            raise click.UsageError(visible(str(exc))) from exc
        except click.ClickException as exc:
            exc.message = visible(exc.message)  # type: ignore[misc]  # Final in click's stubs; set once, here
            raise


def cli_plugin_manager(plugins: tuple[str, ...] = (), given: str = "--plugin") -> RegbenchPluginManager:
    """:func:`regbench.runner.worker.plugin_manager` (the set run's workers load) for a subcommand: its strategies and
    cases collected now, and a ``--plugin`` module that fails to import a usage error (exit 2) naming where the module
    was ``given`` (the option, or a run file's ``file:line: plugins``). Any other broken plugin is left out and
    listed in the manager's ``broken``, for the command to report."""
    try:
        pm = worker_plugin_manager(plugins)
    except PluginError as exc:
        if given != "--plugin":
            raise click.UsageError(f"{given}: {exc}") from exc
        raise click.BadParameter(str(exc), param_hint="--plugin") from exc
    pm.strategies()
    pm.cases()
    pm.probe_families()  # a broken probe-family plugin is reported now, not after the runs
    return pm


def pattern_option(kind: str, help: str) -> Callable[[F], F]:
    """``-s/--strategy`` or ``-c/--case`` PATTERN: names or globs, repeatable or comma-separated, chosen by the rule
    of :mod:`regbench.util.names` (``split_patterns``, then ``select``)."""
    short, name, dest = {"strategy": ("-s", "--strategy", "strategies"), "case": ("-c", "--case", "cases")}[kind]
    return click.option(short, name, dest, multiple=True, metavar="PATTERN", help=help)


def refuse_broken(pm: RegbenchPluginManager) -> None:
    """A usage error (exit 2) naming every broken plugin, one line each, when there is one: a benchmark without
    an installed plugin's strategies would not be the benchmark that was asked for."""
    if pm.broken:
        raise click.UsageError("\n".join(b.message for b in pm.broken))


def echo_json(data: Any) -> None:
    click.echo(dumps(data, indent=2))
