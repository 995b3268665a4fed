"""The summary per strategy (or strategy × case): one row of counts and medians per group, as data and as a table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from rich.markup import escape
from rich.table import Table

from regbench.record import RunRecord
from regbench.report.runs import Runs, from_records
from regbench.report.stats import error_column, median, worst30

GROUPINGS = ("strategy", "case")


@dataclass
class SummaryRow:
    """One group's figures; medians skip missing values, so they describe the runs that have one."""

    solver: str
    case: str | None
    runs: int
    ok: int
    outcomes: dict[str, int] = field(default_factory=dict)
    stop_categories: dict[str, int] = field(default_factory=dict)
    rounding_failures: int = 0
    cap_hits: int = 0
    median_iterations: float = float("nan")
    median_dense_metric: float = float("nan")
    median_error: float = float("nan")
    worst30_error: float = float("nan")
    median_time_s: float = float("nan")


def as_runs(records: Runs | Iterable[RunRecord]) -> Runs:
    return records if isinstance(records, Runs) else from_records(records)


def summary_rows(
    records: Runs | Iterable[RunRecord], by: str = "strategy", error: str = "error_mean"
) -> list[SummaryRow]:
    """Rows per solver (``by="strategy"``) or per solver × case (``by="case"``), sorted by name."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    runs = as_runs(records)
    solver = runs.solver.astype(str)
    case = runs["case"].astype(str) if by == "case" else np.full(len(runs), "", dtype=object)
    groups = sorted(set(zip(solver.tolist(), case.tolist(), strict=True)))
    errors = error_column(runs, error).values
    out = []
    for name, case_name in groups:
        rows = (solver == name) & (case == case_name)
        out.append(
            SummaryRow(
                solver=name,
                case=case_name if by == "case" else None,
                runs=int(rows.sum()),
                ok=int((runs["status"][rows] == "ok").sum()),
                outcomes=_counts(runs["outcome"][rows]),
                stop_categories=_counts(runs["stop_category"][rows]),
                rounding_failures=int(runs["rounding_failure"][rows].sum()),
                cap_hits=int(runs["hit_iteration_limit"][rows].sum()),
                median_iterations=median(runs["iterations"][rows]),
                median_dense_metric=median(runs["final_metric_dense"][rows]),
                median_error=median(errors[rows]),
                worst30_error=worst30(errors[rows]),
                median_time_s=median(runs["wall_time_s"][rows]),
            )
        )
    return out


def _counts(values: np.ndarray) -> dict[str, int]:
    counts = Counter("none" if v is None else v for v in values.tolist())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def fmt_number(value: float, digits: int = 4) -> str:
    if value is None or np.isnan(value):
        return "–"
    if np.isinf(value):
        return "∞"
    if value >= 1e307:
        return "no overlap"
    return f"{value:.{digits}g}"


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


# (terminal header, full name for HTML and docs, justification)
COLUMNS = (
    ("runs", "runs", "right"),
    ("ok", "ok", "right"),
    ("outcomes", "outcomes", "left"),
    ("round.\nfail.", "rounding failures", "right"),
    ("cap\nhits", "iteration-cap hits", "right"),
    ("med.\niter.", "median iterations", "right"),
    ("med. dense\nmetric", "median dense final metric", "right"),
    ("med.\nerror", "median error", "right"),
    ("worst\n30% err.", "worst-30% error", "right"),
    ("med.\ntime s", "median time (s)", "right"),
)


def row_cells(row: SummaryRow) -> list[str]:
    return [
        str(row.runs),
        str(row.ok),
        fmt_counts(row.outcomes),
        str(row.rounding_failures),
        str(row.cap_hits),
        fmt_number(row.median_iterations),
        fmt_number(row.median_dense_metric),
        fmt_number(row.median_error),
        fmt_number(row.worst30_error),
        fmt_number(row.median_time_s, 3),
    ]


def summary_table(
    records: Runs | Iterable[RunRecord], by: str = "strategy", error: str = "error_mean", title: str | None = None
) -> Table:
    """The terminal summary: one row per strategy (or strategy × case), across cases and seeds."""
    runs = as_runs(records)
    rows = summary_rows(runs, by=by, error=error)
    total = sum(r.runs for r in rows)
    stand_in = error_column(runs, error).note()
    table = Table(
        title=title or f"Summary per {'strategy × case' if by == 'case' else 'strategy'} ({total} runs)",
        title_justify="left",
        caption=f"error = {error} ({'landmark TRE' if error.startswith('tre') else 'ground truth'}, physical units)"
        + (f"; {stand_in}" if stand_in else "")
        + "; worst-30% = its 70th percentile; medians skip runs without a value",
        caption_justify="left",
    )
    # In a narrow terminal cells fold onto more lines rather than being cut to "0.00…": no figure is lost.
    table.add_column("strategy", overflow="fold")
    if by == "case":
        table.add_column("case", overflow="fold")
    for header, _, justify in COLUMNS:
        table.add_column(header, justify=justify, overflow="fold")
    for row in rows:
        # names come from records: escape rich markup so "[bold]" in a strategy name stays literal
        lead = [row.solver] + ([row.case or ""] if by == "case" else [])
        table.add_row(*(escape(cell) for cell in lead + row_cells(row)))
    return table
