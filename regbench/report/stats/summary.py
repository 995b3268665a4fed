"""The summary per strategy (or strategy × case): one row of counts and medians per group, as data and as a table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.console import JustifyMethod
from rich.table import Table

from regbench.evaluation.outcomes import FAILURE_OUTCOMES, MIN_OVERLAP_FRACTION
from regbench.evaluation.tolerance import RULE as TOLERANCE_RULE
from regbench.record import RunRecord
from regbench.report.load.columns import PLUGIN_MEASURE_PREFIX, Runs, from_records, plugin_measures
from regbench.report.load.instances import executed, instances, succeeded
from regbench.report.stats.across_instances import error_column, median, relative_gap, worst30
from regbench.util.console import markup_safe

GROUPINGS = ("strategy", "case")


@dataclass
class SummaryRow:
    """One group's figures; medians skip missing values, so they describe the runs that have one.

    ``no_failure`` counts runs whose outcome is not a failure (:mod:`regbench.evaluation.outcomes`); of those,
    ``registered`` the runs whose error ended within their tolerance and ``not_registered`` those beyond it (the rest
    had nothing to judge it by): the verdicts the progress bar and ``show`` use
    (:func:`regbench.evaluation.outcomes.verdict`); ``executed`` counts runs with status ``ok`` (a transform was
    returned, whatever its outcome). ``median_dense_metric`` is only given where the group is one case (one metric):
    across cases it would pool different metrics; ``median_relative_gap`` is unit-free and is given for every group.
    """

    solver: str
    case: str | None
    runs: int
    no_failure: int
    registered: int = 0
    not_registered: int = 0
    executed: int = 0
    instances: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stop_categories: dict[str, int] = field(default_factory=dict)
    rounding_failures: int = 0
    cap_hits: int = 0
    median_iterations: float = float("nan")
    median_dense_metric: float = float("nan")
    median_relative_gap: float = float("nan")
    median_error: float = float("nan")
    worst30_error: float = float("nan")
    median_time_s: float = float("nan")
    # label overlap, where the case has label images: runs with a Dice, and the medians of the mean Dice and HD95
    # (None without labels)
    labels_known: int = 0
    median_dice: float | None = None
    median_hd95: float | None = None
    # deformable models: runs with any folded voxel (Jacobian determinant ≤ 0), and the largest folded share
    folding_known: int = 0  # runs with a folding fraction (0 for rigid or affine models)
    folded_runs: int = 0
    max_folding: float | None = None
    # overlap: the smallest share of fixed-image samples mapped inside the moving image, and runs below the
    # no-overlap threshold
    min_overlap: float | None = None
    low_overlap_runs: int = 0
    # plugins' numeric measures: the median per measure over the group's runs that have it
    measures: dict[str, float] = field(default_factory=dict)


def as_runs(records: Runs | Iterable[RunRecord]) -> Runs:
    return records if isinstance(records, Runs) else from_records(records)


def _groups(keys: list[np.ndarray]) -> list[tuple[tuple, np.ndarray]]:
    """(key, row indices) per distinct combination of the given code arrays, sorted by key."""
    if not keys or not keys[0].size:
        return []
    stacked = np.stack(keys, axis=1)
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(unique)))[:-1]
    return [(tuple(u.tolist()), rows) for u, rows in zip(unique, np.split(order, bounds), strict=True)]


def summary_rows(
    records: Runs | Iterable[RunRecord], by: str = "strategy", error: str = "error_mean"
) -> list[SummaryRow]:
    """Rows per solver (``by="strategy"``) or per solver × case (``by="case"``), sorted by name."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    runs = as_runs(records)
    if not len(runs):
        return []
    solvers, solver_code = runs.codes("solver")
    cases, case_code = runs.codes("case")
    keys = [solver_code] + ([case_code] if by == "case" else [])
    errors = error_column(runs, error).values
    gap = relative_gap(runs)
    ok, done = succeeded(runs), executed(runs)
    judged = runs["registered"]  # 1/0/NaN
    instance = instances(runs).index
    folding, overlap = runs["folding_fraction"], runs["overlap_fraction"]
    dice, hd95 = runs["dice_mean"], runs["hd95"]
    outcome, category = runs["outcome"], runs["stop_category"]
    plugin = {name: runs[f"{PLUGIN_MEASURE_PREFIX}{name}"] for name in plugin_measures(runs)}
    out = []
    for key, rows in _groups(keys):
        one_case = np.unique(case_code[rows]).size == 1
        fold, lap = folding[rows], overlap[rows]
        fold, lap = fold[~np.isnan(fold)], lap[~np.isnan(lap)]
        out.append(
            SummaryRow(
                solver=solvers[key[0]],
                case=cases[key[1]] if by == "case" else None,
                runs=int(rows.size),
                no_failure=int(ok[rows].sum()),
                registered=int((ok[rows] & (judged[rows] == 1)).sum()),
                not_registered=int((ok[rows] & (judged[rows] == 0)).sum()),
                executed=int(done[rows].sum()),
                instances=int(np.unique(instance[rows]).size),
                outcomes=_counts(outcome[rows]),
                stop_categories=_counts(category[rows]),
                rounding_failures=int(runs["rounding_failure"][rows].sum()),
                cap_hits=int(runs["hit_iteration_limit"][rows].sum()),
                median_iterations=median(runs["iterations"][rows]),
                median_dense_metric=median(runs["final_metric_dense"][rows]) if one_case else float("nan"),
                median_relative_gap=median(gap[rows]),
                median_error=median(errors[rows]),
                worst30_error=worst30(errors[rows]),
                median_time_s=median(runs["wall_time_s"][rows]),
                labels_known=int((~np.isnan(dice[rows])).sum()),
                median_dice=_finite(median(dice[rows])),
                median_hd95=_finite(median(hd95[rows])),
                folding_known=int(fold.size),
                folded_runs=int((fold > 0).sum()),
                max_folding=float(fold.max()) if fold.size else None,
                min_overlap=float(lap.min()) if lap.size else None,
                low_overlap_runs=int((lap < MIN_OVERLAP_FRACTION).sum()),
                measures=_medians(plugin, rows),
            )
        )
    return out


def _finite(value: float) -> float | None:
    """``value``, or None for NaN (a median over no value)."""
    return None if np.isnan(value) else float(value)


def _medians(columns: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, float]:
    """The median of each column over ``rows``, for the columns some of those rows have."""
    medians = {name: median(values[rows]) for name, values in columns.items()}
    return {name: value for name, value in medians.items() if not np.isnan(value)}


def _counts(values: np.ndarray) -> dict[str, int]:
    counts = Counter("none" if v is None else v for v in values.tolist())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def fmt_number(value: float | None, digits: int = 4) -> str:
    if value is None or np.isnan(value):
        return "–"
    if np.isinf(value):
        return "∞"
    if value >= 1e307:
        return "no overlap"
    return f"{value:.{digits}g}"


def fmt_percent(fraction: float | None) -> str:
    """A share as a percentage, with enough digits that a tiny one is not shown as 0%."""
    if fraction is None or np.isnan(fraction):
        return "–"
    value = 100 * fraction
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    return f"{value:.2g}%"


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def _folded(row: SummaryRow) -> str:
    if not row.folding_known:
        return "–"
    return f"{row.folded_runs} (max {fmt_percent(row.max_folding)})" if row.folded_runs else "0"


def _registered(row: SummaryRow) -> str:
    """Runs that registered, "of" those judged where some runs without a failure had nothing to judge them by."""
    judged = row.registered + row.not_registered
    if not judged:
        return "–"
    return str(row.registered) if judged == row.no_failure else f"{row.registered} of {judged}"


def _overlap(row: SummaryRow) -> str:
    text = fmt_percent(row.min_overlap)
    return f"{text} ({row.low_overlap_runs} low)" if row.low_overlap_runs else text


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # terminal header (may break over two lines)
    full: str  # name in HTML, CSV and docs
    justify: JustifyMethod
    cell: Callable[[SummaryRow], str]


_COLUMNS = (
    Column("runs", "runs", "runs", "right", lambda r: str(r.runs)),
    Column("no_failure", "no\nfailure", "finished without a failure", "right", lambda r: str(r.no_failure)),
    Column("registered", "regis-\ntered", "registered (within the tolerance)", "right", _registered),
    Column("outcomes", "outcomes", "outcomes", "left", lambda r: fmt_counts(r.outcomes)),
    Column("rounding", "round.\nfail.", "rounding failures", "right", lambda r: str(r.rounding_failures)),
    Column("cap", "cap\nhits", "iteration-cap hits", "right", lambda r: str(r.cap_hits)),
    Column("iterations", "med.\niter.", "median iterations", "right", lambda r: fmt_number(r.median_iterations)),
    Column(
        "dense", "med. dense\nmetric", "median dense final metric", "right", lambda r: fmt_number(r.median_dense_metric)
    ),
    Column("gap", "med. rel.\ngap", "median relative gap", "right", lambda r: fmt_number(r.median_relative_gap, 3)),
    Column("error", "med.\nerror", "median error", "right", lambda r: fmt_number(r.median_error)),
    Column("worst30", "worst\n30% err.", "worst-30% error", "right", lambda r: fmt_number(r.worst30_error)),
    Column("dice", "med.\nDice", "median Dice", "right", lambda r: fmt_number(r.median_dice, 3)),
    Column("hd95", "med.\nHD95", "median HD95", "right", lambda r: fmt_number(r.median_hd95, 3)),
    Column("time", "med.\ntime s", "median time (s)", "right", lambda r: fmt_number(r.median_time_s, 3)),
    Column("folded", "folded\nruns", "folded runs (max folding)", "right", _folded),
    Column("overlap", "min.\noverlap", "minimum overlap", "right", _overlap),
)
# Every column, for the CSV (a fixed layout): "–" where a row has no value.
ALL_COLUMNS = _COLUMNS


def measure_column(name: str) -> Column:
    """An opt-in column of a plugin's numeric measure: its median over the row's runs."""
    return Column(
        f"{PLUGIN_MEASURE_PREFIX}{name}",
        f"med.\n{name}",
        f"median {name} (plugin measure)",
        "right",
        lambda r: fmt_number(r.measures.get(name, float("nan"))),
    )


def measure_columns(rows: list[SummaryRow]) -> list[Column]:
    """A column for every plugin measure some row has (the CSV shows them all)."""
    names = sorted({name for row in rows for name in row.measures})
    return [measure_column(name) for name in names]


def columns_for(rows: list[SummaryRow], by: str = "strategy", measures: Sequence[str] = ()) -> list[Column]:
    """The columns a table of ``rows`` shows: the raw dense metric only per case (one metric), the relative gap
    per strategy; folding only when some run has a deformable model, overlap only when some run recorded it; the
    label Dice only when some run has labels, and HD95 (physical units of one case) only per case; then the plugin
    measures asked for (``measures``, names without the ``measures.`` prefix)."""
    skip = {"gap"} if by == "case" else {"dense"}
    if not any(r.registered + r.not_registered for r in rows):
        skip.add("registered")
    if not any(r.folding_known for r in rows):
        skip.add("folded")
    if all(r.min_overlap is None for r in rows):
        skip.add("overlap")
    if not any(r.labels_known for r in rows):
        skip.update({"dice", "hd95"})
    if by != "case":
        skip.add("hd95")
    return [c for c in _COLUMNS if c.key not in skip] + [measure_column(name) for name in measures]


def row_cells(row: SummaryRow, columns: Iterable[Column] | None = None) -> list[str]:
    """The row's cells in ``columns`` (default: every column, as the CSV has them)."""
    return [c.cell(row) for c in (ALL_COLUMNS if columns is None else columns)]


def caption(runs: Runs, rows: list[SummaryRow], by: str, error: str) -> str:
    """What the columns count, for the terminal caption and the HTML page."""
    shown = {c.key for c in columns_for(rows, by)}
    stand_in = error_column(runs, error).note()
    parts = [
        f"error = {error} ({'landmark TRE' if error.startswith('tre') else 'ground truth'}, physical units)"
        + (f"; {stand_in}" if stand_in else ""),
        f"no failure = runs whose outcome is not a failure ({', '.join(FAILURE_OUTCOMES)})",
    ]
    if "registered" in shown:
        parts.append(
            f"registered = of those, runs whose error ended within their tolerance ({TOLERANCE_RULE}; "
            '"of N": N runs judged, the others had no truth or landmarks)'
        )
    if "gap" in shown:
        parts.append(
            "rel. gap = (f − f_best) / (f0 − f_best) of the dense metric, f_best the best any successful run "
            "reached on the case, f0 the instance's start: 0 = that best, 1 = no better than the start"
        )
    if "folded" in shown:
        parts.append("folded runs = runs with any Jacobian determinant ≤ 0 (max: largest folded share)")
    if "overlap" in shown:
        parts.append(
            "min. overlap = smallest share of fixed samples mapped inside the moving image"
            f" (low: < {MIN_OVERLAP_FRACTION:.0%})"
        )
    if "dice" in shown:
        parts.append("Dice = a run's mean label Dice over the fixed label image's labels (1 = perfect overlap)")
    if "hd95" in shown:
        parts.append("HD95 = a run's mean 95th-percentile label surface distance (physical units)")
    parts.append("worst-30% = its 70th percentile; medians skip runs without a value")
    return "; ".join(parts)


def summary_table(
    records: Runs | Iterable[RunRecord],
    by: str = "strategy",
    error: str = "error_mean",
    title: str | None = None,
    measures: Sequence[str] = (),
) -> Table:
    """The terminal summary: one row per strategy (or strategy × case), across cases and seeds; ``measures``
    adds a column per plugin measure (its median)."""
    runs = as_runs(records)
    rows = summary_rows(runs, by=by, error=error)
    total = sum(r.runs for r in rows)
    columns = columns_for(rows, by, measures)
    grouping = "strategy × case" if by == "case" else "strategy"
    table = Table(
        title=title or f"Summary per {grouping} ({total} runs) · {instances(runs).summary()}",
        title_justify="left",
        caption=caption(runs, rows, by, error),
        caption_justify="left",
    )
    # In a narrow terminal cells fold onto more lines rather than being cut to "0.00…": no figure is lost.
    table.add_column("strategy", overflow="fold")
    if by == "case":
        table.add_column("case", overflow="fold")
    for column in columns:
        table.add_column(column.header, justify=column.justify, overflow="fold")
    for row in rows:
        # names come from records: escape rich markup so "[bold]" in a strategy name stays literal
        lead = [row.solver] + ([row.case or ""] if by == "case" else [])
        table.add_row(*(markup_safe(cell) for cell in lead + row_cells(row, columns)))
    return table
