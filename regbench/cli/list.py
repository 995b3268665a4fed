"""``regbench list``: what is registered, and where it comes from."""

from __future__ import annotations

import click
from rich.table import Table

from regbench.cli.common import echo_json, make_console, plugin_manager
from regbench.matrix import MatrixError, case_pool


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


def case_info(case, file: str | None = None) -> dict:
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
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show every strategy parameter with its default and range.")
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
    """List registered strategies and cases with their plugin and version.

    With --cases and --plugin it checks your case files and plugin modules before a long run: a problem is a
    usage error (exit 2) naming the file, line or module.
    """
    pm = plugin_manager(plugins)
    try:
        pool = case_pool(pm, case_files)
    except MatrixError as exc:
        raise click.BadParameter(str(exc), param_hint="--cases") from exc
    strategies = [strategy_info(s) for s in pm.strategies().values()]
    cases = [case_info(case, file) for case, file in pool.values()]
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
    for column in ("name", "default", "description", "plugin or file"):
        table.add_column(column)
    for c in cases:
        description = c["description"] if c["available"] else f"[yellow]unavailable: {c['unavailable']}[/yellow]"
        origin = c["file"] or _provenance(c["provenance"])
        table.add_row(c["name"], "yes" if c["default"] else "", description, origin)
    console.print(table)


def _provenance(p: dict | None) -> str:
    if not p:
        return ""
    dist = f" ({p['distribution']} {p['version']})" if p.get("distribution") else ""
    return f"{p['plugin']}{dist}"
