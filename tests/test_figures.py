"""Figures mark rejected executions (``Segment.rejected``) apart from level changes."""

from __future__ import annotations

import numpy as np
import pytest

import regbench
from regbench import Case, Segment, Setup
from regbench.cases.tiny import make_tiny_case
from regbench.evaluation.outcomes import FAILURE_OUTCOMES, MEANINGS
from regbench.evaluation.stops import CATEGORIES
from regbench.record import Trace
from regbench.report.figures import anytime as anytime_figures
from regbench.report.figures import common as figures
from regbench.report.figures import traces as trace_figures

# gd's pattern: level 0 kept its first attempt (segment 0) and rejected the rerun at half the rate (1); level 1
# rejected its first attempt (2) and kept the rerun (3).
SEGMENTS = (0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3)
LEVELS = (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
METRIC = (5.0, 3.0, 2.0, 5.0, 4.0, 3.5, 1.8, 2.5, 1.9, 1.7, 1.6)
REJECTED = (1, 2)


def hand_made_run(strategy="gd", rejected=REJECTED):
    n = len(SEGMENTS)
    trace = Trace(
        segment=list(SEGMENTS),
        level=list(LEVELS),
        iteration=[0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2],
        metric=list(METRIC),
        learning_rate=[None] * n,
        convergence=[None] * n,
    )
    segments = [Segment(index=i, rejected=i in rejected) for i in sorted(set(SEGMENTS))]
    return regbench.RunRecord(strategy=strategy, case="c", seed=0, trace=trace, segments=segments)


def level_lines(ax):
    return [line for line in ax.lines if line.get_linestyle() == ":" and len(line.get_xdata())]


def rejected_lines(ax, color):
    return [line for line in ax.lines if line.get_color() == color and len(line.get_xdata())]


def test_rejected_attempts_are_drawn_apart_and_are_no_level_change():
    record = hand_made_run()
    palette = figures.colors(["gd"])
    plot = trace_figures.trace_plot("c", 1, {"gd": [record]}, palette)
    ax = plot.figure.axes[0]
    # One level change (0 → 1, where the rejected first attempt at level 1 begins); the reruns begin none.
    assert figures._level_starts(record) == [6]
    assert [line.get_xdata()[0] for line in level_lines(ax)] == [5.5]
    # Each rejected execution is its own greyed, dashed line with its own values, and nothing else.
    greyed = rejected_lines(ax, figures.greyed(palette["gd"]))
    assert [list(line.get_xdata()) for line in greyed] == [[3, 4, 5], [6, 7]]
    assert [list(line.get_ydata()) for line in greyed] == [[5.0, 4.0, 3.5], [1.8, 2.5]]
    assert all(line.get_linestyle() == "--" and line.get_marker() in ("None", None, "") for line in greyed)
    # The strategy's own line leaves the rejected positions out.
    (kept,) = [line for line in ax.lines if line.get_label() == "gd"]
    y = np.asarray(kept.get_ydata(), dtype=float)
    assert np.isnan(y[3:8]).all() and not np.isnan(np.delete(y, range(3, 8))).any()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["gd", "level change", "rejected attempt"]
    assert "rejected attempts" in plot.caption
    # The same executions, none rejected: every execution change is marked, and nothing is drawn as rejected.
    record = hand_made_run(rejected=())
    plot = trace_figures.trace_plot("c", 1, {"gd": [record]}, palette)
    ax = plot.figure.axes[0]
    assert figures._level_starts(record) == [3, 6, 8]
    assert len(level_lines(ax)) == 3
    assert "rejected attempt" not in [text.get_text() for text in ax.get_legend().get_texts()]
    assert "rejected" not in plot.caption


def test_median_convergence_uses_only_kept_executions():
    records = {"gd": [hand_made_run(), hand_made_run()]}
    plot = trace_figures.convergence_plot("c", 1, records, figures.colors(["gd"]))
    ax = plot.figure.axes[0]
    (median,) = [line for line in ax.lines if line.get_label().startswith("gd")]
    kept = [m for m, s in zip(METRIC, SEGMENTS, strict=True) if s not in REJECTED]
    assert list(median.get_ydata()) == pytest.approx(kept)
    assert "kept executions" in ax.get_xlabel()


def test_a_real_gd_run_with_a_rerun_level():
    # The reproducer of tests/test_strategies_gd_rate.py: level 0 is rerun twice at half the rate and keeps its
    # first attempt; level 1 is rerun once and keeps its second.
    case = Case(
        "tiny-rigid-mattes",
        make_tiny_case("rigid").loader,
        Setup(transform="rigid", metric="mattes", shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)),
    )
    pm = regbench.make_plugin_manager(entrypoints=False)
    record = regbench.run_one("gd", case, params={"number_of_iterations": 8}, threads=1, pm=pm)
    rejected = [s.index for s in record.segments if s.rejected]
    assert rejected
    palette = figures.colors(["gd"])
    ax = trace_figures.trace_plot("c", 1, {"gd": [record]}, palette).figure.axes[0]
    assert len(level_lines(ax)) == 1  # one pyramid level change, whatever the reruns
    assert len(rejected_lines(ax, figures.greyed(palette["gd"]))) == len(rejected)


# -- anytime figures, on the hand-made store of tests/test_anytime_stats.py -------------------------------------


def _with_levels(record):
    """A hand-made trace under a's seed-0 curve: level 1 begins at row 2 (1.5 s); execution 1, rejected, runs
    rows 3-4 (2.5-3 s)."""
    record.trace = Trace(
        segment=[0, 0, 0, 1, 1],
        level=[0, 0, 1, 1, 1],
        iteration=[0, 1, 0, 0, 1],
        metric=[None] * 5,
        learning_rate=[None] * 5,
        convergence=[None] * 5,
        time_s=[0.5, 1.0, 1.5, 2.5, 3.0],
    )
    record.segments = [Segment(index=0), Segment(index=1, rejected=True)]
    return record


def test_error_vs_time_draws_the_median_band_and_events():
    from test_anytime_stats import hand_made_records

    from regbench.report.load.columns import from_records
    from regbench.report.stats import anytime_budget

    records = hand_made_records()
    runs = from_records(records)
    panels = tuple(anytime_budget.case_profiles(runs, "c", axis=axis) for axis in ("time", "iterations"))
    events = {"a": [figures.run_events(_with_levels(records[0]))], "b": []}
    assert events["a"][0].level_s == [1.5] and events["a"][0].rejected_s == [(2.5, 3.0)]
    assert events["a"][0].level_iterations == [3] and events["a"][0].rejected_iterations == [(4, 5)]
    palette = figures.colors(["a", "b"])
    plot = anytime_figures.anytime_plot(1, panels, events, palette, "error_mean")
    assert plot.name == "error-vs-time-01"
    main, strip, main_it, strip_it = plot.figure.axes
    for ax in (main, strip, main_it, strip_it):
        assert ax.get_xscale() == "log"
    # medians and quartiles span 0.75 to 11 here, less than the factor of 20 that makes an axis logarithmic
    assert main.get_yscale() == "linear"
    assert "(s, log scale)" in strip.get_xlabel() and "iteration events" in strip_it.get_xlabel()
    assert "case units" in main.get_ylabel() and "median over instances" in main.get_ylabel()
    # the median line of a is the profile's median up to its median end (4 s), as a step function
    profile = panels[0].profiles[0]
    (line,) = [ln for ln in main.lines if ln.get_gid() == "median:a"]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert line.get_drawstyle() == "steps-post" and x[-1] <= 4.0 < panels[0].grid[x.size]
    assert y.tolist() == profile.mid[: x.size].tolist()
    assert y[np.flatnonzero((x >= 1) & (x < 2))[0]] == 6.0  # the median of 6, 9 and 5 (hand-worked)
    # one band per strategy and panel (the 25-75% over instances)
    assert len(main.collections) == 2 and len(main_it.collections) == 2
    # the strip: a's level change as a tick at 1.5 s, its rejected execution as a bar over 2.5-3 s
    ticks = [ln for ln in strip.lines if ln.get_marker() == "|" and len(ln.get_xdata())]
    assert [list(ln.get_xdata()) for ln in ticks] == [[1.5]]
    bars = [ln for ln in strip.lines if ln.get_linewidth() == 5]
    assert [[x for x in ln.get_xdata() if x == x] for ln in bars] == [[2.5, 3.0]]
    labels = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert labels[:2] == ["a (3 inst.)", "b (3 inst.)"]
    assert {"level change (one tick per run)", "rejected execution", "25–75% over instances"} <= set(labels)
    assert "carries its current value forward" in plot.caption and "3 distinct instances" in plot.caption
    assert "1 runs have no anytime curve" in plot.caption


def test_runtime_ecdf_draws_steps_bands_and_the_virtual_best():
    from test_anytime_stats import hand_made_runs

    from regbench.report.stats import anytime_curves as anytime_stats
    from regbench.report.stats import anytime_ert

    hits = anytime_stats.hit_times(hand_made_runs())
    ecdfs = anytime_ert.runtime_ecdfs(hits)
    plot = anytime_figures.ecdf_plot([("absolute targets", ecdfs), ("relative targets", ecdfs)], 3)
    left, right = plot.figure.axes
    for ax in (left, right):
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "time since the run started (s, log scale)"
        assert "fraction of (instance, target) pairs" in ax.get_ylabel()
        assert len(ax.collections) == 3  # a band per strategy and one for the virtual best
    (best,) = [ln for ln in left.lines if ln.get_label() == "virtual best"]
    assert best.get_linestyle() == ":" and best.get_color() == "black"
    (a,) = [ln for ln in left.lines if ln.get_label() == "a"]
    # steps of 1/18 at the hand-worked first hits: 4 at 0.5 s, 1 at 1 s, ..., 12 of 18 at 5 s
    assert list(a.get_xdata())[1:-1] == [0.5, 0.5, 0.5, 0.5, 1, 2, 3, 3, 4, 4, 4, 5]
    assert a.get_ydata()[-1] == pytest.approx(12 / 18)
    labels = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert labels == ["a", "b", "virtual best", "95% bootstrap band"]
    assert "(n=18 pairs)" in left.get_title()
    assert "first-hit times" in plot.caption and "200 bootstrap resamples" in plot.caption


def test_outcome_caption_counts_each_rows_runs_not_the_total():
    from regbench.report.figures.anytime import outcome_plot
    from regbench.report.load.columns import from_dicts
    from regbench.report.stats.summary import summary_rows

    rows = [
        {"key": f"{s}{i}", "strategy": s, "case": "c", "seed": i, "status": "ok", "outcome": "converged"}
        for s in ("a", "b")
        for i in range(9)
    ]
    plot = outcome_plot(summary_rows(from_dicts(rows), "strategy"))
    assert "9 runs each; 18 in all" in plot.caption
    assert "not that the run registered" in plot.caption
    assert all(f"{outcome}: {MEANINGS[outcome]}" in plot.caption for outcome in figures.JUDGED_FAILURES)


def test_every_outcome_and_stop_category_has_a_fixed_colour():
    assert set(figures._CATEGORY_COLORS) == {*FAILURE_OUTCOMES, *CATEGORIES}
    assert figures.JUDGED_FAILURES == ("no_overlap", "worse_than_start", "no_progress", "folded", "diverged")


def test_many_strategies_get_small_multiples():
    from regbench.report.figures.common import colors
    from regbench.report.figures.traces import SMALL_MULTIPLES_ABOVE, trace_plot

    def record(n):
        r = regbench.RunRecord(strategy="s", case="c", seed=0)
        r.trace = Trace(segment=[0] * n, level=[0] * n, iteration=list(range(n)), metric=list(np.linspace(2, 1, n)))
        return r

    names = [f"s{k}" for k in range(SMALL_MULTIPLES_ABOVE + 2)]
    records = {name: [record(10 if k else 1800)] for k, name in enumerate(names)}
    plot = trace_plot("c", 1, records, colors(names))
    panels = [ax for ax in plot.figure.axes if ax.axison]
    assert len(panels) == len(names)
    # each panel its own iteration axis: the 1800-evaluation strategy does not stretch the others
    assert panels[1].get_xlim()[1] < 100 < panels[0].get_xlim()[1]
    assert "one panel per strategy" in plot.caption
