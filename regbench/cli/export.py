"""``regbench export``: the records of a result store as JSON lines or CSV."""

from __future__ import annotations

import sys

import click

from regbench.cli.common import pattern_option
from regbench.store.exports import FORMATS, write
from regbench.store.selection import select_records
from regbench.store.sqlite import DEFAULT_STORE, Store, StoreError
from regbench.util.console import visible
from regbench.util.names import MatrixError, split_patterns


@click.command("export")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: one complete record per line; csv: one flat row per run (summary fields, params.*, measures.*).",
)
@click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The result store to read.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here [default: stdout].")
@pattern_option(
    "strategy", "Only these strategies' runs: a name or glob, repeatable or comma-separated, as for `regbench run`."
)
@pattern_option("case", "Only these cases' runs (as -s).")
def export_command(
    fmt: str, store: str, output: str | None, strategies: tuple[str, ...], cases: tuple[str, ...]
) -> None:
    """Export the runs of a result store (pandas: ``regbench.store.sqlite.Store(path).to_dataframe()``).

    A pattern that matches no run in the store is a usage error (exit 2) listing the names the store holds.
    """
    try:
        db = Store.read_only(store)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from exc
    with db:
        try:
            records = select_records(db, split_patterns(strategies), split_patterns(cases))
        except MatrixError as exc:
            raise click.UsageError(f"{store}: {exc}") from exc
        if output is None:
            write(records, sys.stdout, fmt)
            _warn_skipped(db)
            return
        try:
            out = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below; open errors first)
        except OSError as exc:
            raise click.BadParameter(f"cannot write {output}: {exc.strerror}", param_hint="--output") from exc
        with out:
            count = write(records, out, fmt)
        click.echo(f"{count} runs written to {output}", err=True)
        _warn_skipped(db)


def _warn_skipped(db: Store) -> None:
    note = db.skipped_note()
    if note:  # the readable rows were written; say which were not
        click.echo(f"warning: {visible(note)}", err=True)
