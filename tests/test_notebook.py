"""Notebook helpers: the trace as a DataFrame and the live plot observing run_one."""

import pytest

import regbench
from regbench.notebook import LivePlot
from regbench.record import IterationEvent, Trace


def test_trace_to_frame():
    pd = pytest.importorskip("pandas")
    trace = Trace()
    trace.append(IterationEvent(0, 0, 0, 1.5, None, None, 0.1, 0.1))
    trace.append(IterationEvent(0, 1, 0, None, 0.5, 1e-3, 0.2, 0.05))
    frame = trace.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(regbench.record.TRACE_COLUMNS)
    assert len(frame) == 2 and frame["metric"].iloc[0] == 1.5 and pd.isna(frame["metric"].iloc[1])
    assert frame["level"].tolist() == [0, 1]


def test_live_plot_with_run_one(pm):
    with LivePlot(pm=pm, update_every=5, display=False) as plot:
        record = regbench.run_one("lbfgsb", "synth2d-translation", seed=0, threads=1, pm=pm)
    assert len(plot.events) == len(record.trace) > 0
    assert plot.metrics()[0] == pytest.approx(record.trace.metric[0])
    levels = len({(s, lv) for s, lv in zip(record.trace.segment, record.trace.level, strict=True)})
    assert len(plot.level_starts) == levels
    assert len(plot.execution_starts) == len(set(record.trace.segment)) - 1
    assert plot.figure is not None and len(plot.figure.axes[0].lines[0].get_xdata()) == len(plot.events)
    assert not pm.has_plugin(f"regbench-liveplot-{id(plot)}")  # unregistered after the block
    frame = record.trace.to_frame()
    assert len(frame) == len(record.trace)


def test_the_live_plot_is_shown_once_and_tells_levels_from_executions(pm):
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    with LivePlot(pm=pm, update_every=50, display=False) as plot:
        regbench.run_one("gd-restarts", "synth2d-translation", seed=0, threads=1, pm=pm)
    # not a pyplot figure: the inline backend cannot show it a second time at the end of the cell
    assert set(plt.get_fignums()) == before
    axes = plot.figure.axes[0]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels == ["metric", "pyramid level starts", "new execution starts"]
    levels = [line for line in axes.lines[1:] if line.get_color() == "tab:gray"]
    executions = [line for line in axes.lines[1:] if line.get_color() == "tab:red"]
    assert len(levels) == len(plot.level_starts) - 1 and len(executions) == len(plot.execution_starts) > 0
    assert levels[0].get_linestyle() != executions[0].get_linestyle()
