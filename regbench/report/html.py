"""``regbench report --html DIR``: one offline page (inline CSS, relative links), PNG figures and a CSV beside it."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, select_autoescape

import regbench
from regbench.outcomes import STATUSES
from regbench.report import anytime_figures, anytime_stats, figures, pairs, stats, trace_figures
from regbench.report.instances import notes, solvers_of
from regbench.report.page_template import TEMPLATE
from regbench.report.runs import Runs
from regbench.report.summary import ALL_COLUMNS, columns_for, fmt_number, measure_columns, row_cells, summary_rows
from regbench.report.tables import significant_share, tally

TIME_PROFILE_TARGET = 3  # index into the absolute targets: 1 physical unit, or a relative gap of 1e-4

DEFINITIONS = (
    (
        "runs / succeeded",
        "Runs recorded, and those whose outcome is not a failure (regbench.outcomes): the count the progress bar "
        "and `regbench show` use. A run can execute (status ok) and still fail, e.g. no_overlap or folded.",
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
) -> HtmlReport:
    """Write ``index.html``, its PNG figures and ``summary.csv`` into ``out_dir`` (created if needed).

    Raises :class:`ReportError` naming the directory when it cannot be created or written.
    """
    out = Path(out_dir)
    prepare_dir(out)
    try:
        return _write(runs, out, error, progress or (lambda _msg: None), tolerance, tuple(measures))
    except OSError as exc:
        where = exc.filename or out
        raise ReportError(f"{where}: cannot write the HTML report there ({exc.strerror or exc})") from exc


def _write(
    runs: Runs,
    out: Path,
    error: str,
    say: Callable[[str], None],
    tolerance: float | None = None,
    measures: tuple[str, ...] = (),
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
    budgets = {axis: anytime_stats.fixed_budget(runs, error, axis) for axis in ("time", "iterations")}

    say("recommendation")
    files = []
    recommendation = _recommendation(runs, out, error, files, tolerance)
    say("figures")
    plots = _plots(runs, errors, results, hits, budgets, by_strategy, len(found), error)
    for plot in plots:
        path = out / f"{plot.name}.png"
        # tight bounding box: a long axis label or a legend outside the axes must not be cut off
        plot.figure.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.1)
        files.append(path)
    csv_path = out / "summary.csv"
    _write_csv(csv_path, by_case, by_strategy)
    files.append(csv_path)

    say("run pages")
    run_links = _run_pages(runs, out, error, files, recommendation)
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
        version=regbench.__version__,
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
        plots=[{"name": p.name, "file": f"{p.name}.png", "title": p.title, "caption": p.caption} for p in plots],
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
    budgets: dict[str, anytime_stats.FixedBudget],
    by_strategy,
    n_instances: int,
    error: str,
) -> list[figures.Plot]:
    palette = figures.colors(sorted(set(runs.solver)))
    plots = []
    cases = sorted(set(runs["case"].astype(str)))[: figures.MAX_CASE_FIGURES]
    for number, case in enumerate(cases, start=1):
        groups = _trace_records(runs, case)
        traces = {s: g[: figures.TRACES_PER_GROUP] for s, g in groups.items()}
        plots.append(trace_figures.trace_plot(case, number, traces, palette))
        plots.append(trace_figures.convergence_plot(case, number, groups, palette))
        shown, left_out = anytime_stats.shown_solvers(budgets["time"], case)
        panels = tuple(anytime_stats.case_profiles(runs, case, error, axis, shown) for axis in ("time", "iterations"))
        events = {s: [anytime_figures.run_events(r) for r in groups.get(s, [])] for s in shown}
        plots.append(anytime_figures.anytime_plot(number, panels, events, palette, error, left_out))
    ecdfs = [
        (_ecdf_title(hits["absolute"]), anytime_stats.runtime_ecdfs(hits["absolute"])),
        (
            "relative targets: " + ", ".join(hits["relative"].targets.labels) + " of the start",
            anytime_stats.runtime_ecdfs(hits["relative"]),
        ),
    ]
    plots.append(anytime_figures.ecdf_plot(ecdfs, n_instances, hits["absolute"].note))
    plots.append(
        anytime_figures.profile_plot(
            anytime_stats.first_hit_profile(hits["absolute"], TIME_PROFILE_TARGET),
            stats.quality_profile(results),
            f"an error of {stats.ERROR_TARGETS[TIME_PROFILE_TARGET]:g}",
        )
    )
    plots.append(anytime_figures.error_time_plot(runs, errors))
    plots.append(anytime_figures.outcome_plot(by_strategy))
    return plots


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


def _row(row, columns) -> dict:
    cells = [
        {"text": text, "num": c.justify == "right"} for c, text in zip(columns, row_cells(row, columns), strict=True)
    ]
    return {"solver": row.solver, "case": row.case, "cells": cells}


def _target_note(has_truth: np.ndarray, errors: stats.ErrorColumn) -> str:
    stand_in = f" ({errors.note()})" if errors.note() else ""
    if has_truth.all():
        return f"Targets are on the ground-truth error {errors.name}{stand_in}, in the case's physical units."
    return (
        f"Targets: ground-truth error {errors.name}{stand_in} in physical units / relative dense-metric gap for "
        "cases without ground truth."
    )


def _success(results: stats.InstanceResults) -> list[dict]:
    out: dict[str, dict] = {}
    for rate in stats.success_rates(results):
        row = out.setdefault(rate.solver, {"solver": rate.solver, "n": rate.n, "cells": []})
        row["cells"].append(f"{rate.rate:.0%} ({rate.successes})")
    return list(out.values())


def _ert(hits: anytime_stats.HitTimes) -> dict:
    """One ERT table (a target set): per solver × case, ``ERT (successes/instances)`` per target."""
    rows: dict[tuple, dict] = {}
    for e in anytime_stats.ert_rows(hits):
        row = rows.setdefault((e.solver, e.case), {"solver": e.solver, "case": e.case, "cells": []})
        row["cells"].append(f"{fmt_number(e.ert_s, 3)} ({e.successes}/{e.n})" if e.n else "start")
    return {"name": hits.targets.name, "labels": hits.targets.labels, "rows": list(rows.values())}


def _budget(budgets: dict[str, anytime_stats.FixedBudget]) -> list[dict]:
    """Per solver × case: the median error at each time and iteration budget, and the median AUC."""
    by_time, by_iterations = budgets["time"], budgets["iterations"]
    cases = by_time.instances.case
    out = []
    for j, solver in enumerate(by_time.solvers):
        for case in sorted(set(cases[by_time.runs[:, j] > 0].tolist())):
            rows = (cases == case) & (by_time.runs[:, j] > 0)
            cells = [
                stats.median(b.value[rows, j, f]) for b in (by_time, by_iterations) for f in range(len(b.fractions))
            ]
            out.append(
                {
                    "solver": solver,
                    "case": case,
                    "n": int(rows.sum()),
                    "cells": [fmt_number(v, 3) for v in cells] + [fmt_number(stats.median(by_time.auc[rows, j]), 3)],
                }
            )
    return out


def _budget_pooled(budgets: dict[str, anytime_stats.FixedBudget]) -> list[dict]:
    """Per solver over every instance: the median relative error at each budget, and the AUC's quartiles."""
    by_time, by_iterations = budgets["time"], budgets["iterations"]
    out = []
    for j, solver in enumerate(by_time.solvers):
        ran = by_time.runs[:, j] > 0
        cells = [stats.median(b.relative[ran, j, f]) for b in (by_time, by_iterations) for f in range(len(b.fractions))]
        low, mid, high = anytime_stats.quantiles(by_time.auc[ran, j])
        out.append(
            {
                "solver": solver,
                "n": int(ran.sum()),
                "cells": [fmt_number(v, 3) for v in cells]
                + [f"{fmt_number(mid, 3)} ({fmt_number(low, 2)}–{fmt_number(high, 2)})"],
            }
        )
    return out


def _tests(runs: Runs, error: str) -> list[dict]:
    """Per measure, the pairwise results as a solvers × solvers matrix (row A, column B: A − B)."""
    solvers, _ = solvers_of(runs)
    blocks = []
    for measure in (error, "wall_time_s"):
        tests = pairs.paired_tests(runs, measure)
        cells = {}
        for t in tests:
            cells[(t.a, t.b)] = _cell(t, t.a, t.b, 1)
            cells[(t.b, t.a)] = _cell(t, t.b, t.a, -1)
        rows = [
            {
                "number": i + 1,
                "solver": a,
                "cells": [cells.get((a, b), _SELF) for b in solvers],
            }
            for i, a in enumerate(solvers)
        ]
        significant, tested = significant_share(tests)
        blocks.append(
            {
                "measure": measure,
                "numbers": list(range(1, len(solvers) + 1)),
                "rows": rows,
                "tally": tally(measure, tests),
                "empty": len(solvers) < 2,
                "significant": significant,
                "tested": tested,
            }
        )
    return blocks


_SELF = {"text": "", "css": "self", "title": "the same strategy"}


def _cell(t: pairs.PairTest, a: str, b: str, sign: int) -> dict:
    """One matrix cell, read as row ``a`` against column ``b`` (``sign`` −1: the test was run as b − a)."""
    median = None if np.isnan(t.median_difference) else sign * t.median_difference
    title = f"{a} − {b}: n = {t.n} instances, {t.n_missing} unpaired, median {fmt_number(median)}"
    if not t.tested:
        return {"text": f"n={t.n}", "css": "untested", "title": f"{title}; not tested: {t.reason}"}
    r = sign * (t.rank_biserial or 0.0)
    title += f", p = {fmt_number(t.p, 3)} ({t.method}), Holm p = {fmt_number(t.p_holm, 3)}, r = {r:+.2f}"
    css = ("lower" if r < 0 else "higher") if t.significant else "ns"
    p = "<0.001" if t.p_holm is not None and t.p_holm < 0.001 else f"{t.p_holm:.3f}"
    return {"text": f"{p} {r:+.1f}", "css": css, "title": title}


def _write_csv(path: Path, by_case, by_strategy) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        columns = [*ALL_COLUMNS, *measure_columns(by_strategy)]  # every plugin measure too
        writer.writerow(["strategy", "case", *(c.full for c in columns)])
        for row in [*by_strategy, *by_case]:
            writer.writerow([row.solver, row.case or "(all)", *row_cells(row, columns)])


# -- the recommendation section ---------------------------------------------------------------------------------

# Cases whose recommended, median and worst runs are drawn (pictures cost a resampling each)
MAX_PICTURE_CASES = 6


def _anchor(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _recommendation(runs: Runs, out: Path, error: str, files: list[Path], tolerance: float | None = None) -> dict:
    from regbench.report import recommend as rc

    recs = rc.recommend_all(runs, error, tolerance)
    per_case = {r.scope: r for r in recs if r.scope != "all cases"}
    solvers = sorted(set(runs.solver.astype(str)))
    demos = {c.solver for r in recs for c in r.candidates if not c.eligible}
    rows = []
    for case, rec in per_case.items():
        by = {c.solver: c for c in rec.candidates}
        cells = []
        for s in solvers:
            c = by.get(s)
            if c is None:
                cells.append({"text": "", "css": ""})
            else:
                css = "rec" if c.recommended else ("demo" if not c.eligible else "")
                cells.append({"text": rc._fmt(c.median_error), "css": css})
        rows.append({"case": case, "anchor": _anchor(case), "cells": cells})
    blocks = []
    for number, rec in enumerate(recs):
        groups = rc._group_labels(rec)
        block = {
            "scope": rec.scope,
            "anchor": _anchor(rec.scope),
            "verdict": rec.verdict,
            "unit": rec.error if rec.unit == "case units" else f"{rec.error} / tolerance",
            "rows": [],
            "pictures": [],
            "picture_note": "",
        }
        if rec.scope != "all cases" and number < MAX_PICTURE_CASES:
            block["pictures"], block["picture_note"] = _pictures(runs, rec, out, error, files)
        links = {p["solver"]: f"#{p['anchor']}" for p in block["pictures"]}
        for c in rec.candidates:
            probs = rec.bayes.get(c.solver)
            block["rows"].append(
                {
                    "solver": c.solver,
                    "link": links.get(c.solver),
                    "demo": not c.eligible,
                    "mark": "✓" if c.recommended else ("D" if not c.eligible else ("·" if c.within_tolerance else "")),
                    "error": rc._fmt(c.median_error),
                    "rank": "–" if not np.isfinite(c.mean_rank) else f"{c.mean_rank:.1f}",
                    "cd": groups.get(c.solver, ""),
                    "peq": "best" if c.solver == rec.best else ("–" if probs is None else f"{probs[1]:.2f}"),
                    "fail": "–" if not np.isfinite(c.failure_rate) else f"{100 * c.failure_rate:.0f}%",
                    "fold": "–" if not np.isfinite(c.folding_max) else f"{100 * c.folding_max:.2g}%",
                    "time": rc._fmt(c.median_time_s),
                    "why": c.why_not,
                }
            )
        blocks.append(block)
    return {
        "recommendations": blocks,
        "matrix": {"cases": list(per_case), "solvers": solvers, "demos": demos, "rows": rows},
        "tolerance_rule": (
            f"{tolerance:g}, as given"
            if tolerance is not None
            else "half the smallest voxel spacing of the fixed image"
        ),
    }


def _pictures(runs: Runs, rec, out: Path, error: str, files: list[Path]) -> tuple[list[dict], str]:
    """The recommended (the best's median run), the median and the worst run of one case, drawn."""
    from regbench.report import images

    mine = np.flatnonzero((runs["case"] == rec.scope) & (runs["status"] == "ok"))
    if not mine.size:
        return [], "No run of this case returned a transform: nothing to draw."
    values = stats.error_column(runs, error).values
    err = np.where(np.isnan(values[mine]), np.inf, values[mine])
    chosen = []
    if rec.best is not None:
        best = [i for i in mine if runs.solver[i] == rec.best]
        if best:
            e = np.where(np.isnan(values[best]), np.inf, values[best])
            chosen.append(("recommended", best[int(np.argsort(e, kind="stable")[(len(best) - 1) // 2])]))
    order = mine[np.argsort(err, kind="stable")]
    chosen.append(("median", order[(len(order) - 1) // 2]))
    chosen.append(("worst", order[-1]))
    pictures, seen = [], set()
    for role, i in chosen:
        key = str(runs["key"][i])
        if key in seen:
            continue
        seen.add(key)
        records = runs.records([key])
        if not records:
            return pictures, "Full records are not available from this source: no pictures."
        target = out / "runs" / _anchor(rec.scope) / _anchor(key)
        try:
            drawn = images.write_images(records[0], target)
        except images.ImageError as exc:
            return pictures, f"No pictures: {exc}"
        files.extend(drawn.files)
        pictures.append(
            {
                "role": role,
                "solver": str(runs.solver[i]),
                "seed": int(runs["seed"][i]),
                "key": key,
                "anchor": f"run-{_anchor(key)}",
                "error": fmt_number(float(values[i])) if np.isfinite(values[i]) else "–",
                "files": [str(f.relative_to(out)) for f in drawn.files],
                "deformable": drawn.folded_voxels is not None,
                "folded": drawn.folded_voxels,
            }
        )
    return pictures, ""


# -- run pages --------------------------------------------------------------------------------------------------

# At most this many run pages (one per strategy × case: its median run); more are not written.
MAX_RUN_PAGES = 300

RUN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>regbench run {{ key }}</title>
<style>body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 0 auto; padding: 0 1.5em 3em; }
pre { white-space: pre-wrap; font-size: 0.85em; } div.pictures img { max-width: 32%; border: 1px solid #ddd; }
</style></head><body>
<p><a href="{{ back }}">← report</a></p>
<h1>{{ solver }} on {{ case }}, seed {{ seed }}</h1>
<p>The median run of this strategy on this case by {{ error }} (<code>regbench show {{ key }}</code>).</p>
{% if pictures %}<div class="pictures">{% for f in pictures %}<a href="{{ f }}"><img src="{{ f }}" alt="{{ f }}"></a>
{% endfor %}</div>{% endif %}
<pre>{{ text }}</pre>
</body></html>
"""


def _run_pages(runs: Runs, out: Path, error: str, files: list[Path], recommendation: dict) -> dict:
    """One page per strategy × case for its median run (the explanation of ``regbench show``, and the pictures
    where the recommendation drew that run); returns (solver, case) → its relative link."""
    from io import StringIO

    from rich.console import Console

    from regbench.report.explain import print_explanation

    values = stats.error_column(runs, error).values
    chosen: dict[tuple[str, str], str] = {}
    for solver, case in sorted(set(zip(runs.solver.astype(str), runs["case"].astype(str), strict=True))):
        index = np.flatnonzero((runs.solver == solver) & (runs["case"] == case))
        e = np.where(np.isnan(values[index]), np.inf, values[index])
        chosen[(solver, case)] = str(runs["key"][index[np.argsort(e, kind="stable")[(index.size - 1) // 2]]])
    if len(chosen) > MAX_RUN_PAGES:
        chosen = dict(list(chosen.items())[:MAX_RUN_PAGES])
    pictures = {p["key"]: p["files"] for block in recommendation["recommendations"] for p in block["pictures"]}
    records = {r.key: r for r in runs.records(list(chosen.values()))}
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(RUN_PAGE)
    links = {}
    for (solver, case), key in chosen.items():
        record = records.get(key)
        if record is None:
            continue
        buffer = StringIO()
        print_explanation(record, Console(file=buffer, width=110, color_system=None, force_terminal=False))
        path = out / "runs" / _anchor(case) / f"{_anchor(key)}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        page = template.render(
            key=key,
            solver=solver,
            case=case,
            seed=record.seed,
            error=error,
            back="../../index.html",
            text=buffer.getvalue(),
            pictures=["../../" + f for f in pictures.get(key, [])],
        )
        path.write_text(page, encoding="utf-8")
        files.append(path)
        links[(solver, case)] = str(path.relative_to(out))
    return links
