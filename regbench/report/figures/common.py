"""Shared helpers of the report's figures (matplotlib, Agg, no pyplot state; each figure has axis labels with
units, a legend and a caption): the :class:`Plot` a figure is
returned as (with its caption: what to read from it, and the n behind it; the HTML module saves it), stable
colours and line styles, legends and ticks, the names of the figure files, and a run's trace columns.

The figures themselves are in :mod:`regbench.report.figures.traces` (per-run traces and convergence) and
:mod:`regbench.report.figures.anytime` (ECDFs, anytime curves, profiles, outcomes). Figures are drawn on
``matplotlib.figure.Figure`` directly so nothing depends on an interactive backend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure

from regbench.evaluation.outcomes import FAILURE_OUTCOMES, MEANINGS, STATUSES
from regbench.evaluation.stops import CATEGORIES, NO_OVERLAP_VALUE
from regbench.record import RunRecord

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


def colors(solvers: Sequence[str], first: Sequence[str] = ()) -> dict[str, tuple]:
    """A stable colour per solver, the same in every figure. The solvers in ``first`` (the ones the figures
    highlight: :func:`shown_and_greyed`) take tab10's ten distinct colours in that order, the rest follow sorted;
    past ten, the others take tab20's light shades (figures that pool every strategy grey them anyway)."""
    from matplotlib import colormaps

    present = set(solvers)
    order = list(dict.fromkeys(s for s in first if s in present))
    order += sorted(present - set(order))
    strong, light = colormaps["tab10"], colormaps["tab20"]
    return {s: strong(i) if i < strong.N else light((2 * (i - strong.N) + 1) % light.N) for i, s in enumerate(order)}


# Figures that pool every strategy (runtime ECDFs, performance profiles, final error against time) colour at most
# this many: the highlighted ones. The rest are drawn thin and light grey, without bands, and named in the caption.
MAX_COLOURED = 8
GREY = "0.78"


def shown_and_greyed(names: Sequence[str], highlight: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(coloured, greyed) of ``names``, the highlighted first in their order: every one coloured when there are
    few (≤ :data:`MAX_COLOURED` + 2) or none is highlighted; otherwise the highlighted ones (at most
    :data:`MAX_COLOURED`)."""
    names = list(dict.fromkeys(names))
    first = [n for n in dict.fromkeys(highlight or ()) if n in names]
    if len(names) <= MAX_COLOURED + 2:
        return first + [n for n in names if n not in first], []
    if not first:
        return names, []
    coloured = first[:MAX_COLOURED]
    return coloured, [n for n in names if n not in coloured]


def greyed_text(greyed: Sequence[str]) -> str:
    """The caption's sentence naming the strategies drawn in grey."""
    if not greyed:
        return ""
    return (
        f" Drawn thin in light grey, without bands ({len(greyed)} strategies neither recommended nor picked as a "
        f"contrast): {', '.join(greyed)}."
    )


# Line styles and markers that tell strategies apart where their lines coincide (two variants with the same
# start overplot until they part) and for readers who cannot tell the colours apart. Dotted is kept for level
# changes.
_DASHES = ("-", "--", "-.", (0, (5, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2, 2, 2)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
MARKERS_PER_LINE = 8


def line_styles(solvers: Sequence[str]) -> dict[str, dict[str, Any]]:
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


def legend_in_order(ax, first: Sequence[str]) -> tuple[list[Artist], list[str]]:
    """The axes' legend entries with the solvers of ``first`` in that order (the chosen one first), the others
    (the virtual best, markers) after them."""
    handles, labels = ax.get_legend_handles_labels()
    rank = {safe(s): i for i, s in enumerate(first)}
    ordered = sorted(zip(handles, labels, strict=True), key=lambda entry: rank.get(entry[1], len(rank)))
    return [h for h, _ in ordered], [label for _, label in ordered]


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
    "no_progress": "#ff9896",
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
REJECTED_STYLE: dict[str, Any] = {"ls": (0, (4, 2)), "lw": 1.0, "alpha": 0.9, "zorder": 1.5}


def greyed(color) -> tuple[float, float, float]:
    """``color`` mixed half-way with mid grey."""
    from matplotlib.colors import to_rgb

    red, green, blue = (0.45 * c + 0.55 * 0.6 for c in to_rgb(color))
    return red, green, blue


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
    starts = [(i, float(time_s)) for i in _level_starts(record) if (time_s := times[i]) is not None]
    spans_s, spans_it = [], []
    segments = np.asarray(record.trace.segment)
    for segment in np.unique(segments[rejected]) if rejected.any() else []:
        rows = np.flatnonzero(segments == segment)
        spans_it.append((int(rows[0]) + 1, int(rows[-1]) + 1))
        first, last = times[rows[0]], times[rows[-1]]
        if first is not None and last is not None:
            spans_s.append((float(first), float(last)))
    return RunEvents([time_s for _, time_s in starts], [i + 1 for i, _ in starts], spans_s, spans_it)
