"""The HTML report's drawing: figures saved without a tight bounding box must fit in their own picture, and the
drawing workers start with the drawer (they import while the page's statistics are computed)."""

from __future__ import annotations

import multiprocessing

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

import regbench
from regbench.record import Trace
from regbench.report.figures import anytime as anytime_figures
from regbench.report.figures.common import colors
from regbench.report.figures.traces import SMALL_MULTIPLES_ABOVE, convergence_plot, trace_plot
from regbench.report.html.drawing import Drawer
from regbench.report.stats.anytime_ert import RuntimeEcdf


def overflow_inches(figure) -> float:
    """How far (inches) anything drawn reaches beyond the figure's edges; 0 when it all fits."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    box = figure.get_tightbbox(renderer)
    width, height = figure.get_size_inches()
    return max(0.0, -box.x0, -box.y0, box.x1 - width, box.y1 - height)


def ecdf(label: str, rng: np.random.Generator) -> RuntimeEcdf:
    grid = np.geomspace(1e-3, 1.0, 50)
    runtimes = np.sort(rng.uniform(1e-3, 1.0, 12))
    reached = np.searchsorted(runtimes, grid, side="right") / 20
    return RuntimeEcdf(label, runtimes, 20, 9, grid, reached * 0.9, np.minimum(reached * 1.1, 1))


def test_the_runtime_ecdf_fits_in_its_picture_with_long_panel_titles():
    rng = np.random.default_rng(0)
    names = [f"strategy-{k}" for k in range(12)]
    ecdfs = [ecdf(name, rng) for name in names] + [ecdf("virtual best", rng)]
    # the title of a store whose cases mix truth and no truth: longer than its panel is wide
    long = "absolute targets: 8 / 0.1 … 0.25 / 1e-06 (case units; / relative gap without truth)"
    plot = anytime_figures.ecdf_plot([(long, ecdfs), ("relative targets: 50%, 10%, 1%, 0.1% of the start", ecdfs)], 9)
    assert overflow_inches(plot.figure) < 0.02
    assert "(n=20 pairs)" in plot.figure.axes[0].get_title().replace("\n", " ")


def test_small_multiples_fit_in_their_picture_on_a_log_axis():
    def record(n: int, scale: float) -> regbench.RunRecord:
        r = regbench.RunRecord(strategy="s", case="c", seed=0)
        metric = list(scale * np.geomspace(1.0, 1e-4, n))  # four decades: a log metric axis
        r.trace = Trace(
            segment=[0] * n, level=[0] * (n // 2) + [1] * (n - n // 2), iteration=list(range(n)), metric=metric
        )
        return r

    names = [f"optimizer-{k:02d}" for k in range(3 * SMALL_MULTIPLES_ABOVE)]
    records = {name: [record(30 + 40 * k, 1 + k) for k in range(3)] for name in names}
    for draw in (trace_plot, convergence_plot):
        plot = draw("case", 1, records, colors(names))
        panels = [ax for ax in plot.figure.axes if ax.axison]
        assert len(panels) == len(names) and panels[0].get_yscale() == "log"
        # fixed margins, not a layout engine that measures every tick label of twenty panels (and must then be
        # measured again by a tight bounding box): the figure has to fit by itself
        assert plot.figure.get_layout_engine() is None
        assert overflow_inches(plot.figure) < 0.02, draw.__name__
        # no panel's title or tick labels run into the panel above or beside it
        renderer = FigureCanvasAgg(plot.figure).get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in panels]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
                overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
                assert min(overlap_w, overlap_h) <= 1.0, draw.__name__  # pixels: touching at most


def test_the_drawer_starts_its_workers_at_once():
    before = len(multiprocessing.active_children())
    with Drawer(2):
        # no figure submitted yet: the workers run already, importing what the figures need
        assert len(multiprocessing.active_children()) == before + 2
