"""Report figures (matplotlib, Agg, no pyplot state): each has axis labels with units, a legend and a caption.

A figure is returned with its caption (what to read from it, and the n behind it); the HTML module saves it.
Figures are drawn on ``matplotlib.figure.Figure`` directly so nothing depends on an interactive backend.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from regbench.outcomes import FAILURE_OUTCOMES, MEANINGS, STATUSES
from regbench.record import RunRecord
from regbench.report.anytime_stats import BOOTSTRAP_RESAMPLES, CONFIDENCE, CaseProfiles, RuntimeEcdf
from regbench.report.runs import Runs
from regbench.report.stats import ErrorColumn, Profile
from regbench.report.summary import SummaryRow
from regbench.stops import CATEGORIES, NO_OVERLAP_VALUE

# Per (case, solver): runs drawn individually, and runs pooled into the median convergence curve.
TRACES_PER_GROUP = 3
CONVERGENCE_RUNS_PER_GROUP = 50
MAX_CASE_FIGURES = 12


@dataclass
class Plot:
    name: str  # file stem, made of safe characters only (record strings never reach the file system)
    title: str
    caption: str
    figure: Figure


def colors(solvers: Sequence[str]) -> dict[str, tuple]:
    """A stable colour per solver, the same in every figure."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(solvers) <= 10 else "tab20"]
    return {s: palette(i % palette.N) for i, s in enumerate(sorted(solvers))}


# Line styles and markers that tell strategies apart where their lines coincide (two variants with the same
# start overplot until they part) and for readers who cannot tell the colours apart. Dotted is kept for level
# changes.
_DASHES = ("-", "--", "-.", (0, (5, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2, 2, 2)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
MARKERS_PER_LINE = 8


def line_styles(solvers: Sequence[str]) -> dict[str, dict]:
    """A stable line style and marker per solver (like :func:`colors`), as ``plot`` keyword arguments."""
    return {
        s: {"ls": _DASHES[i % len(_DASHES)], "marker": _MARKERS[i % len(_MARKERS)], "ms": 4}
        for i, s in enumerate(sorted(solvers))
    }


def mark_every(n_points: int, k: int) -> tuple[int, int]:
    """About :data:`MARKERS_PER_LINE` markers on a line of ``n_points``, shifted per line ``k`` so markers of
    coinciding lines fall side by side instead of on top of each other."""
    step = max(1, n_points // MARKERS_PER_LINE)
    return (k * max(1, step // 5)) % step, step


def legend_outside(ax, **kwargs) -> None:
    """The legend to the right of the axes: it never hides data (constrained layout makes room for it)."""
    if not ax.get_legend_handles_labels()[0]:
        return  # nothing drawn (no run has a trace): the caption says so
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def _plain_log_ticks(axis, top: float) -> None:
    """On a log axis spanning a ratio ``top`` < 20, ticks as plain numbers (0.2, 0.5, 1, 2) instead of
    matplotlib's 2×10⁰ minor labels; wider axes keep the powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if top >= 20:
        axis.set_minor_formatter(NullFormatter())
        return
    # label every minor tick on a short axis, fewer on a longer one (by the tick's leading digit)
    digits = "23456789" if top < 3 else "2345" if top < 8 else "25"
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _pos: f"{value:g}" if f"{value:.0e}"[0] in digits else ""))


# Names of the figure files a report writes (``<name>.png``): per case numbered, the others once. A reused
# output directory is cleaned of exactly these before a new report is written.
PER_CASE_FIGURES = ("traces", "convergence", "error-vs-time")
SINGLE_FIGURES = ("runtime-ecdf", "performance-profiles", "final-error-vs-time", "outcomes")
# Names earlier reports wrote that this one no longer does: removed from a reused directory too.
OLD_FIGURES = ("error-vs-time",)
_FIGURE_FILE = re.compile(
    rf"^(?:(?:{'|'.join(PER_CASE_FIGURES)})-\d{{2,}}|{'|'.join(map(re.escape, SINGLE_FIGURES + OLD_FIGURES))})\.png$"
)


def is_figure_file(name: str) -> bool:
    """True for a file name that a report's figure would have (``traces-03.png``, ``outcomes.png``)."""
    return _FIGURE_FILE.match(name) is not None


# Good stops green-blue, budget stops amber, failures red-grey: the colours say it before the legend does.
_CATEGORY_COLORS = {
    "converged": "#2ca02c",
    "gradient_tolerance": "#98df8a",
    "step_too_small": "#17becf",
    "line_search": "#1f77b4",
    "max_iterations": "#ff7f0e",
    "max_evaluations": "#ffbb78",
    "user_stop": "#9467bd",
    "diverged": "#d62728",
    "no_overlap": "#8c1c13",
    "worse_than_start": "#ff3b30",
    "folded": "#a0522d",
    "invalid_parameter": "#e377c2",
    "error": "#7f7f7f",
    "crashed": "#404040",
    "timeout": "#bcbd22",
    "memory": "#8c564b",
    "unknown": "#c7c7c7",
}

#: The failures judged from the evidence of a run that executed: neither a status nor a stop category.
JUDGED_FAILURES = tuple(o for o in FAILURE_OUTCOMES if o not in STATUSES and o not in CATEGORIES)


def judged_failures_text() -> str:
    """``no_overlap: <meaning>; ...`` in the vocabulary's own words, for captions and the report's definitions."""
    return "; ".join(f"{outcome}: {MEANINGS[outcome]}" for outcome in JUDGED_FAILURES)


def category_colors(names: Sequence[str]) -> dict[str, tuple | str]:
    """Fixed colours for the known outcomes and stop categories; others from a separate palette."""
    others = colors([n for n in names if n not in _CATEGORY_COLORS])
    return {n: _CATEGORY_COLORS.get(n) or others[n] for n in names}


def safe(text: str) -> str:
    """A record string for a legend or title: a "$" must not start matplotlib's mathtext."""
    return str(text).replace("$", r"\$")


def _metric_column(trace_metric: list) -> np.ndarray:
    values = np.array([np.nan if v is None else v for v in trace_metric], dtype=float)
    values[values >= NO_OVERLAP_VALUE] = np.nan
    return values


def _rejected(record: RunRecord) -> np.ndarray:
    """Per trace position: does it belong to an execution whose result the strategy discarded
    (``Segment.rejected``, e.g. gd's rerun of a level at a lower rate that ended worse)?"""
    rejected = {segment.index for segment in record.segments if segment.rejected}
    return np.array([s in rejected for s in record.trace.segment], dtype=bool)


def _level_starts(record: RunRecord) -> list[int]:
    """Trace positions where a new pyramid level (or a new execution) begins, the first excluded. A rerun of
    the same level, rejected or rerun after a rejected attempt, begins no level: it is drawn as rejected."""
    pairs = list(zip(record.trace.segment, record.trace.level, strict=True))
    rejected = _rejected(record)
    return [
        i
        for i in range(1, len(pairs))
        if pairs[i] != pairs[i - 1] and not (pairs[i][1] == pairs[i - 1][1] and (rejected[i] or rejected[i - 1]))
    ]


def _kept_metric(record: RunRecord) -> np.ndarray:
    """The metric column of the executions the strategy kept (rejected ones left out, the rest joined)."""
    return _metric_column(record.trace.metric)[~_rejected(record)]


def _log_if_positive(ax, values: np.ndarray) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
        ax.set_yscale("log")


# Rejected executions: dashed, in the strategy's colour greyed (two strategies' stay apart), no markers, and
# under the kept lines (zorder 2), which a rejected attempt of another strategy may coincide with.
REJECTED_STYLE = {"ls": (0, (4, 2)), "lw": 1.0, "alpha": 0.9, "zorder": 1.5}


def greyed(color) -> tuple[float, float, float]:
    """``color`` mixed half-way with mid grey."""
    from matplotlib.colors import to_rgb

    return tuple(0.45 * c + 0.55 * 0.6 for c in to_rgb(color))


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
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(11, 2.1 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False)
    every, drawn, rejected_runs = [], 0, 0
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_axis_off()
            continue
        solver = names[k]
        for record in records[solver]:
            values = _metric_column(record.trace.metric)
            every.append(values)
            x = np.arange(values.size)
            rejected = _rejected(record)
            ax.plot(x, np.where(rejected, np.nan, values), color=palette[solver], lw=1.0, alpha=0.85)
            rejected_runs += _attempts_and_levels(ax, record, x, values, rejected, palette[solver], lw=0.8)
            drawn += 1
        ax.set_title(safe(solver), fontsize="small")
        ax.tick_params(labelsize="x-small")
    if every:
        _log_if_positive(axes.flat[0], np.concatenate(every))
    fig.supxlabel("iteration (counted over all levels and executions; each panel its own axis)", fontsize="small")
    fig.supylabel("metric as the optimizer saw it", fontsize="small")
    fig.suptitle(f"Metric traces: {safe(case)}")
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
    cols = 4 if many else 1
    rows = (len(names) + cols - 1) // cols if many else 1
    fig = Figure(figsize=(11, 2.1 * rows + 0.6) if many else (9, 4.2), layout="constrained")
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False).flat
    counts, every = [], []
    styles = line_styles(names)
    for k, solver in enumerate(names):
        group = records[solver]
        ax = axes[k] if many else axes[0]
        band = _median_band(group)
        if many:
            ax.set_title(safe(solver), fontsize="small")
            ax.tick_params(labelsize="x-small")
        if band is None:
            continue
        low, mid, high = band
        x = np.arange(mid.size)
        line = {"markevery": mark_every(mid.size, k), **styles[solver]}
        ax.plot(x, mid, color=palette[solver], lw=1.6, alpha=0.85, label=f"{safe(solver)} (n={len(group)})", **line)
        ax.fill_between(x, low, high, color=palette[solver], alpha=0.18, lw=0)
        counts.append(f"{solver}: {len(group)}")
        every.append(mid)
    if many:
        for ax in list(axes)[len(names) :]:
            ax.set_axis_off()
    if every:
        _log_if_positive(axes[0], np.concatenate(every))
    xlabel = "iteration (counted over all levels and kept executions)"
    ylabel = "median metric value (case metric units)"
    if many:
        fig.supxlabel(xlabel + "; each panel its own axis", fontsize="small")
        fig.supylabel(ylabel + "; band: 25–75%", fontsize="small")
        fig.suptitle(f"Median convergence: {safe(case)}")
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


def ecdf_plot(panels: list[tuple[str, list[RuntimeEcdf]]], instances: int, note: str = "") -> Plot:
    """Runtime ECDFs from first-hit times, one panel per target set (``(title, ecdfs)``), each solver with its
    bootstrap band and the virtual best solver dotted black."""
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    names = sorted({e.label for _, ecdfs in panels for e in ecdfs if e.label != "virtual best"})
    palette, styles = colors(names), line_styles(names)
    pairs, resamples = [], BOOTSTRAP_RESAMPLES
    for k, (title, ecdfs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        grid = ecdfs[0].grid if ecdfs else np.geomspace(1e-3, 1.0, 10)
        left, right = grid[0], grid[-1]
        band_alpha = 0.15 if len(ecdfs) <= 9 else 0.07
        for j, e in enumerate(ecdfs):
            x = np.concatenate([[left], e.runtimes, [right]])
            reached = np.arange(1, e.runtimes.size + 1) / max(e.n, 1)
            y = np.concatenate([[0.0], reached, [e.runtimes.size / max(e.n, 1)]])
            if e.label == "virtual best":
                style, band = {"color": "black", "ls": ":", "lw": 2.0}, "0.5"
            else:
                style = {"color": palette[e.label], "lw": 1.6, "markevery": mark_every(x.size, j), **styles[e.label]}
                band = palette[e.label]
            ax.step(x, y, where="post", alpha=0.9, label=safe(e.label), **style)
            ax.fill_between(e.grid, e.low, e.high, step="post", color=band, alpha=band_alpha, lw=0)
        ax.set_xscale("log")
        ax.set_xlim(left, right)
        _plain_log_ticks(ax.xaxis, right / left)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("time since the run started (s, log scale)")
        ax.set_ylabel("fraction of (instance, target) pairs reached")
        n = max((e.n for e in ecdfs if e.label == "virtual best"), default=max((e.n for e in ecdfs), default=0))
        ax.set_title(f"{title} (n={n} pairs)", fontsize="medium")
        pairs.append(f"{title}: {n}")
        if k == 0:
            handles, labels = ax.get_legend_handles_labels()
    if panels:
        handles.append(Patch(color="0.5", alpha=0.3, lw=0))
        labels.append(f"{CONFIDENCE:.0%} bootstrap band")
        fig.legend(handles, labels, fontsize="small", loc="outside right upper")
    caption = (
        f"Fraction of (instance, target) pairs a strategy reached within a given time, over {instances} distinct "
        "instances, from first-hit times: the time of the first kept trace position at or below the target (an "
        "upper bound at the position schedule's resolution), whatever the run's outcome (COCO counts the first "
        "hit). A strategy's runs on one instance are combined by their median first-hit time first. Pairs whose "
        f"target the instance's start already meets are left out ({'; '.join(pairs)} pairs counted). Higher and "
        "further left is better; the height at the right edge is the share ever reached. Shaded: the "
        f"{CONFIDENCE:.0%} interval of each curve over {resamples} bootstrap resamples of the instances (seeded). "
        "Dotted black: the virtual best solver, on each pair the fastest strategy."
        + (f" {note[0].upper()}{note[1:]}." if note else "")
    )
    return Plot(SINGLE_FIGURES[0], "Runtime ECDF from first-hit times", caption, fig)


@dataclass
class RunEvents:
    """Where one run's pyramid levels began and its rejected executions ran, in time and in iterations."""

    level_s: list[float]
    level_iterations: list[int]
    rejected_s: list[tuple[float, float]]
    rejected_iterations: list[tuple[int, int]]


def run_events(record: RunRecord) -> RunEvents:
    """The level changes (:func:`_level_starts`) and rejected executions of a run, on the anytime axes: seconds
    since the run started and iteration events so far (a trace row ``i`` is the ``i + 1``-th event)."""
    times = record.trace.time_s
    rejected = _rejected(record)
    starts = [i for i in _level_starts(record) if times[i] is not None]
    spans_s, spans_it = [], []
    segments = np.asarray(record.trace.segment)
    for segment in np.unique(segments[rejected]) if rejected.any() else []:
        rows = np.flatnonzero(segments == segment)
        spans_it.append((int(rows[0]) + 1, int(rows[-1]) + 1))
        if times[rows[0]] is not None and times[rows[-1]] is not None:
            spans_s.append((float(times[rows[0]]), float(times[rows[-1]])))
    return RunEvents([float(times[i]) for i in starts], [i + 1 for i in starts], spans_s, spans_it)


def anytime_plot(
    number: int,
    panels: tuple[CaseProfiles, CaseProfiles],
    events: dict[str, list[RunEvents]],
    palette: dict,
    error: str,
    left_out: Sequence[str] = (),
) -> Plot:
    """Error against time and against iterations on one case: per strategy the median over instances of the
    anytime curves with the 25–75% band, the median end of the runs marked, and under each panel a strip with
    the level changes (ticks) and rejected executions (bars) of the strategies' runs."""
    by_time = panels[0]
    case = by_time.case
    fig = Figure(figsize=(13, 6.0), layout="constrained")
    grid_spec = fig.add_gridspec(2, 2, height_ratios=[5, 1.1 + 0.12 * len(by_time.profiles)])
    solvers = [p.solver for p in by_time.profiles]
    styles = line_styles(list(palette))
    handles, labels, rejected_any = [], [], False
    for col, profiles in enumerate(panels):
        ax = fig.add_subplot(grid_spec[0, col])
        strip = fig.add_subplot(grid_spec[1, col], sharex=ax)
        grid, drawn = profiles.grid, []
        for p in profiles.profiles:
            color, style = palette[p.solver], {k: v for k, v in styles[p.solver].items() if k == "ls"}
            ran = grid <= p.end if p.end == p.end else np.ones(grid.size, dtype=bool)
            last = int(np.flatnonzero(ran)[-1]) if ran.any() else 0
            ax.plot(
                grid[: last + 1],
                p.mid[: last + 1],
                color=color,
                lw=1.7,
                drawstyle="steps-post",
                gid=f"median:{p.solver}",
                **style,
            )
            ax.plot(grid[last:], p.mid[last:], color=color, lw=0.9, alpha=0.45, drawstyle="steps-post", **style)
            ax.plot([grid[last]], [p.mid[last]], ls="", marker=styles[p.solver]["marker"], ms=7, color=color, mec="k")
            ax.fill_between(grid, p.low, p.high, step="post", color=color, alpha=0.14, lw=0)
            drawn.append(np.concatenate([p.low, p.mid, p.high]))
            if col == 0:
                handles.append(Line2D([], [], color=color, lw=1.7, marker=styles[p.solver]["marker"], mec="k", **style))
                labels.append(f"{safe(p.solver)} ({p.instances} inst.)")
        ax.set_xscale("log")
        if drawn:
            _log_if_positive(ax, np.concatenate(drawn))
        what = "time" if profiles.axis == "time" else "iterations"
        ax.set_title(f"{'error' if profiles.has_truth else 'relative gap'} vs {what}", fontsize="medium")
        ax.set_ylabel(
            f"{error}: median over instances (case units, mm or px)"
            if profiles.has_truth
            else "relative dense-metric gap (f − f_best) / (f0 − f_best)"
        )
        ax.tick_params(labelbottom=False)
        # the event strip: one row per strategy, ticks at level changes, bars over rejected executions
        for k, solver in enumerate(solvers):  # one artist per strategy and kind: hundreds of runs stay cheap
            color, mine = palette[solver], events.get(solver, [])
            x = [t for ev in mine for t in (ev.level_s if profiles.axis == "time" else ev.level_iterations)]
            if x:
                strip.plot(x, [k] * len(x), ls="", marker="|", ms=9, mew=1.4, color=color)
            spans = [s for ev in mine for s in (ev.rejected_s if profiles.axis == "time" else ev.rejected_iterations)]
            if spans:  # the bars of all runs as one line broken by NaN
                xs = [v for lo, hi in spans for v in (max(lo, grid[0]), max(hi, grid[0]), np.nan)]
                strip.plot(xs, [k if v == v else np.nan for v in xs], color=greyed(color), lw=5, alpha=0.8)
                rejected_any = True
        strip.set_ylim(len(solvers) - 0.5, -0.5)
        strip.set_yticks(range(len(solvers)), [safe(s) for s in solvers] if col == 0 else [], fontsize="x-small")
        strip.set_xlim(grid[0], grid[-1])
        strip.set_xlabel(
            "time since the run started (s, log scale)"
            if profiles.axis == "time"
            else "iteration events since the run started (log scale; not comparable across families)"
        )
        if col == 0:
            strip.set_ylabel("events", fontsize="small")
    handles.append(Line2D([], [], ls="", marker="|", ms=9, mew=1.4, color="0.3"))
    labels.append("level change (one tick per run)")
    if rejected_any:
        handles.append(Line2D([], [], color="0.6", lw=5))
        labels.append("rejected execution")
    handles.append(Patch(color="0.5", alpha=0.3, lw=0))
    labels.append("25–75% over instances")
    fig.legend(handles, labels, fontsize="small", loc="outside right upper", title="marker: median end of run")
    fig.suptitle(f"Error against time and iterations: {safe(case)}")
    counts = sorted({p.instances for p in by_time.profiles})
    shown = (
        f" Shown: the {len(solvers)} strategies with the lowest median area under the anytime curve on the case "
        f"(time-averaged relative error on log time); left out: {', '.join(left_out)}."
        if left_out
        else ""
    )
    fallback = (
        f" {by_time.without_curve} runs have no anytime curve: they are drawn as holding their start until they "
        "returned."
        if by_time.without_curve
        else ""
    )
    caption = (
        f"How close each strategy got by each moment on {case}, on its anytime curves (the start, every kept trace "
        "position, the returned transform). Each run is a step function that carries its current value forward: "
        "the error of the position the optimizer held (what stopping it then would return), not the best so far; "
        "after a run ended it keeps what it returned (thin line). Line: the median over "
        f"{'/'.join(map(str, counts)) or 0} distinct instances (a strategy's runs on one instance combined by "
        "their median first); band: the 25–75% range over instances; marker: the median time the runs ended. "
        "Lower is better; both axes are log-scaled where the values span more than a factor of 20. Left: against "
        "the time since the run started (the after-run evaluation not counted); right: against iteration events, "
        "which are not comparable across optimizer families (a line-search iteration costs several metric "
        "evaluations). Under each panel, per strategy: ticks where a new pyramid level (or execution) began in "
        f"each of its runs (the traces of up to {CONVERGENCE_RUNS_PER_GROUP} runs)"
        + ("; grey bars: rejected executions, whose result the strategy discarded" if rejected_any else "")
        + ". Positions are kept on a geometric schedule and evaluated after the run within a time budget, so the "
        f"curves are exact at those points and steps in between.{shown}{fallback}"
    )
    return Plot(f"{PER_CASE_FIGURES[2]}-{number:02d}", f"Error against time: {case}", caption, fig)


def profile_plot(time_profile: Profile, quality_profile: Profile, target_text: str) -> Plot:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    palette, styles = colors(time_profile.solvers), line_styles(time_profile.solvers)
    axes = []
    for k, (profile, what) in enumerate(((time_profile, "first-hit time"), (quality_profile, "final error"))):
        ax = fig.add_subplot(1, 2, k + 1)
        axes.append(ax)
        top = max(2.0, profile.max_ratio() * 1.2)
        taus = np.geomspace(1.0, top, 400)
        for j, (solver, rho) in enumerate(zip(profile.solvers, profile.fractions(taus), strict=True)):
            ax.step(
                taus,
                rho,
                where="post",
                color=palette[solver],
                lw=1.6,
                alpha=0.85,
                label=safe(solver),
                markevery=mark_every(taus.size, j),
                **styles[solver],
            )
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, top)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"τ = {what} / best {what} on the instance\n(log scale; 1 = the best)")
        ax.set_ylabel("fraction of instances with ratio ≤ τ")
        ax.set_title(f"Performance profile: {what} (n={profile.n})")
    # one legend for both panels, outside them: the strategies are the same
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize="small", loc="outside right upper")
    caption = (
        f"Dolan–Moré performance profiles over {time_profile.n} distinct instances. Left: the time a strategy "
        f"first reached {target_text} (its anytime curve's first hit; instances whose start already meets it left "
        "out); right: final error (or relative dense-metric gap where a case has no ground truth). The "
        "value at τ = 1 is the fraction of instances where a strategy was the best; the height at the right edge "
        "is the fraction it solved at all (failures get a ratio above every real one). With more than two "
        "strategies only the best one is ranked reliably."
    )
    return Plot(SINGLE_FIGURES[1], "Performance profiles", caption, fig)


def error_time_plot(runs: Runs, errors: ErrorColumn) -> Plot:
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    palette = colors(sorted(set(runs.solver)))
    values, time = errors.values, runs["wall_time_s"]
    good = (runs["status"] == "ok") & np.isfinite(values) & np.isfinite(time)
    ceiling = (np.nanmax(values[good]) * 2 if good.any() else 1.0) or 1.0
    for solver in sorted(palette):
        rows = runs.solver == solver
        ax.scatter(time[rows & good], values[rows & good], s=12, alpha=0.6, color=palette[solver], label=safe(solver))
        bad = rows & ~good & np.isfinite(time)
        if bad.any():
            ax.scatter(time[bad], np.full(bad.sum(), ceiling), marker="x", s=24, color=palette[solver])
    if (~good).any():
        ax.axhline(ceiling, color="grey", lw=0.6, ls="--")
        ax.scatter([], [], marker="x", color="grey", label="failed / no error (drawn at the top)")
    if good.any():
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, np.nanmax(time[good]) / np.nanmin(time[good]) if np.all(time[good] > 0) else 20.0)
        _log_if_positive(ax, np.append(values[good], ceiling))
    ax.set_xlabel("wall time per run (s)")
    stand_in = f" or {errors.stand_in}" if errors.stand_in_cases else ""
    ax.set_ylabel(f"{errors.name}{stand_in} (physical units of the case)")
    ax.set_title("Final error against wall time")
    legend_outside(ax)
    caption = (
        f"The returned transform's error against the run's whole wall time (the after-run evaluation included), one "
        f"point per run ({int(good.sum())} with an error value, {int((~good).sum())} without: failed runs or "
        f"cases without ground truth, drawn as crosses at the top). The best strategies sit bottom left. The "
        "points of a strategy pool every case (each in its own physical units) and seed, so its vertical spread "
        "mostly reflects the cases' different scales; per-case figures and the recommendation compare within a "
        "case." + (f" {errors.note().capitalize()}." if errors.note() else "")
    )
    return Plot(SINGLE_FIGURES[2], "Final error against wall time", caption, fig)


def _runs_per_row(rows: list[SummaryRow]) -> str:
    counts = sorted({r.runs for r in rows})
    if not counts:
        return "no runs"
    if len(counts) == 1:
        return f"{counts[0]} run{'s' if counts[0] != 1 else ''} each"
    return f"{counts[0]} to {counts[-1]} runs each"


def outcome_plot(rows: list[SummaryRow]) -> Plot:
    fig = Figure(figsize=(10, 0.6 * len(rows) + 2.2), layout="constrained")
    for k, (attr, what) in enumerate((("outcomes", "outcome"), ("stop_categories", "stop category"))):
        ax = fig.add_subplot(1, 2, k + 1)
        names = sorted({name for row in rows for name in getattr(row, attr)})
        palette = category_colors(names)
        y = np.arange(len(rows))
        left = np.zeros(len(rows))
        for name in names:
            counts = np.array([getattr(row, attr).get(name, 0) for row in rows], dtype=float)
            ax.barh(y, counts, left=left, color=palette[name], label=safe(name))
            left += counts
        ax.set_yticks(y, [safe(row.solver) for row in rows])
        ax.invert_yaxis()
        ax.set_xlabel("number of runs")
        ax.set_title(f"Runs per {what}")
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=3)
    caption = (
        f"Left: how the runs of each row ended ({_runs_per_row(rows)}; {sum(r.runs for r in rows)} in all), judged "
        f"from all the evidence ({judged_failures_text()}). Right: the optimizer's own stop reason. A line_search "
        "stop after a rounding error is usually a successful stop; a converged stop or outcome says the optimizer's "
        "test passed, not that the result is close to the truth: check the error columns."
    )
    return Plot(SINGLE_FIGURES[3], "Outcomes and stop categories", caption, fig)
