"""``regbench runs``: the runs of a result store, one line each with its key, for ``regbench show KEY``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from regbench.cli.common import echo_json, make_console, pattern_option
from regbench.evaluation.outcomes import verdict
from regbench.record import RunRecord
from regbench.report.text.table_fit import fit_table
from regbench.store.selection import select_summaries
from regbench.store.sqlite import DEFAULT_STORE, Store, StoreError
from regbench.util.console import markup_safe
from regbench.util.names import MatrixError, split_patterns

if TYPE_CHECKING:
    from rich.table import Table

#: What a listed run needs of its record: SQLite drops the rest (traces, transforms) before it reaches Python.
_LISTED = ("key", "strategy", "params", "case", "seed", "repeat", "status", "outcome", "registered")
_UNLISTED = tuple(f.name for f in dataclasses.fields(RunRecord) if f.name not in _LISTED)


@click.command("runs")
@click.option("--store", default=DEFAULT_STORE, show_default=True, help="The result store to list.")
@pattern_option("strategy", "Only these strategies' runs: a name or glob, repeatable or comma-separated.")
@pattern_option("case", "Only these cases' runs (as -s).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead.")
def runs_command(store: str, strategies: tuple[str, ...], cases: tuple[str, ...], as_json: bool) -> None:
    """List the runs of a result store in finishing order: key, strategy, case, seed, verdict and outcome.
    ``regbench show KEY`` explains one (a unique prefix of KEY is enough).

    A pattern that matches no run in the store is a usage error (exit 2) listing the names the store holds.
    """
    rows = listed_runs(store, split_patterns(strategies), split_patterns(cases))
    if as_json:
        echo_json(rows)
        return
    console = make_console()
    if not rows:
        console.print(f"{markup_safe(store)}: no runs yet", highlight=False)
        return
    console.print(fit_table(runs_table(rows, short_keys=console.width < WIDE), console.width))


def listed_runs(store: str, strategies: list[str], cases: list[str]) -> list[dict[str, Any]]:
    """One dict per selected run (the :data:`_LISTED` fields but ``params``, the strategy labelled as the reports
    label it, its verdict); a store that cannot be read or a pattern that matches nothing is a usage error."""
    import numpy as np

    from regbench.report.load.columns import solver_labels

    try:
        with Store.read_only(store) as db:
            rows = select_summaries(db, strategies, cases, without=_UNLISTED)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from exc
    except MatrixError as exc:
        raise click.UsageError(f"{store}: {exc}") from exc
    strategies_column = np.array([r["strategy"] for r in rows], dtype=object)
    labels = solver_labels(strategies_column, [r.get("params") or {} for r in rows])
    return [
        {**{k: row.get(k) for k in _LISTED if k != "params"}, "strategy": str(label), "verdict": verdict(row)}
        for row, label in zip(rows, labels, strict=True)
    ]


#: From this terminal width up, keys are printed whole; below it, their first :data:`SHORT_KEY` characters (what
#: ``show`` accepts: 48 bits make two runs sharing one vanishingly rare, and ``show`` names any ambiguity).
WIDE, SHORT_KEY = 100, 12


def runs_table(rows: list[dict[str, Any]], short_keys: bool = False) -> Table:
    from rich import box
    from rich.table import Table

    from regbench.report.text.one_run import as_text

    repeats = any(r["repeat"] for r in rows)
    # no vertical rules, and the repeat last (dropped first): an 80-column terminal holds the rest of a row
    title = f"{len(rows)} run{'' if len(rows) == 1 else 's'}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("key", "strategy", "case"):
        table.add_column(name, no_wrap=True)
    table.add_column("seed", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    if repeats:
        table.add_column("repeat", justify="right", no_wrap=True)
    for r in rows:
        key = r["key"][:SHORT_KEY] if short_keys else r["key"]
        cells = [key, r["strategy"], r["case"], r["seed"], r["verdict"], r["outcome"] or r["status"]]
        table.add_row(*(as_text(cell) for cell in cells + ([str(r["repeat"] or 0)] if repeats else [])))
    table.caption = "regbench show KEY explains a run (a unique prefix of KEY is enough"
    table.caption += f"; keys cut to {SHORT_KEY} characters: --json prints them whole)" if short_keys else ")"
    table.caption_justify = "left"
    return table
