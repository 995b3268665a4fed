"""The per-case figures of single runs' traces: metric traces (overlaid or small multiples) and median
convergence against iterations, drawn with the shared helpers of :mod:`regbench.report.figures.common`.
"""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from regbench.record import RunRecord
from regbench.report.figures.common import (
    CONVERGENCE_RUNS_PER_GROUP,
    PER_CASE_FIGURES,
    REJECTED_STYLE,
    TRACES_PER_GROUP,
    Plot,
    _kept_metric,
    _level_starts,
    _log_if_positive,
    _metric_column,
    _rejected,
    greyed,
    legend_outside,
    line_styles,
    mark_every,
    safe,
)

# Above this many strategies the traces are drawn as small multiples (one panel per strategy, each with its own
# iteration axis and a shared metric axis) instead of one panel of overlaid lines.
SMALL_MULTIPLES_ABOVE = 6


def trace_plot(case: str, number: int, records: dict[str, list[RunRecord]], palette: dict) -> Plot:
    """Per-run metric traces on one case, with level (and execution) changes marked and rejected executions
    drawn apart (grey, dashed). Many strategies: small multiples."""
    if len(records) > SMALL_MULTIPLES_ABOVE:
        return _trace_multiples(case, number, records, palette)
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    drawn, every, rejected_runs = 0, [], 0
    styles = line_styles(list(records))
    for k, (solver, group) in enumerate(sorted(records.items())):
        for i, record in enumerate(group):
            values = _metric_column(record.trace.metric)
            every.append(values)
            x = np.arange(values.size)
            rejected = _rejected(record)
            label = safe(solver) if i == 0 else None
            ax.plot(
                x,
                np.where(rejected, np.nan, values),
                color=palette[solver],
                lw=1.2,
                alpha=0.8,
                label=label,
                markevery=mark_every(values.size, k),
                **styles[solver],
            )
            rejected_runs += _attempts_and_levels(ax, record, x, values, rejected, palette[solver], lw=0.9)
            drawn += 1
    ax.plot([], [], color="grey", ls=":", label="level change")
    if rejected_runs:
        ax.plot([], [], color="0.6", label="rejected attempt", **REJECTED_STYLE)
    if every:
        _log_if_positive(ax, np.concatenate(every))
    ax.set_xlabel("iteration (counted over all levels and executions)")
    ax.set_ylabel("metric value as the optimizer saw it (case metric units)")
    ax.set_title(f"Metric traces: {safe(case)}")
    legend_outside(ax)
    rejected_text = (
        f" Greyed dashed stretches ({rejected_runs} of the runs have some) are rejected attempts: executions whose "
        "result the strategy discarded (gd reruns a level from its start at half the rate when its metric rises, "
        "and keeps the attempt that ended best); they are not level changes."
        if rejected_runs
        else ""
    )
    caption = (
        f"{drawn} runs on {case} (at most {TRACES_PER_GROUP} per strategy, lowest seeds). Each line is the metric "
        "the optimizer reported at each iteration; dotted lines mark where a new pyramid level (or execution) "
        "begins. Values on shrunk, smoothed or sampled levels are not comparable with those on the last level, "
        "so a jump at a level change is expected, not a divergence. A line that keeps falling until it ends "
        "was stopped by its iteration budget. Line style and marker differ per strategy, so lines that coincide "
        f"stay visible.{rejected_text}"
    )
    return Plot(f"{PER_CASE_FIGURES[0]}-{number:02d}", f"Metric traces: {case}", caption, fig)


def _attempts_and_levels(ax, record: RunRecord, x, values, rejected, color, lw: float) -> bool:
    """Draw each rejected attempt greyed, on its own (no line joins two attempts), and a dotted line where each
    level starts; whether the run has a rejected attempt."""
    segments = np.asarray(record.trace.segment)
    for segment in np.unique(segments[rejected]):
        at = segments == segment
        ax.plot(x[at], values[at], color=greyed(color), **REJECTED_STYLE)
    for start in _level_starts(record):
        ax.axvline(start - 0.5, color="0.55", ls=":", lw=lw, alpha=0.7)
    return bool(rejected.any())


def _trace_multiples(case: str, number: int, records: dict[str, list[RunRecord]], palette: dict) -> Plot:
    """The traces of many strategies, one small panel each: a strategy with thousands of evaluations no longer
    squeezes the others into the left edge, and no line hides another."""
    names = sorted(records)
    fig, axes = small_multiples(len(names))
    every, drawn, rejected_runs = [], 0, 0
    for solver, ax in zip(names, axes.flat, strict=False):
        for record in records[solver]:
            values = _metric_column(record.trace.metric)
            every.append(values)
            x = np.arange(values.size)
            rejected = _rejected(record)
            ax.plot(x, np.where(rejected, np.nan, values), color=palette[solver], lw=1.0, alpha=0.85)
            rejected_runs += _attempts_and_levels(ax, record, x, values, rejected, palette[solver], lw=0.8)
            drawn += 1
        ax.set_title(safe(solver), fontsize="small")
    if every:
        _log_if_positive(axes.flat[0], np.concatenate(every))
        _major_ticks_only(axes.flat[0])
    label_multiples(
        fig,
        f"Metric traces: {safe(case)}",
        "iteration (counted over all levels and executions; each panel its own axis)",
        "metric as the optimizer saw it",
    )
    caption = (
        f"{drawn} runs on {case} (at most {TRACES_PER_GROUP} per strategy, lowest seeds), one panel per strategy "
        "with its own iteration axis and a shared metric axis. Each line is the metric the optimizer reported at "
        "each iteration; grey dotted lines mark where a new pyramid level (or execution) begins: a jump there is "
        "expected, not a divergence."
        + (
            f" Greyed dashed stretches ({rejected_runs} runs) are rejected attempts the strategy discarded."
            if rejected_runs
            else ""
        )
    )
    return Plot(f"{PER_CASE_FIGURES[0]}-{number:02d}", f"Metric traces: {case}", caption, fig)


# The small multiples' grid in inches: 4 panels a row, each 2.1 in high. The margins are fixed instead of
# computed by constrained layout, which measured every tick label of every panel (most of the drawing time of a
# 20-panel figure): the outer tick labels, the panel titles and the figure's labels fit in them.
MULTIPLES_COLUMNS, PANEL_HEIGHT_IN, FIGURE_WIDTH_IN = 4, 2.1, 11.0
LEFT_IN, RIGHT_IN, TOP_IN, BOTTOM_IN, ROW_GAP_IN, COLUMN_GAP_IN = 0.75, 0.1, 0.55, 0.55, 0.5, 0.15


def small_multiples(panels: int) -> tuple[Figure, np.ndarray]:
    """A figure of ``panels`` small panels (4 a row, the unused ones switched off) sharing their metric axis."""
    rows = (panels + MULTIPLES_COLUMNS - 1) // MULTIPLES_COLUMNS
    height = PANEL_HEIGHT_IN * rows + TOP_IN + BOTTOM_IN - ROW_GAP_IN
    fig = Figure(figsize=(FIGURE_WIDTH_IN, height))
    panel_width = (FIGURE_WIDTH_IN - LEFT_IN - RIGHT_IN + COLUMN_GAP_IN) / MULTIPLES_COLUMNS - COLUMN_GAP_IN
    spacing = {
        "left": LEFT_IN / FIGURE_WIDTH_IN,
        "right": 1 - RIGHT_IN / FIGURE_WIDTH_IN,
        "top": 1 - TOP_IN / height,
        "bottom": BOTTOM_IN / height,
        "hspace": ROW_GAP_IN / (PANEL_HEIGHT_IN - ROW_GAP_IN),
        "wspace": COLUMN_GAP_IN / panel_width,
    }
    axes = fig.subplots(rows, MULTIPLES_COLUMNS, sharey=True, squeeze=False, gridspec_kw=spacing)
    for ax in axes.flat[:panels]:
        ax.tick_params(labelsize="x-small")
        # whole iterations, at most 5 labels on a 2.5 in axis (each tick costs as much to draw as a line)
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    for ax in axes.flat[panels:]:
        ax.set_axis_off()
    return fig, axes


def label_multiples(fig: Figure, title: str, xlabel: str, ylabel: str) -> None:
    """The small multiples' title and axis labels, in the fixed margins of :func:`small_multiples`."""
    width, height = fig.get_size_inches()
    fig.suptitle(title, y=1 - 0.1 / height, va="top")
    fig.supxlabel(xlabel, y=0.1 / height, va="bottom", fontsize="small")
    fig.supylabel(ylabel, x=0.1 / width, ha="left", fontsize="small")


def _major_ticks_only(ax) -> None:
    """On a log metric axis shared by small multiples, no minor ticks: it spans more than a factor of 20
    (:func:`_log_if_positive`), where they carry no label, and twenty panels' minor ticks took half the drawing."""
    if ax.get_yscale() == "log":
        ax.yaxis.set_minor_locator(NullLocator())


def carried_forward(series: list[np.ndarray]) -> np.ndarray:
    """(runs × longest) matrix; a run that stopped keeps its last value (the fixed-budget view)."""
    length = max((s.size for s in series), default=0)
    out = np.full((len(series), length), np.nan)
    for i, values in enumerate(series):
        if values.size:
            out[i, : values.size] = values
            out[i, values.size :] = values[-1]
    return out


def _median_band(group: list[RunRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(25th, 50th, 75th percentile) of the kept metric against iterations over ``group``; None without traces."""
    matrix = carried_forward([_kept_metric(r) for r in group])
    if matrix.size == 0 or np.all(np.isnan(matrix)):
        return None
    with warnings.catch_warnings():
        # all-NaN columns (no run has a metric at that iteration) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        low, mid, high = np.nanpercentile(matrix, [25, 50, 75], axis=0)
    return low, mid, high


def convergence_plot(case: str, number: int, records: dict[str, list[RunRecord]], palette: dict) -> Plot:
    """Median (and interquartile band) of the metric against iterations, per strategy, on one case. Many
    strategies: small multiples (one panel each, its own iteration axis, a shared metric axis)."""
    names = sorted(records)
    many = len(names) > SMALL_MULTIPLES_ABOVE
    if many:
        fig, grid = small_multiples(len(names))
        axes = grid.flat
    else:
        fig = Figure(figsize=(9, 4.2), layout="constrained")
        axes = fig.subplots(1, 1, squeeze=False).flat
    counts, every = [], []
    styles = line_styles(names)
    for k, solver in enumerate(names):
        group = records[solver]
        ax = axes[k] if many else axes[0]
        band = _median_band(group)
        if many:
            ax.set_title(safe(solver), fontsize="small")
        if band is None:
            continue
        low, mid, high = band
        x = np.arange(mid.size)
        line = {"markevery": mark_every(mid.size, k), **styles[solver]}
        ax.plot(x, mid, color=palette[solver], lw=1.6, alpha=0.85, label=f"{safe(solver)} (n={len(group)})", **line)
        ax.fill_between(x, low, high, color=palette[solver], alpha=0.18, lw=0)
        counts.append(f"{solver}: {len(group)}")
        every.append(mid)
    if every:
        _log_if_positive(axes[0], np.concatenate(every))
        if many:
            _major_ticks_only(axes[0])
    xlabel = "iteration (counted over all levels and kept executions)"
    ylabel = "median metric value (case metric units)"
    if many:
        label_multiples(
            fig, f"Median convergence: {safe(case)}", xlabel + "; each panel its own axis", ylabel + "; band: 25–75%"
        )
    else:
        axes[0].set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
        axes[0].set_title(f"Median convergence: {safe(case)}")
        legend_outside(axes[0], title="line: median\nband: 25–75%", title_fontsize="small")
    caption = (
        f"Median metric against iterations on {case}, over seeds ({'; '.join(counts) or 'no traces'} runs; at "
        f"most {CONVERGENCE_RUNS_PER_GROUP} per strategy)"
        + (", one panel per strategy with its own iteration axis" if many else "")
        + ". A run that stopped keeps its last value, so the curve "
        "shows what a strategy reaches within a given number of iterations. Lower is better. Iterations are not "
        "comparable across optimizer families (a line-search iteration costs several metric evaluations): use "
        "the runtime ECDF to compare cost. Only the executions a strategy kept count: rejected attempts (e.g. "
        "gd's reruns of a level at a lower rate that ended worse) are left out, so iterations are those of the "
        "path to the returned result."
    )
    return Plot(f"{PER_CASE_FIGURES[1]}-{number:02d}", f"Median convergence: {case}", caption, fig)
