"""``regbench list``: what is registered, and where it comes from."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
from rich.table import Table

from regbench.cases.case import Case
from regbench.cli.common import cli_plugin_manager, echo_json, make_console
from regbench.diagnostics import gradient_audit as gradients
from regbench.diagnostics import probe
from regbench.plugin.manager import RegbenchPluginManager
from regbench.report.text.one_run import as_text
from regbench.report.text.table_fit import fit_table
from regbench.runner.matrix import MatrixError, case_pool
from regbench.strategy import Strategy


def strategy_info(strategy: Strategy) -> dict[str, Any]:
    return {
        "name": strategy.name,
        "description": strategy.description,
        "engine": strategy.engine,
        "available": strategy.unavailable is None,
        "unavailable": strategy.unavailable,
        "provenance": strategy.provenance.as_dict() if strategy.provenance else None,
        "params": [
            {"name": s.name, "type": s.type, "default": s.default, "range": s.range, "help": s.help}
            for s in strategy.param_specs()
        ],
    }


def case_info(case: Case, file: str | None = None) -> dict[str, Any]:
    setup = case.setup
    return {
        "name": case.name,
        "description": case.description,
        "default": case.default,
        "tags": list(case.tags),
        "available": case.unavailable is None,
        "unavailable": case.unavailable,
        "setup": {k: getattr(setup, k) for k in setup.__dataclass_fields__},
        "provenance": case.provenance.as_dict() if case.provenance else None,
        "file": file,
        # A simulated case: its seeds are simulated instances of this case's fixed image (docs/cases.md).
        "simulated_from": case.simulated_from,
        "simulation": dataclasses.asdict(case.simulation) if case.simulation is not None else None,
        # The gradient audit's case-level warning: the cached measurement, else what is known for the metric.
        "gradient_warning": gradients.case_warning(case),
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show every strategy parameter with its default and range, and what the semantics probe found for this "
    "SimpleITK (cached per version).",
)
@click.option(
    "--cases",
    "case_files",
    multiple=True,
    metavar="FILE",
    help="Also read this user case file, TOML (repeatable): every image is read and checked, as `run` would.",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Also import this plugin module, as `regbench run --plugin` does (repeatable).",
)
def list_command(as_json: bool, verbose: bool, case_files: tuple[str, ...], plugins: tuple[str, ...]) -> None:
    """List registered strategies and cases with their plugin and version, and the plugins that cannot load.

    With --cases and --plugin it checks your case files and plugin modules before a long run: a problem is a
    usage error (exit 2) naming the file, line or module. An installed plugin that cannot load is listed in its
    own section, one line each with how to skip it, and the exit status is 1; everything else is listed as usual.
    """
    pm = cli_plugin_manager(plugins)
    try:
        pool = case_pool(pm, case_files)
    except MatrixError as exc:
        raise click.BadParameter(str(exc), param_hint="--cases") from exc
    strategies = [strategy_info(s) for s in pm.strategies().values()]
    cases = [case_info(case, file) for case, file in pool.values()]
    broken = [b.as_dict() for b in pm.broken]
    if as_json:
        out: dict[str, object] = {"strategies": strategies, "cases": cases, "broken": broken}
        if verbose:
            out["semantics"] = probe.semantics(pm)
        echo_json(out)
    else:
        _print_tables(strategies, cases, broken, verbose, pm)
    if broken:
        click.get_current_context().exit(1)


def _print_tables(
    strategies: list[dict], cases: list[dict], broken: list[dict], verbose: bool, pm: RegbenchPluginManager
) -> None:
    console = make_console()
    table = Table(title=f"Strategies ({len(strategies)})", title_justify="left")
    for column in ("name", "description", "plugin"):
        table.add_column(column)
    for s in strategies:
        description = (
            as_text(s["description"]) if s["available"] else as_text(f"unavailable: {s['unavailable']}", "yellow")
        )
        table.add_row(as_text(s["name"]), description, as_text(_provenance(s["provenance"])))
    console.print(fit_table(table, console.width))  # names whole: a cut case name cannot be typed
    if verbose:
        for s in strategies:
            console.print(as_text(f"\n{s['name']}: {s['description']}", style="bold"), highlight=False)
            for p in s["params"]:
                extra = f", {p['range']}" if p["range"] else ""
                line = f"  {p['name']} = {p['default']!r} ({p['type']}{extra})  {p['help']}"
                console.print(as_text(line), highlight=False, soft_wrap=True)
    table = Table(title=f"Cases ({len(cases)})", title_justify="left")
    for column in ("name", "default", "description", "plugin or file"):
        table.add_column(column)
    for c in cases:
        description = (
            as_text(c["description"]) if c["available"] else as_text(f"unavailable: {c['unavailable']}", "yellow")
        )
        if c.get("gradient_warning"):
            description.append("\n" + c["gradient_warning"], style="yellow")
        origin = c["file"] or _provenance(c["provenance"])
        table.add_row(as_text(c["name"]), "yes" if c["default"] else "", description, as_text(origin))
    console.print(fit_table(table, console.width))
    if verbose:
        console.print()
        for line in probe.summary_lines(probe.semantics(pm)):
            console.print(as_text(line), highlight=False, soft_wrap=True)
    if broken:
        console.print(f"\n[bold red]Broken plugins ({len(broken)})[/bold red]: left out of everything above")
        for b in broken:
            console.print(as_text(f"  {b['message']}", "red"), highlight=False, soft_wrap=True)


def _provenance(p: dict | None) -> str:
    if not p:
        return ""
    dist = f" ({p['distribution']} {p['version']})" if p.get("distribution") else ""
    return f"{p['plugin']}{dist}"
