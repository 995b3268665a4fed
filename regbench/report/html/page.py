"""``regbench report --html DIR``: one offline page (inline CSS, relative links), PNG figures and a CSV beside it.

This module assembles the page (the output directory, the figures, the CSV, the template's render); the sections'
data come from :mod:`regbench.report.html.sections`, the run pages from :mod:`regbench.report.html.run_pages`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, select_autoescape

from regbench.evaluation.outcomes import STATUSES
from regbench.evaluation.tolerance import RULE as TOLERANCE_RULE
from regbench.report.figures import anytime as anytime_figures
from regbench.report.figures import common as figures
from regbench.report.figures import traces as trace_figures
from regbench.report.html.drawing import Drawer, DrawnPlot
from regbench.report.html.run_pages import _run_pages
from regbench.report.html.sections import (
    _budget,
    _budget_pooled,
    _ert,
    _recommendation,
    _row,
    _success,
    _target_note,
    _tests,
    finish_pictures,
)
from regbench.report.html.template import TEMPLATE
from regbench.report.load.columns import Runs
from regbench.report.load.instances import notes
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_budget, anytime_ert, pairs
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.report.stats.summary import ALL_COLUMNS, columns_for, measure_columns, row_cells, summary_rows
from regbench.version import __version__

TIME_PROFILE_TARGET = 3  # index into the absolute targets: 1 physical unit, or a relative gap of 1e-4

DEFINITIONS = (
    (
        "runs / finished without a failure / registered",
        "Runs recorded; those whose outcome is not a failure (regbench.evaluation.outcomes), a count apart from "
        "whether they registered: a run can execute (status ok) and still fail, e.g. no_overlap, no_progress or "
        "folded; and of those without a failure, the runs whose error against the truth (or landmark TRE) ended within "
        f"their tolerance, {TOLERANCE_RULE} (the verdicts the progress bar and `regbench show` use).",
    ),
    (
        "instances",
        "The distinct problems: a record's instance id (case definition, starting transform and, when the metric "
        "is sampled, the sampling seed), or (case, seed) for older records. Seeds with the same instance are "
        "copies and repeats (--repeat) re-executions: neither is a new instance. Every statistic below combines a "
        "strategy's runs on one instance into one value (their median) and counts instances.",
    ),
    (
        "outcomes",
        f"How runs ended, judged from all the evidence: {' / '.join(s for s in STATUSES if s != 'ok')} (the status), "
        f"then {figures.judged_failures_text()}; otherwise the stop category.",
    ),
    (
        "rounding failures",
        "Runs whose line search ended on a rounding error: often a stop near the optimum, but not always; the "
        "registered count says which.",
    ),
    (
        "iteration-cap hits",
        "Runs where some level stopped on its iteration limit: more iterations could have improved them.",
    ),
    ("median iterations", "Iterations over all levels and executions. Not comparable across optimizer families."),
    (
        "median dense final metric",
        "The case metric re-evaluated for the returned transform at full resolution, unsmoothed, on every voxel. "
        "Shown per case only: each case has its own metric, and a median across mean squares and Mattes MI "
        "values would mean nothing.",
    ),
    (
        "median relative gap",
        "Per run (f − f_best) / (f0 − f_best) of the dense metric: f_best the best value any successful run "
        "reached on its case, f0 the dense value at the instance's start. 0 is that best, 1 no better than the "
        "start; unit-free, so it can be pooled across cases and metrics.",
    ),
    (
        "median error, worst-30% error",
        "Distance between the returned and the true transform over the fixed "
        "image, in physical units; the worst-30% figure is the 70th percentile (30% of runs are worse). With "
        "--error tre_*, or on a case with landmarks and no truth transform, the landmark TRE instead.",
    ),
    (
        "median Dice, median HD95",
        "Cases with label images only: a run's Dice is its mean over the labels of the fixed label image of "
        "2|F∩W|/(|F|+|W|), W the moving labels resampled by nearest neighbour onto the fixed grid (1 = perfect "
        "overlap); its HD95 the mean over the labels present in both of the 95th-percentile symmetric surface "
        "distance, in physical units (per case only). Definitions: docs/concepts.md.",
    ),
    (
        "folded runs (max folding)",
        "Deformable models only: runs with any voxel whose Jacobian determinant is ≤ 0, and the largest folded "
        "share of voxels among them.",
    ),
    (
        "minimum overlap",
        "The smallest share of fixed-image samples that a returned transform maps inside the moving image; "
        "(k low): runs below the no-overlap threshold.",
    ),
    (
        "success rate",
        "Fraction of a strategy's instances on which the median of its runs' errors reached the target, a failed "
        "run counting as never reaching it. Cases without ground truth use the relative dense-metric gap instead.",
    ),
    (
        "first-hit time",
        "The time since the run started (or the iteration events so far) of the first point of its anytime curve "
        "at or below a target: the start, every kept trace position, the returned transform. Positions are kept on "
        "a geometric schedule, so it is an upper bound at that resolution. The first hit counts whatever the run's "
        "outcome (COCO): a run that later diverged did reach the target; the success rates above stay judged at "
        "the end of the run. Runs without a curve count as holding their start until they returned.",
    ),
    (
        "targets",
        "Absolute: 8 … 0.25 in the case's units (mm or px); relative: 50%, 10%, 1%, 0.1% of the instance's initial "
        "error, so cases of different scale pool. Cases without ground truth: the relative dense-metric gap "
        "(1e-1 … 1e-6, and 0.5 … 0.001). A target the instance's start already meets is left out.",
    ),
    (
        "ERT",
        "Expected running time (COCO): Σ over instances of the first-hit time where the target was reached and of "
        "the time the run ended where not, divided by the instances that reached it; ∞ when none. A strategy's "
        "runs on one instance are combined by their median first-hit time first.",
    ),
    (
        "runtime ECDF",
        "Fraction of (instance, target) pairs reached within a time, from first-hit times, with a 95% band from "
        f"{anytime_stats.BOOTSTRAP_RESAMPLES} seeded bootstrap resamples of the instances and the virtual best "
        "solver (per pair the fastest strategy).",
    ),
    (
        "fixed budget",
        "The error a strategy's runs held at 10%, 25%, 50% and 100% of the instance's reference budget: the longest "
        "any strategy ran on the instance, in seconds or in iteration events (the value of the position the "
        "optimizer held then, carried forward; after a run ended, what it returned); median over instances.",
    ),
    (
        "AUC",
        "Area under the anytime curve: the time average of the error relative to the instance's initial error (the "
        f"gap where there is no truth) on log time, over the {anytime_stats.AUC_DECADES:g} decades below the "
        "reference budget. 1 = no progress over the window, 0 = the answer at once; lower is better.",
    ),
    (
        "performance profile",
        "r = cost / best cost on each instance; ρ(τ) = fraction of instances with r ≤ τ; a "
        "failure's ratio is above every real one (Dolan & Moré 2002).",
    ),
    (
        "Wilcoxon, Holm, r",
        "Paired signed-rank test across instances: exact without ties or zero differences (up to 50 pairs), "
        "otherwise the normal approximation with tie correction and Pratt's handling of zeros; not run below 6 "
        "instances (no p-value could reach 0.05). Holm step-down correction over the pairs of a measure; effect "
        "size: the matched-pairs rank-biserial correlation.",
    ),
)


class ReportError(OSError):
    """The report cannot be written where asked; the message names the path."""


@dataclass
class HtmlReport:
    index: Path
    files: list[Path]


def prepare_dir(out: Path) -> None:
    """Create ``out`` and remove the figures an earlier report left there (only regbench's own figure names:
    a report with fewer cases must not show stale ones; other files stay)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
        for old in out.iterdir():
            if old.is_file() and figures.is_figure_file(old.name):
                old.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ReportError(f"{out}: cannot write the HTML report there ({reason})") from exc


def write_html(
    runs: Runs,
    out_dir: str | Path,
    error: str = "error_mean",
    progress: Callable[[str], None] | None = None,
    tolerance: float | None = None,
    measures: Sequence[str] = (),
    case_files: Sequence[str] = (),
) -> HtmlReport:
    """Write ``index.html``, its PNG figures and ``summary.csv`` into ``out_dir`` (created if needed).

    ``case_files`` are TOML case files to find the runs' cases in where their own moved (the pictures, the
    tolerance: :mod:`~regbench.report.load.case_of_run`). Raises :class:`ReportError` naming the directory when it
    cannot be created or written.
    """
    out = Path(out_dir)
    prepare_dir(out)
    try:
        # the workers start now, and import while the page's statistics are computed
        with Drawer() as drawer:
            say = progress or (lambda _msg: None)
            return _write(runs, out, error, say, drawer, tolerance, tuple(measures), tuple(case_files))
    except OSError as exc:
        where = exc.filename or out
        raise ReportError(f"{where}: cannot write the HTML report there ({exc.strerror or exc})") from exc


def _write(
    runs: Runs,
    out: Path,
    error: str,
    say: Callable[[str], None],
    drawer: Drawer,
    tolerance: float | None = None,
    measures: tuple[str, ...] = (),
    case_files: tuple[str, ...] = (),
) -> HtmlReport:
    by_strategy = summary_rows(runs, "strategy", error)
    by_case = summary_rows(runs, "case", error)
    results = stats.instance_results(runs, error)
    errors = stats.error_column(runs, error)
    found = results.instances
    target_labels = [
        f"{t:g} / {r:g}" if not results.has_truth.all() else f"{t:g}"
        for t, r in zip(stats.ERROR_TARGETS, stats.RELATIVE_TARGETS, strict=True)
    ]

    hits = {kind: anytime_stats.hit_times(runs, error, kind) for kind in ("absolute", "relative")}
    budgets = {axis: anytime_budget.fixed_budget(runs, error, axis) for axis in ("time", "iterations")}

    say("recommendation")
    files: list[Path] = []
    recommendation = _recommendation(runs, out, error, drawer, tolerance, case_files)
    say("figures")
    highlight = recommendation.pop("highlight")
    drawing = _plots(runs, errors, results, hits, budgets, by_strategy, len(found), error, out, drawer, highlight)
    finish_pictures(recommendation.pop("pending"), out, files)
    plots_at = len(files)
    csv_path = out / "summary.csv"
    _write_csv(csv_path, by_case, by_strategy)
    files.append(csv_path)

    say("run pages")
    run_links = _run_pages(runs, out, error, files, recommendation)
    plots = [future.result() for future in drawing]
    files[plots_at:plots_at] = [plot.path for plot in plots]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    cases = sorted(set(runs["case"].astype(str)))
    strategy_columns = columns_for(by_strategy, "strategy", measures)
    case_columns = columns_for(by_case, "case", measures)
    page = env.from_string(TEMPLATE).render(
        source=runs.source or "records",
        n_runs=len(runs),
        n_solvers=len(set(runs.solver)),
        n_cases=len(cases),
        n_instances=len(found),
        n_pairs=found.pairs,
        notes=notes(runs),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        csv_file=csv_path.name,
        strategy_columns=[c.full for c in strategy_columns],
        case_columns=[c.full for c in case_columns],
        error=error,
        stand_in_note=errors.note(),
        by_strategy=[_row(r, strategy_columns) for r in by_strategy],
        by_case=[dict(_row(r, case_columns), link=run_links.get((r.solver, r.case))) for r in by_case],
        target_labels=target_labels,
        target_note=_target_note(results.has_truth, errors),
        success=_success(results),
        ert=[_ert(h) for h in hits.values()],
        first_hit_note=hits["absolute"].note,
        budget_fractions=[f"{100 * f:g}%" for f in anytime_stats.BUDGET_FRACTIONS],
        budget=_budget(budgets),
        budget_pooled=_budget_pooled(budgets),
        tests=_tests(runs, error),
        min_pairs=pairs.MIN_PAIRS,
        significance=pairs.SIGNIFICANCE,
        plots=[
            {
                "name": p.name,
                "file": p.path.name,
                "title": p.title,
                "caption": p.caption,
                "case": _case_of(p.name, cases),
            }
            for p in plots
        ],
        skipped_cases=cases[figures.MAX_CASE_FIGURES :],
        max_cases=figures.MAX_CASE_FIGURES,
        definitions=DEFINITIONS,
        **recommendation,
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return HtmlReport(index, [index, *files])


def _plots(
    runs: Runs,
    errors: stats.ErrorColumn,
    results: stats.InstanceResults,
    hits: dict[str, anytime_stats.HitTimes],
    budgets: dict[str, anytime_budget.FixedBudget],
    by_strategy,
    n_instances: int,
    error: str,
    out: Path,
    drawer: Drawer,
    highlight: Sequence[str] = (),
) -> list[Future[DrawnPlot]]:
    """The report's figures, each computed here and handed to ``drawer`` once, in the page's order; the
    ``highlight`` strategies (recommended, then contrasts) take the most distinct colours in every figure, and are
    the only ones coloured where every strategy is pooled."""
    palette = figures.colors(sorted(set(runs.solver)), first=highlight)
    plots = []
    cases = sorted(set(runs["case"].astype(str)))[: figures.MAX_CASE_FIGURES]
    for number, case in enumerate(cases, start=1):
        groups = _trace_records(runs, case)
        traces = {s: g[: figures.TRACES_PER_GROUP] for s, g in groups.items()}
        plots.append(drawer.plot(trace_figures.trace_plot, case, number, traces, palette, out=out))
        plots.append(drawer.plot(trace_figures.convergence_plot, case, number, groups, palette, out=out))
        shown, left_out = anytime_budget.shown_solvers(budgets["time"], case)
        by_time, by_iterations = (
            anytime_budget.case_profiles(runs, case, error, axis, shown) for axis in ("time", "iterations")
        )
        events = {s: [figures.run_events(r) for r in groups.get(s, [])] for s in shown}
        panels = (by_time, by_iterations)
        plots.append(
            drawer.plot(anytime_figures.anytime_plot, number, panels, events, palette, error, left_out, out=out)
        )
    ecdfs = [
        (_ecdf_title(hits["absolute"]), anytime_ert.runtime_ecdfs(hits["absolute"])),
        (
            "relative targets: " + ", ".join(hits["relative"].targets.labels) + " of the start",
            anytime_ert.runtime_ecdfs(hits["relative"]),
        ),
    ]
    note = hits["absolute"].note
    plots.append(drawer.plot(anytime_figures.ecdf_plot, ecdfs, n_instances, note, palette, highlight, out=out))
    time_profile = anytime_ert.first_hit_profile(hits["absolute"], TIME_PROFILE_TARGET)
    target = f"an error of {stats.ERROR_TARGETS[TIME_PROFILE_TARGET]:g}"
    quality = stats.quality_profile(results)
    plots.append(drawer.plot(anytime_figures.profile_plot, time_profile, quality, target, palette, highlight, out=out))
    columns = Runs(runs.columns, runs.params, runs.source)  # the columns only: no records to send to a worker
    plots.append(drawer.plot(anytime_figures.error_time_plot, columns, errors, palette, highlight, out=out))
    plots.append(drawer.plot(anytime_figures.outcome_plot, by_strategy, out=out))
    return plots


def _case_of(name: str, cases: list[str]) -> str:
    """The case a per-case figure is drawn for (its file name ends in the case's number), "" for the others."""
    stem, _, number = name.rpartition("-")
    if stem in figures.PER_CASE_FIGURES and number.isdigit() and 0 < int(number) <= len(cases):
        return cases[int(number) - 1]
    return ""


def _ecdf_title(hits: anytime_stats.HitTimes) -> str:
    labels = hits.targets.labels
    return f"absolute targets: {labels[0]} … {labels[-1]} (case units" + (
        ")" if "/" not in labels[0] else "; / relative gap without truth)"
    )


def _trace_records(runs: Runs, case: str) -> dict[str, list]:
    """Per solver, the full records of its lowest-seed runs on ``case`` (capped)."""
    chosen: dict[str, list[str]] = {}
    for solver in sorted(set(runs.solver[runs["case"] == case])):
        rows = np.flatnonzero((runs["case"] == case) & (runs.solver == solver))
        rows = rows[np.argsort(runs["seed"][rows], kind="stable")][: figures.CONVERGENCE_RUNS_PER_GROUP]
        chosen[solver] = [runs["key"][i] for i in rows]
    fetched = {r.key: r for r in runs.records([k for keys in chosen.values() for k in keys])}
    return {s: [fetched[k] for k in keys if k in fetched] for s, keys in chosen.items()}


def _write_csv(path: Path, by_case, by_strategy) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        columns = [*ALL_COLUMNS, *measure_columns(by_strategy)]  # every plugin measure too
        writer.writerow(["strategy", "case", *(c.full for c in columns)])
        for row in [*by_strategy, *by_case]:
            writer.writerow([row.solver, row.case or "(all)", *row_cells(row, columns)])
