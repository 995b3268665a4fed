"""``regbench export``: the records of a result store as JSON lines, CSV or a directory of Parquet tables."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from regbench.cli.common import pattern_option
from regbench.record import RunRecord
from regbench.store.exports import FORMATS, write
from regbench.store.parquet import TABLES, ParquetUnavailable, pyarrow_module, write_parquet
from regbench.store.selection import select_records
from regbench.store.sqlite import DEFAULT_STORE, Store, StoreError
from regbench.util.console import visible
from regbench.util.names import MatrixError, split_patterns


@click.command("export")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice((*FORMATS, "parquet")),
    default="jsonl",
    show_default=True,
    help="jsonl: one complete record per line; csv: one flat row per run (summary fields, params.*, measures.*); "
    "parquet: runs.parquet, trace.parquet and positions.parquet in the directory DIR (needs pyarrow).",
)
@click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The result store to read.",
)
@click.option(
    "-o", "--output", type=click.Path(), help="Write here [default: stdout]; with --format parquet, the directory DIR."
)
@pattern_option(
    "strategy", "Only these strategies' runs: a name or glob, repeatable or comma-separated, as for `regbench run`."
)
@pattern_option("case", "Only these cases' runs (as -s).")
@click.argument("directory", metavar="[DIR]", required=False, type=click.Path())
def export_command(
    fmt: str,
    store: str,
    output: str | None,
    strategies: tuple[str, ...],
    cases: tuple[str, ...],
    directory: str | None,
) -> None:
    """Export the runs of a result store (pandas: ``regbench.store.sqlite.Store(path).to_dataframe()``).

    \b
    regbench export --format parquet DIR    DIR/runs.parquet      one row per run, flat columns
                                            DIR/trace.parquet     one row per trace sample (long)
                                            DIR/positions.parquet one row per kept optimizer position

    A pattern that matches no run in the store is a usage error (exit 2) listing the names the store holds.
    """
    output = _output(fmt, output, directory)
    from regbench.report.load.columns import complete_before_reading

    complete_before_reading(store)  # an export holds every record complete, trace and anytime curve included
    try:
        db = Store.read_only(store)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from exc
    with db:
        try:
            records = select_records(db, split_patterns(strategies), split_patterns(cases))
        except MatrixError as exc:
            raise click.UsageError(f"{store}: {exc}") from exc
        if fmt == "parquet":
            assert output is not None  # _output refused parquet without a directory
            _export_parquet(records, output, db)
            return
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


def _output(fmt: str, output: str | None, directory: str | None) -> str | None:
    """Where to write: ``-o`` or DIR (one of them; Parquet needs a directory, the others may use stdout). Parquet
    without pyarrow is a usage error naming the extra to install, before the store is read."""
    if output is not None and directory is not None:
        raise click.UsageError(f"give the output once: -o {output} or {directory}, not both")
    where = "--output" if output is not None else "DIR"
    output = output if output is not None else directory
    if fmt != "parquet":
        if output is not None and Path(output).is_dir():
            raise click.BadParameter(f"{output} is a directory; {fmt} is written to a file", param_hint=where)
        return output
    if output is None:
        raise click.UsageError("--format parquet writes three tables into a directory: regbench export -f parquet DIR")
    if Path(output).exists() and not Path(output).is_dir():
        raise click.BadParameter(f"{output} is a file, not a directory", param_hint=where)
    try:
        pyarrow_module()
    except ParquetUnavailable as exc:
        raise click.UsageError(str(exc)) from exc
    return output


def _export_parquet(records: Iterable[RunRecord], directory: str, db: Store) -> None:
    try:
        count = write_parquet(records, directory)
    except OSError as exc:
        raise click.BadParameter(f"cannot write {directory}: {exc.strerror or exc}", param_hint="DIR") from exc
    except ValueError as exc:  # a value Arrow cannot store: a hand-edited store
        raise click.ClickException(f"{db.path}: {exc}") from exc
    click.echo(f"{count} runs written to {directory} ({', '.join(f'{t}.parquet' for t in TABLES)})", err=True)
    _warn_skipped(db)


def _warn_skipped(db: Store) -> None:
    note = db.skipped_note()
    if note:  # the readable rows were written; say which were not
        click.echo(f"warning: {visible(note)}", err=True)
