"""Terminal tables of the statistics: success rates at error targets and paired tests."""

from __future__ import annotations

import numpy as np
from rich.markup import escape
from rich.table import Table

from regbench.report import stats
from regbench.report.runs import Runs
from regbench.report.summary import fmt_number


def success_table(runs: Runs, hits: np.ndarray, has_truth: np.ndarray, error: str = "error_mean") -> Table:
    instances, _ = stats.instance_index(runs)
    stand_in = stats.error_column(runs, error).note()
    table = Table(
        title=f"Success rate at error targets (over {len(instances)} instances (case, seed))",
        title_justify="left",
        caption=f"share of runs finished ok with {error} ≤ target; ERT = wall time of all runs / successes"
        + (f"; {stand_in}" if stand_in else "")
        + ("" if has_truth.all() else "; cases without ground truth: relative dense-metric gap targets"),
        caption_justify="left",
    )
    table.add_column("strategy", no_wrap=True)
    table.add_column("n", justify="right")
    for target in stats.ERROR_TARGETS:
        table.add_column(f"≤ {target:g}", justify="right")
    table.add_column(f"ERT s at ≤ {stats.ERROR_TARGETS[3]:g}", justify="right")
    time = stats.charged_time(runs)
    by_solver: dict[str, list[stats.SuccessRate]] = {}
    for rate in stats.success_rates(runs, hits):
        by_solver.setdefault(rate.solver, []).append(rate)
    for solver, rates in by_solver.items():
        rows = runs.solver == solver
        ert = stats.ert(time[rows], hits[rows, 3])
        table.add_row(escape(solver), str(rates[0].n), *(f"{r.rate:.0%}" for r in rates), fmt_number(ert, 3))
    return table


def paired_tests_table(runs: Runs, measures: tuple[str, ...]) -> Table:
    notes = [note for m in measures if (note := stats.error_column(runs, m).note())]
    table = Table(
        title="Paired Wilcoxon signed-rank tests across instances (Holm-corrected per measure)",
        title_justify="left",
        caption="; ".join(
            ["r = matched-pairs rank-biserial correlation of A − B (−1: A lower on every instance)", *notes]
        ),
        caption_justify="left",
    )
    for name, justify in (
        ("measure", "left"),
        ("A", "left"),
        ("B", "left"),
        ("n", "right"),
        ("median A − B", "right"),
        ("p (Holm)", "right"),
        ("r", "right"),
    ):
        table.add_column(name, justify=justify)
    for measure in measures:
        for t in stats.paired_tests(runs, measure):
            table.add_row(
                measure,
                escape(t.a),
                escape(t.b),
                str(t.n),
                fmt_number(t.median_difference),
                fmt_number(t.p_holm, 3),
                fmt_number(t.rank_biserial, 2),
            )
    return table
