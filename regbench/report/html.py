"""``regbench report --html DIR``: one offline page (inline CSS, relative links), PNG figures and a CSV beside it."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, select_autoescape

import regbench
from regbench.report import figures, stats
from regbench.report.page_template import TEMPLATE
from regbench.report.runs import Runs
from regbench.report.summary import COLUMNS, fmt_number, row_cells, summary_rows

TIME_PROFILE_TARGET = 3  # index into the targets: 1 physical unit, or a relative gap of 1e-4

DEFINITIONS = (
    ("runs / ok", "Runs recorded, and those that finished with status ok (not error, crashed or timeout)."),
    (
        "outcomes",
        "How runs ended, judged from the stop text and the numbers: diverged when the dense metric ended "
        "worse than it started, no_overlap when the metric is SimpleITK's no-valid-points value, otherwise the stop "
        "category, or error / crashed / timeout.",
    ),
    (
        "rounding failures",
        "Runs whose line search ended on a rounding error. Usually a successful stop near the "
        "optimum: judge by the error.",
    ),
    (
        "iteration-cap hits",
        "Runs where some level stopped on its iteration limit: more iterations could have improved them.",
    ),
    ("median iterations", "Iterations over all levels and executions. Not comparable across optimizer families."),
    (
        "median dense final metric",
        "The case metric re-evaluated for the returned transform at full resolution, "
        "unsmoothed, on every voxel: the only metric value comparable across strategies.",
    ),
    (
        "median error, worst-30% error",
        "Distance between the returned and the true transform over the fixed "
        "image, in physical units; the worst-30% figure is the 70th percentile (30% of runs are worse). With "
        "--error tre_*, or on a case with landmarks and no truth transform, the landmark TRE instead.",
    ),
    (
        "success rate",
        "Fraction of runs that finished ok with error ≤ target. Cases without ground truth use the "
        "relative dense-metric gap (f − f_best) / (f0 − f_best) instead, with f_best the best any run reached.",
    ),
    (
        "ERT",
        "Expected running time: total wall time of all runs (failed ones in full) over the number of "
        "successes. Successful runs count their full time (the moment the target was first met is not recorded).",
    ),
    ("runtime ECDF", "Fraction of (case, seed, target) triples solved within a wall time."),
    (
        "performance profile",
        "r = cost / best cost on each instance; ρ(τ) = fraction of instances with r ≤ τ; a "
        "failure's ratio is above every real one (Dolan & Moré 2002).",
    ),
    (
        "Wilcoxon, Holm, r",
        "Paired signed-rank test across instances (zero differences dropped), Holm step-down "
        "correction over the pairs, and the matched-pairs rank-biserial correlation as effect size.",
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
) -> HtmlReport:
    """Write ``index.html``, its PNG figures and ``summary.csv`` into ``out_dir`` (created if needed).

    Raises :class:`ReportError` naming the directory when it cannot be created or written.
    """
    out = Path(out_dir)
    prepare_dir(out)
    try:
        return _write(runs, out, error, progress or (lambda _msg: None))
    except OSError as exc:
        where = exc.filename or out
        raise ReportError(f"{where}: cannot write the HTML report there ({exc.strerror or exc})") from exc


def _write(runs: Runs, out: Path, error: str, say: Callable[[str], None]) -> HtmlReport:
    by_strategy = summary_rows(runs, "strategy", error)
    by_case = summary_rows(runs, "case", error)
    hits = stats.solved(runs, error)
    values, has_truth = stats.quality(runs, error)
    errors = stats.error_column(runs, error)
    instances, _ = stats.instance_index(runs)
    target_labels = [
        f"{t:g} / {r:g}" if not has_truth.all() else f"{t:g}"
        for t, r in zip(stats.ERROR_TARGETS, stats.RELATIVE_TARGETS, strict=True)
    ]

    say("figures")
    files = []
    plots = _plots(runs, errors, hits, values, by_strategy, len(instances))
    for plot in plots:
        path = out / f"{plot.name}.png"
        # tight bounding box: a long axis label or a legend outside the axes must not be cut off
        plot.figure.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.1)
        files.append(path)
    csv_path = out / "summary.csv"
    _write_csv(csv_path, by_case, by_strategy)
    files.append(csv_path)

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    cases = sorted(set(runs["case"].astype(str)))
    page = env.from_string(TEMPLATE).render(
        source=runs.source or "records",
        n_runs=len(runs),
        n_solvers=len(set(runs.solver)),
        n_cases=len(cases),
        n_instances=len(instances),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=regbench.__version__,
        csv_file=csv_path.name,
        columns=[full for _, full, _ in COLUMNS],
        error=error,
        stand_in_note=errors.note(),
        by_strategy=[_row(r) for r in by_strategy],
        by_case=[_row(r) for r in by_case],
        target_labels=target_labels,
        target_note=_target_note(has_truth, errors),
        success=_success(runs, hits),
        ert=_ert(runs, hits),
        tests=_tests(runs, error),
        plots=[{"name": p.name, "file": f"{p.name}.png", "title": p.title, "caption": p.caption} for p in plots],
        skipped_cases=cases[figures.MAX_CASE_FIGURES :],
        max_cases=figures.MAX_CASE_FIGURES,
        definitions=DEFINITIONS,
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return HtmlReport(index, [index, *files])


def _plots(runs: Runs, errors: stats.ErrorColumn, hits, values, by_strategy, n_instances: int) -> list[figures.Plot]:
    palette = figures.colors(sorted(set(runs.solver)))
    plots = []
    cases = sorted(set(runs["case"].astype(str)))[: figures.MAX_CASE_FIGURES]
    for number, case in enumerate(cases, start=1):
        groups = _trace_records(runs, case)
        traces = {s: g[: figures.TRACES_PER_GROUP] for s, g in groups.items()}
        plots.append(figures.trace_plot(case, number, traces, palette))
        plots.append(figures.convergence_plot(case, number, groups, palette))
    targets = ", ".join(f"{t:g}" for t in stats.ERROR_TARGETS)
    plots.append(figures.ecdf_plot(stats.runtime_ecdfs(runs, hits), f"{targets} (error units)", n_instances))
    plots.append(
        figures.profile_plot(
            stats.time_profile(runs, hits[:, TIME_PROFILE_TARGET]),
            stats.quality_profile(runs, values),
            f"an error of {stats.ERROR_TARGETS[TIME_PROFILE_TARGET]:g}",
        )
    )
    plots.append(figures.error_time_plot(runs, errors))
    plots.append(figures.outcome_plot(by_strategy))
    return plots


def _trace_records(runs: Runs, case: str) -> dict[str, list]:
    """Per solver, the full records of its lowest-seed runs on ``case`` (capped)."""
    chosen: dict[str, list[str]] = {}
    for solver in sorted(set(runs.solver[runs["case"] == case])):
        rows = np.flatnonzero((runs["case"] == case) & (runs.solver == solver))
        rows = rows[np.argsort(runs["seed"][rows], kind="stable")][: figures.CONVERGENCE_RUNS_PER_GROUP]
        chosen[solver] = [runs["key"][i] for i in rows]
    fetched = {r.key: r for r in runs.records([k for keys in chosen.values() for k in keys])}
    return {s: [fetched[k] for k in keys if k in fetched] for s, keys in chosen.items()}


def _row(row) -> dict:
    return {"solver": row.solver, "case": row.case, "cells": row_cells(row)}


def _target_note(has_truth: np.ndarray, errors: stats.ErrorColumn) -> str:
    stand_in = f" ({errors.note()})" if errors.note() else ""
    if has_truth.all():
        return f"Targets are on the ground-truth error {errors.name}{stand_in}, in the case's physical units."
    return (
        f"Targets: ground-truth error {errors.name}{stand_in} in physical units / relative dense-metric gap for "
        "cases without ground truth."
    )


def _success(runs: Runs, hits) -> list[dict]:
    out: dict[str, dict] = {}
    for rate in stats.success_rates(runs, hits):
        row = out.setdefault(rate.solver, {"solver": rate.solver, "n": rate.n, "cells": []})
        row["cells"].append(f"{rate.rate:.0%} ({rate.successes})")
    return list(out.values())


def _ert(runs: Runs, hits) -> list[dict]:
    out: dict[tuple, dict] = {}
    for e in stats.ert_table(runs, hits):
        row = out.setdefault((e.solver, e.case), {"solver": e.solver, "case": e.case, "cells": []})
        row["cells"].append(f"{fmt_number(e.ert_s, 3)} ({e.successes}/{e.n})")
    return list(out.values())


def _tests(runs: Runs, error: str) -> list[dict]:
    blocks = []
    for measure in (error, "wall_time_s"):
        rows = [
            {
                "a": t.a,
                "b": t.b,
                "n": t.n,
                "n_missing": t.n_missing,
                "median": fmt_number(t.median_difference),
                "p": fmt_number(t.p, 3),
                "p_holm": fmt_number(t.p_holm, 3),
                "r": fmt_number(t.rank_biserial, 2),
            }
            for t in stats.paired_tests(runs, measure)
        ]
        blocks.append({"measure": measure, "rows": rows})
    return blocks


def _write_csv(path: Path, by_case, by_strategy) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["strategy", "case", *(full for _, full, _ in COLUMNS)])
        for row in [*by_strategy, *by_case]:
            writer.writerow([row.solver, row.case or "(all)", *row_cells(row)])
