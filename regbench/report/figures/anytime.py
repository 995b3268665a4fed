"""The figures that pool many runs: runtime ECDFs, per-case anytime curves, performance profiles, final
error against time and outcomes, drawn with the shared helpers of :mod:`regbench.report.figures.common`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import ColorType

from regbench.report.figures.common import (
    CONVERGENCE_RUNS_PER_GROUP,
    GREY,
    PER_CASE_FIGURES,
    SINGLE_FIGURES,
    Plot,
    RunEvents,
    _log_if_positive,
    _plain_log_ticks,
    category_colors,
    colors,
    greyed,
    greyed_text,
    judged_failures_text,
    legend_in_order,
    legend_outside,
    line_styles,
    mark_every,
    safe,
    shown_and_greyed,
)
from regbench.report.load.columns import Runs
from regbench.report.stats.across_instances import ErrorColumn, Profile
from regbench.report.stats.anytime_budget import CaseProfiles
from regbench.report.stats.anytime_curves import BOOTSTRAP_RESAMPLES, CONFIDENCE
from regbench.report.stats.anytime_ert import RuntimeEcdf
from regbench.report.stats.summary import SummaryRow

# The longest line of a runtime ECDF panel's title: half of the figure's width
TITLE_CHARACTERS = 62
# The runtime ECDF shades the bootstrap band of the first few coloured strategies only (the chosen one first):
# more bands overlap into one grey.
ECDF_BANDS = 3


def ecdf_plot(
    panels: list[tuple[str, list[RuntimeEcdf]]],
    instances: int,
    note: str = "",
    palette: dict | None = None,
    highlight: Sequence[str] | None = None,
) -> Plot:
    """Runtime ECDFs from first-hit times, one panel per target set (``(title, ecdfs)``), the first
    :data:`ECDF_BANDS` solvers with their bootstrap bands and the virtual best solver dotted black. With many solvers
    only ``highlight`` (the recommended and a few contrasting ones, in that order) are coloured, the rest thin light
    grey (:func:`regbench.report.figures.common.shown_and_greyed`)."""
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    names = sorted({e.label for _, ecdfs in panels for e in ecdfs if e.label != "virtual best"})
    coloured, grey = shown_and_greyed(names, highlight)
    palette = palette or colors(names, coloured)
    styles = line_styles(coloured)
    pairs, resamples = [], BOOTSTRAP_RESAMPLES
    handles: list[Artist] = []  # of the first panel (the strategies are the same in each)
    labels: list[str] = []
    for k, (title, ecdfs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        grid = ecdfs[0].grid if ecdfs else np.geomspace(1e-3, 1.0, 10)
        left, right = grid[0], grid[-1]
        # greyed first (underneath), the virtual best, then the coloured from the last to the chosen (on top)
        rank = {name: i for i, name in enumerate(coloured)}
        for e in sorted(ecdfs, key=lambda e: -rank.get(e.label, len(rank) + (e.label != "virtual best"))):
            x = np.concatenate([[left], e.runtimes, [right]])
            reached = np.arange(1, e.runtimes.size + 1) / max(e.n, 1)
            y = np.concatenate([[0.0], reached, [e.runtimes.size / max(e.n, 1)]])
            if e.label == "virtual best":
                style: dict[str, Any] = {"color": "black", "ls": ":", "lw": 2.0, "zorder": 3}
                band: ColorType = "0.5"
            elif e.label in grey:
                ax.step(x, y, where="post", color=GREY, lw=0.9, zorder=1)
                continue
            else:
                j = rank[e.label]
                style = {"color": palette[e.label], "lw": 1.6, "markevery": mark_every(x.size, j), **styles[e.label]}
                band = palette[e.label]
            ax.step(x, y, where="post", alpha=0.9, label=safe(e.label), **style)
            if rank.get(e.label, 0) < ECDF_BANDS:
                ax.fill_between(e.grid, e.low, e.high, step="post", color=band, alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set_xlim(left, right)
        _plain_log_ticks(ax.xaxis, right / left)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("time since the run started (s, log scale)")
        ax.set_ylabel("fraction of (instance, target) pairs reached")
        n = max((e.n for e in ecdfs if e.label == "virtual best"), default=max((e.n for e in ecdfs), default=0))
        # wrapped: a long title (targets of cases with and without truth) would run over the other panel's
        ax.set_title(textwrap.fill(f"{title} (n={n} pairs)", TITLE_CHARACTERS), fontsize="medium")
        pairs.append(f"{title}: {n}")
        if k == 0:
            handles, labels = legend_in_order(ax, coloured)
    if panels:
        handles.append(Patch(color="0.5", alpha=0.3, lw=0))
        labels.append(f"{CONFIDENCE:.0%} bootstrap band")
        if grey:
            handles.append(Line2D([], [], color=GREY, lw=0.9))
            labels.append(f"{len(grey)} others (caption)")
        fig.legend(handles, labels, fontsize="small", loc="outside right upper")
    banded = "each curve" if len(coloured) <= ECDF_BANDS else f"the first {ECDF_BANDS} listed and the virtual best"
    caption = (
        f"Fraction of (instance, target) pairs a strategy reached within a given time, over {instances} distinct "
        "instances, from first-hit times: the time of the first kept trace position at or below the target (an "
        "upper bound at the position schedule's resolution), whatever the run's outcome (COCO counts the first "
        "hit). A strategy's runs on one instance are combined by their median first-hit time first. Pairs whose "
        f"target the instance's start already meets are left out ({'; '.join(pairs)} pairs counted). Higher and "
        "further left is better; the height at the right edge is the share ever reached. Shaded: the "
        f"{CONFIDENCE:.0%} interval of {banded} over {resamples} bootstrap resamples of the instances (seeded). "
        "Dotted black: the virtual best solver, on each pair the fastest strategy."
        + greyed_text(grey)
        + (f" {note[0].upper()}{note[1:]}." if note else "")
    )
    return Plot(SINGLE_FIGURES[0], "Runtime ECDF from first-hit times", caption, fig)


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
    handles: list[Artist] = []
    labels: list[str] = []
    rejected_any = False
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
        ax.tick_params(which="both", labelbottom=False)  # the strip below labels the shared axis
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


def profile_plot(
    time_profile: Profile,
    quality_profile: Profile,
    target_text: str,
    palette: dict | None = None,
    highlight: Sequence[str] | None = None,
) -> Plot:
    """Dolan–Moré profiles of the first-hit time and of the final error; with many solvers only ``highlight`` in
    colour, the rest thin light grey."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    coloured, grey = shown_and_greyed(time_profile.solvers, highlight)
    palette = palette or colors(time_profile.solvers, coloured)
    styles = line_styles(coloured)
    axes = []
    for k, (profile, what) in enumerate(((time_profile, "first-hit time"), (quality_profile, "final error"))):
        ax = fig.add_subplot(1, 2, k + 1)
        axes.append(ax)
        top = max(2.0, profile.max_ratio() * 1.2)
        taus = np.geomspace(1.0, top, 400)
        for solver, rho in zip(profile.solvers, profile.fractions(taus), strict=True):
            if solver not in coloured:
                ax.step(taus, rho, where="post", color=GREY, lw=0.9, zorder=1)
                continue
            j = coloured.index(solver)
            ax.step(
                taus,
                rho,
                where="post",
                color=palette[solver],
                lw=1.6,
                alpha=0.85,
                label=safe(solver),
                markevery=mark_every(taus.size, j),
                zorder=3 + len(coloured) - j,  # the chosen on top
                **styles[solver],
            )
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, top)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"τ = {what} / best {what} on the instance\n(log scale; 1 = the best)")
        ax.set_ylabel("fraction of instances with ratio ≤ τ")
        ax.set_title(f"Performance profile: {what} (n={profile.n})")
    # one legend for both panels, outside them: the strategies are the same
    handles, labels = legend_in_order(axes[0], coloured)
    if grey:
        handles.append(Line2D([], [], color=GREY, lw=0.9))
        labels.append(f"{len(grey)} others (caption)")
    fig.legend(handles, labels, fontsize="small", loc="outside right upper")
    caption = (
        f"Dolan–Moré performance profiles over {time_profile.n} distinct instances. Left: the time a strategy "
        f"first reached {target_text} (its anytime curve's first hit; instances whose start already meets it left "
        "out); right: final error (or relative dense-metric gap where a case has no ground truth). The "
        "value at τ = 1 is the fraction of instances where a strategy was the best; the height at the right edge "
        "is the fraction it solved at all (failures get a ratio above every real one). With more than two "
        "strategies only the best one is ranked reliably." + greyed_text(grey)
    )
    return Plot(SINGLE_FIGURES[1], "Performance profiles", caption, fig)


def error_time_plot(
    runs: Runs, errors: ErrorColumn, palette: dict | None = None, highlight: Sequence[str] | None = None
) -> Plot:
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    names = sorted(set(runs.solver))
    coloured, grey = shown_and_greyed(names, highlight)
    palette = palette or colors(names, coloured)
    values, time = errors.values, runs["wall_time_s"]
    good = (runs["status"] == "ok") & np.isfinite(values) & np.isfinite(time)
    ceiling = (np.nanmax(values[good]) * 2 if good.any() else 1.0) or 1.0
    for solver in [*grey, *reversed(coloured)]:  # the greyed underneath, the chosen on top
        rows = runs.solver == solver
        color, label = (GREY, None) if solver in grey else (palette[solver], safe(solver))
        ax.scatter(time[rows & good], values[rows & good], s=12, alpha=0.6, color=color, label=label)
        bad = rows & ~good & np.isfinite(time)
        if bad.any():
            ax.scatter(time[bad], np.full(bad.sum(), ceiling), marker="x", s=24, color=color)
    if grey:
        ax.scatter([], [], s=12, color=GREY, label=f"{len(grey)} others (caption)")
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
    handles, labels = legend_in_order(ax, coloured)
    legend_outside(ax, handles=handles, labels=labels)
    caption = (
        f"The returned transform's error against the run's whole wall time (the after-run evaluation included), one "
        f"point per run ({int(good.sum())} with an error value, {int((~good).sum())} without: failed runs or "
        f"cases without ground truth, drawn as crosses at the top). The best strategies sit bottom left. The "
        "points of a strategy pool every case (each in its own physical units) and seed, so its vertical spread "
        "mostly reflects the cases' different scales; per-case figures and the recommendation compare within a "
        "case." + greyed_text(grey) + (f" {errors.note().capitalize()}." if errors.note() else "")
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
        "stop after a rounding error often ends near the optimum, but not always; a converged stop or outcome says "
        "the optimizer's test passed, not that the run registered: the summary's registered column says which did."
    )
    return Plot(SINGLE_FIGURES[3], "Outcomes and stop categories", caption, fig)
