"""The repeats of one run as a terminal table (:func:`repeats_table`): one line per strategy × case × seed group,
its spread from :mod:`regbench.report.stats.repeats`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import JustifyMethod
from rich.table import Table

from regbench.report.stats.repeats import RepeatSpread
from regbench.report.text.one_run import fmt
from regbench.util.console import markup_safe
from regbench.util.strict_json import dumps


def _labels(rows: Sequence[RepeatSpread]) -> list[str]:
    """The strategy, with the parameters that differ between its rows (a grid) so its rows are told apart."""
    varying: dict[str, set[str]] = {}
    for row in rows:
        for other in rows:
            if other.strategy == row.strategy:
                names = set(row.params) | set(other.params)
                varying.setdefault(row.strategy, set()).update(
                    n for n in names if row.params.get(n) != other.params.get(n)
                )
    labels = []
    for row in rows:
        differing = sorted(varying.get(row.strategy, ()))
        extra = ", ".join(f"{n}={dumps(row.params.get(n))}" for n in differing)
        labels.append(f"{row.strategy} [{extra}]" if extra else row.strategy)
    return labels


def _deterministic_cell(row: RepeatSpread) -> str:
    if row.deterministic is None:
        return "mixed" if len(set(row.deterministic_flags)) > 1 else "unknown"
    return "yes" if row.deterministic else "[yellow]no[/]"


def repeats_table(rows: Sequence[RepeatSpread], title: str | None = None) -> Table:
    """The spread rows as a table: one line per strategy × case × seed group with more than one repeat."""
    table = Table(
        title=title or f"Repeats: spread per strategy × case × seed ({len(rows)} group{'' if len(rows) == 1 else 's'})",
        title_justify="left",
        caption=(
            "min–max over the repeats: error_mean where the case has a truth, else the dense metric "
            "(final_metric_dense). bit-identical: every repeat returned the same transform with the same trace. "
            "deterministic: what the records claim (1 ITK thread: yes; Mattes MI with more threads: no)."
        ),
        caption_justify="left",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("strategy", "left"),
        ("case", "left"),
        ("seed", "right"),
        ("threads", "right"),
        ("repeats", "right"),
        ("measure", "left"),
        ("min", "right"),
        ("max", "right"),
        ("spread", "right"),
        ("iterations", "right"),
        ("bit-identical", "left"),
        ("deterministic", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")  # names wrap, never end in "…"
    for label, row in zip(_labels(rows), rows, strict=True):
        iterations = (
            str(row.iterations_low)
            if row.iterations_low == row.iterations_high
            else f"{row.iterations_low}–{row.iterations_high}"
        )
        if row.identical:
            same = "yes"
        else:
            same = f"{'[red]' if row.contradicts else ''}no ({row.distinct} distinct){'[/]' if row.contradicts else ''}"
        table.add_row(
            markup_safe(label),
            markup_safe(row.case),
            str(row.seed),
            fmt(row.threads),
            str(row.repeats),
            row.measure or "–",
            fmt(row.low),
            fmt(row.high),
            fmt(row.spread, 3),
            iterations,
            same,
            _deterministic_cell(row),
        )
    return table
