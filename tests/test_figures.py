"""Figures mark rejected executions (``Segment.rejected``) apart from level changes."""

from __future__ import annotations

import numpy as np
import pytest

import regbench
from regbench import Case, Segment, Setup
from regbench.record import Trace
from regbench.report import figures
from regbench.tinycase import make_tiny_case

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
    plot = figures.trace_plot("c", 1, {"gd": [record]}, palette)
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
    plot = figures.trace_plot("c", 1, {"gd": [record]}, palette)
    ax = plot.figure.axes[0]
    assert figures._level_starts(record) == [3, 6, 8]
    assert len(level_lines(ax)) == 3
    assert "rejected attempt" not in [text.get_text() for text in ax.get_legend().get_texts()]
    assert "rejected" not in plot.caption


def test_median_convergence_uses_only_kept_executions():
    records = {"gd": [hand_made_run(), hand_made_run()]}
    plot = figures.convergence_plot("c", 1, records, figures.colors(["gd"]))
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
    ax = figures.trace_plot("c", 1, {"gd": [record]}, palette).figure.axes[0]
    assert len(level_lines(ax)) == 1  # one pyramid level change, whatever the reruns
    assert len(rejected_lines(ax, figures.greyed(palette["gd"]))) == len(rejected)
