"""Notebook helpers: a live convergence plot of a run, and traces as DataFrames.

Watch a registration converge while it runs, as the SimpleITK notebooks do (metric per iteration, a dashed line
where a pyramid level starts, a solid red one where a new execution starts, and a legend)::

    import regbench
    from regbench.notebook import LivePlot

    with LivePlot() as plot:                      # registers itself on a plugin manager
        record = regbench.run_one("lbfgsb", "synth2d-affine", pm=plot.pm)
    record.trace.to_frame()                       # the trace as a pandas DataFrame (pandas needed)

The plot observes the ``regbench_record_iteration`` hook, which is called in the process running the
registration: use it with :func:`regbench.run_one` (in-process), not with ``regbench run``'s isolated workers.
``LivePlot(update_every=10)`` redraws every 10th event (drawing is slower than an iteration); ``plot.figure`` is the
matplotlib figure, and ``plot.events`` every event seen. Outside a notebook the figure is drawn but not shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import regbench
from regbench.record import IterationEvent

if TYPE_CHECKING:  # matplotlib is imported on the first draw; IPython only in a notebook
    from IPython.display import DisplayHandle
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.typing import LineStyleType

    from regbench.harness import RunContext
    from regbench.plugin.manager import RegbenchPluginManager


class LineStyle(TypedDict):
    """The keyword arguments of a marker line (for ``Line2D`` and ``Axes.axvline``)."""

    color: str
    linestyle: LineStyleType
    linewidth: float


# A level start and an execution start must be told apart at a glance: other colours, widths and dash patterns.
LEVEL_STYLE: LineStyle = {"color": "tab:gray", "linestyle": (0, (4, 3)), "linewidth": 0.9}
EXECUTION_STYLE: LineStyle = {"color": "tab:red", "linestyle": "-", "linewidth": 1.6}


class LivePlot:
    """A plugin that plots each iteration's metric as it arrives (see the module docstring)."""

    def __init__(
        self,
        pm: RegbenchPluginManager | None = None,
        update_every: int = 1,
        title: str = "",
        display: bool | None = None,
    ) -> None:
        from regbench.plugin.manager import make_plugin_manager

        self.pm = pm if pm is not None else make_plugin_manager()
        self.update_every = max(1, int(update_every))
        self.title = title
        self.events: list[IterationEvent] = []
        self.level_starts: list[int] = []  # event indices where a pyramid level started
        self.execution_starts: list[int] = []  # event indices where a new execution (segment) started
        self._display = display
        self._handle: DisplayHandle | None = None
        self.figure: Figure | None = None
        self._axes: Axes | None = None
        self._line: Line2D | None = None
        self._registered = False

    # the plugin: pluggy finds the hook implementation on the instance
    @regbench.hookimpl
    def regbench_record_iteration(self, run: RunContext, event: IterationEvent) -> None:
        previous = self.events[-1] if self.events else None
        index = len(self.events)
        if previous is not None and event.segment != previous.segment:
            self.execution_starts.append(index)
        if previous is None or event.level != previous.level or event.segment != previous.segment:
            self.level_starts.append(index)
        self.events.append(event)
        if index % self.update_every == 0:
            self.draw()

    def __enter__(self) -> LivePlot:
        self.register()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.draw()
        self.unregister()

    def register(self) -> None:
        if not self._registered:
            self.pm.register(self, name=f"regbench-liveplot-{id(self)}")
            self._registered = True

    def unregister(self) -> None:
        if self._registered:
            self.pm.unregister(self)
            self._registered = False

    def metrics(self) -> list[float]:
        return [float("nan") if e.metric is None else float(e.metric) for e in self.events]

    def draw(self) -> None:
        """Redraw the figure with every event so far (and show it in a notebook)."""
        if self.figure is None or self._axes is None or self._line is None:
            self.figure, self._axes, self._line = self._new_plot()
        axes = self._axes
        values = self.metrics()
        self._line.set_data(list(range(len(values))), values)
        for artist in list(axes.lines[1:]):
            artist.remove()
        for k in self.level_starts[1:]:
            axes.axvline(k, **LEVEL_STYLE)
        for k in self.execution_starts:
            axes.axvline(k, **EXECUTION_STYLE)
        axes.relim()
        axes.autoscale_view()
        self._show()

    def _new_plot(self) -> tuple[Figure, Axes, Line2D]:
        """The empty figure: its axes, the metric's line and the legend."""
        # Not a pyplot figure: pyplot's inline backend would show it a second time at the end of the cell
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D

        figure = Figure(figsize=(6, 3.5), layout="constrained")
        axes = figure.add_subplot()
        (line,) = axes.plot([], [], color="C0", lw=1)
        axes.set_xlabel("iteration event")
        axes.set_ylabel("metric (SimpleITK's, at the event)")
        axes.set_title(self.title or "live convergence")
        axes.legend(
            [line, Line2D([], [], **LEVEL_STYLE), Line2D([], [], **EXECUTION_STYLE)],
            ["metric", "pyramid level starts", "new execution starts"],
            loc="upper right",
            fontsize="small",
        )
        return figure, axes, line

    def _show(self) -> None:
        display = self._display
        if display is None:
            try:
                from IPython import get_ipython

                display = get_ipython() is not None
            except ImportError:
                display = False
        if not display:
            return
        from IPython.display import display as ipy_display

        if self._handle is None:
            self._handle = ipy_display(self.figure, display_id=True)
        else:
            self._handle.update(self.figure)
