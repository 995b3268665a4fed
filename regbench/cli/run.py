"""``regbench run``: run strategies × cases × seeds and record what each optimizer did."""

from __future__ import annotations

import click
from rich.console import Console

from regbench.cli.common import echo_json, parse_assignments, plugin_manager
from regbench.plugins import PluginError
from regbench.report.runview import print_record
from regbench.run import execute_record, new_record
from regbench.strategy import ParameterError


@click.command("run")
@click.option("-s", "--strategy", "strategies", multiple=True, help="Strategy name (repeatable).")
@click.option("-c", "--case", "cases", multiple=True, help="Case name (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling and the strategy.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Strategy parameter (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), help="ITK threads for the run [default: all cores].")
@click.option("--json", "as_json", is_flag=True, help="Print the run records as JSON instead of tables.")
def run_command(strategies, cases, seed, params, threads, as_json) -> None:
    """Run registrations and print what each optimizer really did."""
    pm = plugin_manager()
    try:
        chosen_strategies = [pm.get_strategy(n) for n in strategies] or list(pm.strategies().values())
        chosen_cases = [pm.get_case(n) for n in cases] or [c for c in pm.cases().values() if c.default]
        overrides = parse_assignments(params, "--param")
        planned = [
            (strategy, case, *new_record(strategy, case, seed, overrides, threads))
            for strategy in chosen_strategies
            for case in chosen_cases
        ]
    except (PluginError, ParameterError) as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console()
    records = []
    for strategy, case, record, parsed in planned:
        records.append(execute_record(record, strategy, case, parsed, pm))
        if not as_json:
            print_record(records[-1], console)
    if as_json:
        echo_json([r.to_dict() for r in records] if len(records) > 1 else records[0].to_dict())
