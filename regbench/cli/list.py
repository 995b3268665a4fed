"""``regbench list``: what is registered, and where it comes from."""

from __future__ import annotations

import click
from rich.table import Table

from regbench.cli.common import echo_json, make_console, plugin_manager


def strategy_info(strategy) -> dict:
    return {
        "name": strategy.name,
        "description": strategy.description,
        "provenance": strategy.provenance.as_dict() if strategy.provenance else None,
        "params": [
            {"name": s.name, "type": s.type, "default": s.default, "range": s.range, "help": s.help}
            for s in strategy.param_specs()
        ],
    }


def case_info(case) -> dict:
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
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show every strategy parameter with its default and range.")
def list_command(as_json: bool, verbose: bool) -> None:
    """List registered strategies and cases with their plugin and version."""
    pm = plugin_manager()
    strategies = [strategy_info(s) for s in pm.strategies().values()]
    cases = [case_info(c) for c in pm.cases().values()]
    if as_json:
        echo_json({"strategies": strategies, "cases": cases})
        return
    console = make_console()
    table = Table(title=f"Strategies ({len(strategies)})", title_justify="left")
    for column in ("name", "description", "plugin"):
        table.add_column(column)
    for s in strategies:
        table.add_row(s["name"], s["description"], _provenance(s["provenance"]))
    console.print(table)
    if verbose:
        for s in strategies:
            console.print(f"\n[bold]{s['name']}[/bold]: {s['description']}")
            for p in s["params"]:
                extra = f", {p['range']}" if p["range"] else ""
                console.print(f"  {p['name']} = {p['default']!r} ({p['type']}{extra})  {p['help']}", highlight=False)
    table = Table(title=f"Cases ({len(cases)})", title_justify="left")
    for column in ("name", "default", "description", "plugin"):
        table.add_column(column)
    for c in cases:
        description = c["description"] if c["available"] else f"[yellow]unavailable: {c['unavailable']}[/yellow]"
        table.add_row(c["name"], "yes" if c["default"] else "", description, _provenance(c["provenance"]))
    console.print(table)


def _provenance(p: dict | None) -> str:
    if not p:
        return ""
    dist = f" ({p['distribution']} {p['version']})" if p.get("distribution") else ""
    return f"{p['plugin']}{dist}"
