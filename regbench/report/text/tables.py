"""Terminal tables of the statistics: success rates at error targets, time to target (first hits) and paired
tests."""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.table import Table

from regbench.report.load.columns import Runs
from regbench.report.load.instances import instances, solvers_of
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.report.stats import anytime_ert, pairs
from regbench.report.stats.summary import fmt_number
from regbench.report.text.table_fit import fit_table as fit_table  # re-export: the report's callers import it from here
from regbench.util.console import markup_safe

# Above this many pairs per measure the terminal shows one row per strategy (the HTML page has the matrix).
MAX_PAIR_ROWS = 30


def success_table(runs: Runs, results: stats.InstanceResults, error: str = "error_mean") -> Table:
    stand_in = stats.error_column(runs, error).note()
    table = Table(
        title=f"Success rate at error targets over {results.instances.summary()}",
        title_justify="left",
        caption="share of the instances a strategy ran on which it reached the target: its runs on an instance "
        f"(repeats, copies) combined by their median {error}, a failed run counting as never reaching it "
        "(judged at the end of the run: how fast a target was first reached is in the time-to-target table)"
        + (f"; {stand_in}" if stand_in else "")
        + ("" if results.has_truth.all() else "; cases without ground truth: relative dense-metric gap targets"),
        caption_justify="left",
    )
    table.add_column("strategy", no_wrap=True)
    table.add_column("n", justify="right")
    for target in stats.ERROR_TARGETS:
        table.add_column(f"≤ {target:g}", justify="right")
    by_solver: dict[str, list[stats.SuccessRate]] = {}
    for rate in stats.success_rates(results):
        by_solver.setdefault(rate.solver, []).append(rate)
    for solver, rates in by_solver.items():
        table.add_row(markup_safe(solver), str(rates[0].n), *(f"{r.rate:.0%}" for r in rates))
    return table


# The targets the terminal's time-to-target table shows (indices): absolute 4, 1, 0.25; relative 10%, 1%.
TERMINAL_TARGETS = {"absolute": (1, 3, 5), "relative": (1, 2)}
# The target whose first-hit time and share of the run the table spells out: 1 unit.
HIT_TARGET = ("absolute", 3)


def first_hit_table(runs: Runs, error: str = "error_mean") -> Table:
    """ERT from first-hit times per strategy (pooled over cases) at a few targets, and the median first hit of
    the 1-unit target: in seconds and as a share of the run's time."""
    blocks = {kind: anytime_stats.hit_times(runs, error, kind) for kind in TERMINAL_TARGETS}
    rows = {kind: anytime_ert.ert_rows(hits, by_case=False) for kind, hits in blocks.items()}
    absolute = blocks["absolute"]
    unit = "" if absolute.targets.labels[0] == f"{stats.ERROR_TARGETS[0]:g}" else " (/ gap)"
    table = Table(
        title=f"Time to target from first hits over {absolute.instances.summary()} (anytime curves)",
        title_justify="left",
        caption=first_hit_caption(error, blocks),
        caption_justify="left",
    )
    table.add_column("strategy", no_wrap=True)
    table.add_column("n", justify="right")
    for kind, indices in TERMINAL_TARGETS.items():
        for t in indices:
            label = blocks[kind].targets.labels[t]
            what = f"≤ {label}{unit}" if kind == "absolute" else f"≤ {label} of start"
            table.add_column(f"ERT s\n{what}", justify="right")
    kind, t = HIT_TARGET
    table.add_column(f"first hit s\n≤ {blocks[kind].targets.labels[t]}", justify="right")
    table.add_column("share of\nrun time", justify="right")
    for j, solver in enumerate(absolute.solvers):
        cells = []
        for kind, indices in TERMINAL_TARGETS.items():
            mine = {r.target: r for r in rows[kind] if r.solver == solver}
            cells += [_ert_cell(mine[t]) for t in indices]
        hit = next(r for r in rows[HIT_TARGET[0]] if r.solver == solver and r.target == HIT_TARGET[1])
        n = int((absolute.runs[:, j] > 0).sum())
        table.add_row(
            markup_safe(solver), str(n), *cells, fmt_number(hit.median_hit_s, 3), fmt_share(hit.median_hit_share)
        )
    return table


def _ert_cell(row: anytime_ert.ErtRow) -> str:
    if not row.n:
        return "start"  # every instance's start already meets it
    return f"{fmt_number(row.ert_s, 3)} ({row.successes}/{row.n})"


def fmt_share(value: float) -> str:
    return "–" if value != value else f"{100 * value:.0f}%" if value >= 0.1 else f"{100 * value:.1f}%"


def first_hit_caption(error: str, blocks: dict[str, anytime_stats.HitTimes]) -> str:
    note = next((b.note for b in blocks.values() if b.note), "")
    return "; ".join(
        part
        for part in (
            f"a run reaches a target at the first point of its anytime curve ({error}) at or below it, whatever "
            "its outcome (COCO's first hit); points are the trace's kept positions, so first hits are upper "
            "bounds at the position schedule's resolution",
            "ERT = Σ over instances (first-hit time if reached, else the time the run ended) / instances that "
            "reached it, pooled over cases, ∞ if none; (k/n): instances that reached it / instances counted, "
            "leaving out those whose start already meets the target ('start': all of them)",
            "relative targets: fractions of the instance's initial error; cases without ground truth: the "
            "relative dense-metric gap",
            "first hit s, share of run time (first hit / when the run's last execution ended): medians over the "
            "instances that reached the target",
            "a strategy's runs on one instance are combined first (median)",
            note,
        )
        if part
    )


def paired_tests_table(runs: Runs, measures: tuple[str, ...]) -> Table:
    """One row per pair of strategies; with more than :data:`MAX_PAIR_ROWS` pairs per measure, one row per
    strategy instead (how many it is significantly lower than, higher than, ...): the HTML page has every pair."""
    blocks = {m: pairs.paired_tests(runs, m) for m in measures}
    if any(len(tests) > MAX_PAIR_ROWS for tests in blocks.values()):
        return _tally_table(runs, blocks)
    table = Table(
        title=f"Paired Wilcoxon signed-rank tests across {instances(runs).summary()} (Holm-corrected per measure)",
        title_justify="left",
        caption=_caption(runs, blocks),
        caption_justify="left",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("measure", "left"),
        ("A", "left"),
        ("B", "left"),
        ("n", "right"),
        ("median A − B", "right"),
        ("p (Holm)", "right"),
        ("r", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for measure, tests in blocks.items():
        for t in tests:
            table.add_row(
                measure,
                markup_safe(t.a),
                markup_safe(t.b),
                str(t.n),
                fmt_number(t.median_difference),
                fmt_number(t.p_holm, 3) if t.tested else markup_safe(t.reason or "not tested"),
                fmt_number(t.rank_biserial, 2),
            )
    return table


def _caption(runs: Runs, blocks: dict[str, list[pairs.PairTest]], extra: tuple[str, ...] = ()) -> str:
    notes = [note for m in blocks if (note := stats.error_column(runs, m).note())]
    return "; ".join(
        [
            *(tally(m, tests) for m, tests in blocks.items()),
            *extra,
            "a strategy's runs on one instance are combined first (median); "
            f"pairs with fewer than {pairs.MIN_PAIRS} instances are not tested",
            "r = matched-pairs rank-biserial correlation of A − B (−1: A lower on every instance)",
            *notes,
        ]
    )


def _tally_table(runs: Runs, blocks: dict[str, list[pairs.PairTest]]) -> Table:
    solvers, _ = solvers_of(runs)
    table = Table(
        title=f"Paired Wilcoxon signed-rank tests across {instances(runs).summary()}, per strategy "
        f"({len(solvers)} strategies: {len(solvers) * (len(solvers) - 1) // 2} pairs per measure)",
        title_justify="left",
        caption=_caption(
            runs,
            blocks,
            (
                "lower / higher: the other strategies it is significantly lower / higher than (Holm p < "
                f"{pairs.SIGNIFICANCE:g}; lower is better); n.s.: tested, no significant difference; untested: "
                f"fewer than {pairs.MIN_PAIRS} shared instances; every pair: regbench report --html",
            ),
        ),
        caption_justify="left",
    )
    table.add_column("strategy", no_wrap=True)
    for measure in blocks:
        for what in ("lower", "higher", "n.s.", "untested"):
            table.add_column(f"{measure}\n{what}", justify="right")
    counts = {s: {m: [0, 0, 0, 0] for m in blocks} for s in solvers}
    for measure, tests in blocks.items():
        for t in tests:
            for me, sign in ((t.a, 1), (t.b, -1)):
                cell = counts[me][measure]
                if not t.tested:
                    cell[3] += 1
                elif not t.significant:
                    cell[2] += 1
                else:
                    cell[0 if sign * (t.rank_biserial or 0.0) < 0 else 1] += 1
    for solver in solvers:
        table.add_row(markup_safe(solver), *(str(n) for m in blocks for n in counts[solver][m]))
    return table


def tally(measure: str, tests: list[pairs.PairTest]) -> str:
    """ "error_mean: 3 of 10 tested pairs significant (Holm p < 0.05); 5 not tested (why)"."""
    significant, tested = significant_share(tests)
    untested = len(tests) - tested
    return f"{measure}: {significant} of {tested} tested pairs significant (Holm p < {pairs.SIGNIFICANCE:g})" + (
        f", {untested} not tested ({_why(tests)})" if untested else ""
    )


def _why(tests: list[pairs.PairTest]) -> str:
    reasons = sorted({t.reason for t in tests if not t.tested and t.reason})
    if len(reasons) == 1:
        return reasons[0]
    ns = sorted({t.n for t in tests if not t.tested})
    return f"n from {ns[0]} to {ns[-1]} < {pairs.MIN_PAIRS}" if ns and ns[-1] < pairs.MIN_PAIRS else "see --html"


def significant_share(tests: list[pairs.PairTest]) -> tuple[int, int]:
    """(significant, tested) pairs."""
    tested = [t for t in tests if t.tested]
    return sum(t.significant for t in tested), len(tested)
