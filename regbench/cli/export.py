"""``regbench export``: the records of a result store as JSON lines or CSV."""

from __future__ import annotations

import sys

import click

from regbench.exports import FORMATS, write
from regbench.store import DEFAULT_STORE, Store, StoreError


@click.command("export")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: one complete record per line; csv: one flat row of summary fields per run.",
)
@click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The result store to read.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here [default: stdout].")
@click.option("-s", "--strategy", help="Only this strategy's runs.")
@click.option("-c", "--case", help="Only this case's runs.")
def export_command(fmt: str, store: str, output: str | None, strategy: str | None, case: str | None) -> None:
    """Export the runs of a result store (pandas: ``regbench.store.Store(path).to_dataframe()``)."""
    try:
        db = Store(store, create=False)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from exc
    with db:
        records = db.records(strategy=strategy, case=case)
        if output is None:
            write(records, sys.stdout, fmt)
            return
        with open(output, "w", encoding="utf-8", newline="") as out:
            count = write(records, out, fmt)
        click.echo(f"{count} runs written to {output}", err=True)
