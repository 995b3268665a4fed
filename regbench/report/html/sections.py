"""The sections of the HTML report, built as the template's data: summary rows, success rates, ERT and
fixed-budget tables, the pairwise-test matrices, and the recommendation with its pictures (its first screen:
:mod:`regbench.report.html.answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.evaluation.tolerance import RULE as TOLERANCE_RULE
from regbench.report.html import answer as html_answer
from regbench.report.html.answer import anchor as _anchor
from regbench.report.html.drawing import Drawer
from regbench.report.load.columns import Runs
from regbench.report.load.instances import solvers_of
from regbench.report.stats import across_instances as stats
from regbench.report.stats import anytime_budget, anytime_ert, pairs
from regbench.report.stats import anytime_curves as anytime_stats
from regbench.report.stats.summary import fmt_number, row_cells
from regbench.report.text.tables import significant_share, tally

if TYPE_CHECKING:
    from regbench.report.figures.images import Pictures


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
    for e in anytime_ert.ert_rows(hits):
        row = rows.setdefault((e.solver, e.case), {"solver": e.solver, "case": e.case, "cells": []})
        row["cells"].append(f"{fmt_number(e.ert_s, 3)} ({e.successes}/{e.n})" if e.n else "start")
    return {"name": hits.targets.name, "labels": hits.targets.labels, "rows": list(rows.values())}


def _budget(budgets: dict[str, anytime_budget.FixedBudget]) -> list[dict]:
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


def _budget_pooled(budgets: dict[str, anytime_budget.FixedBudget]) -> list[dict]:
    """Per solver over every instance: the median relative error at each budget, and the AUC's quartiles."""
    by_time, by_iterations = budgets["time"], budgets["iterations"]
    out = []
    for j, solver in enumerate(by_time.solvers):
        ran = by_time.runs[:, j] > 0
        cells = [stats.median(b.relative[ran, j, f]) for b in (by_time, by_iterations) for f in range(len(b.fractions))]
        low, mid, high = anytime_budget.quantiles(by_time.auc[ran, j])
        out.append(
            {
                "solver": solver,
                "n": int(ran.sum()),
                "cells": [fmt_number(v, 3) for v in cells]
                + [f"{fmt_number(float(mid), 3)} ({fmt_number(float(low), 2)}–{fmt_number(float(high), 2)})"],
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


# -- the recommendation section ---------------------------------------------------------------------------------

# Cases whose recommended, median and worst runs are drawn (pictures cost a resampling each)
MAX_PICTURE_CASES = 6
# The pictures of a run shown at once in its case's section (regbench.report.figures.images); the others are folded away
MAIN_PICTURES = ("overlay.png", "jacobian.png")


def _recommendation(
    runs: Runs,
    out: Path,
    error: str,
    drawer: Drawer,
    tolerance: float | None = None,
    case_files: Sequence[str] = (),
) -> dict:
    """The answer (first screen: :mod:`regbench.report.html.answer`), then per case the evidence behind it; the
    pictures are handed to ``drawer`` (``"pending"``: :func:`finish_pictures` completes the blocks)."""
    from regbench.report.decide import answer as rc
    from regbench.report.decide.per_case import recommend_all
    from regbench.report.decide.race import race_lines

    recs = recommend_all(runs, error, tolerance, case_files=case_files)
    pending: list[tuple[dict, list[Pending]]] = []
    solvers = sorted(set(runs.solver.astype(str)))
    blocks = []
    for number, rec in enumerate(recs):
        groups = rc.group_labels(rec)
        pick = html_answer.chosen(rec)
        lines, pairwise = html_answer.verdict_parts(rec)
        block: dict[str, Any] = {  # the template's fields
            "scope": rec.scope,
            "anchor": _anchor(rec.scope),
            "chosen": pick,
            "use": html_answer.use_text(rec),
            "headline": rec.verdict[0] if rec.verdict else "",
            "decided_by": html_answer.sentence(rec.decided_by),
            "lines": lines,
            "pairwise": pairwise,
            "unit": rec.error if rec.unit == "case units" else f"{rec.error} / tolerance",
            "value_name": rec.error,
            "spread": any(np.isfinite(c.spread) for c in rec.candidates),
            "inverse": any(np.isfinite(c.inverse_consistency) for c in rec.candidates),
            "rows": [],
            "pictures": [],
            "picture_note": "",
        }
        if rec.scope != html_answer.OVERALL and number < MAX_PICTURE_CASES:
            drawing, block["picture_note"] = _pictures(runs, rec, out, error, drawer, case_files)
            block["pictures"] = [picture for picture, _ in drawing]
            pending.append((block, drawing))
        links = {p["solver"]: f"#{p['anchor']}" for p in block["pictures"]}
        for c in rec.candidates:
            probs = rec.bayes.get(c.solver)
            mark = "✓" if c.recommended else ("D" if not c.eligible else ("·" if c.within_tolerance else ""))
            block["rows"].append(
                {
                    "solver": c.solver,
                    "link": links.get(c.solver),
                    "demo": not c.eligible,
                    "chosen": c.solver == pick,
                    "mark": "use" if c.solver == pick else mark,
                    "error": rc.fmt(c.median_error),
                    "rank": "–" if not np.isfinite(c.mean_rank) else f"{c.mean_rank:.1f}",
                    "cd": groups.get(c.solver, ""),
                    "peq": "best" if c.solver == rec.best else ("–" if probs is None else f"{probs[1]:.2f}"),
                    "fail": "–" if not np.isfinite(c.failure_rate) else f"{100 * c.failure_rate:.0f}%",
                    "fold": "–" if not np.isfinite(c.folding_max) else f"{100 * c.folding_max:.2g}%",
                    "time": rc.fmt(c.median_time_s),
                    "spread": rc.fmt(c.spread),
                    "inverse": rc.fmt(c.inverse_consistency),
                    "why": c.why_not,
                }
            )
        blocks.append(block)
    return {
        "recommendations": blocks,
        "answers": html_answer.answers(recs, rc.fmt),
        # a raced store says so under the answer, as recommend does (which strategies were dropped, when, why)
        "race": race_lines(runs.source, {str(k) for k in runs["key"].tolist()}) if runs.source else [],
        "answer_rows": html_answer.ANSWER_ROWS,
        "matrix": html_answer.case_matrix(recs, solvers, rc.fmt),
        "highlight": html_answer.highlighted(recs),
        "tolerance_rule": f"{tolerance:g}, as given" if tolerance is not None else TOLERANCE_RULE,
        "pending": pending,
    }


# A picture being drawn: its block entry (completed from the drawing) and the drawing's result to come.
Pending = tuple[dict[str, Any], "Future[Pictures]"]


def _pictures(
    runs: Runs, rec, out: Path, error: str, drawer: Drawer, case_files: Sequence[str] = ()
) -> tuple[list[Pending], str]:
    """The recommended (the chosen strategy's median run), the median and the worst run of one case, handed to
    ``drawer``; their block entries are completed by :func:`finish_pictures`."""
    # the runs the recommendation judged (a real pair decided by its simulated instances: those), by its values
    mine = np.flatnonzero(np.isin(runs["case"].astype(str), rec.cases) & (runs["status"] == "ok"))
    if not mine.size:
        return [], "No run of this case returned a transform: nothing to draw."
    values = stats.error_column(runs, error).values
    if rec.run_values:
        values = np.array([rec.run_values.get(str(k), np.nan) for k in runs["key"].tolist()], dtype=float)
    err = np.where(np.isnan(values[mine]), np.inf, values[mine])
    chosen = []
    pick = html_answer.chosen(rec)
    if pick is not None:
        best = [i for i in mine if runs.solver[i] == pick]
        if best:
            e = np.where(np.isnan(values[best]), np.inf, values[best])
            chosen.append(("recommended", best[int(np.argsort(e, kind="stable")[(len(best) - 1) // 2])]))
    order = mine[np.argsort(err, kind="stable")]
    chosen.append(("median", order[(len(order) - 1) // 2]))
    chosen.append(("worst", order[-1]))
    pictures: list[Pending] = []
    seen: set[str] = set()
    for role, i in chosen:
        key = str(runs["key"][i])
        if key in seen:
            continue
        seen.add(key)
        records = runs.records([key])
        if not records:
            return pictures, "Full records are not available from this source: no pictures."
        target = out / "runs" / _anchor(rec.scope) / _anchor(key)
        entry = {
            "role": role,
            "solver": str(runs.solver[i]),
            "seed": int(runs["seed"][i]),
            "key": key,
            "anchor": f"run-{_anchor(key)}",
            "error": fmt_number(float(values[i])) if np.isfinite(values[i]) else "–",
        }
        pictures.append((entry, drawer.pictures(records[0], target, case_files)))
    return pictures, ""


def finish_pictures(pending: list[tuple[dict, list[Pending]]], out: Path, files: list[Path]) -> None:
    """Wait for the pictures of each block and complete its entries, in order: a run that cannot be drawn (its
    case is not available here) ends its block's pictures with a note, as if the later ones were never drawn."""
    from regbench.report.figures import images

    for block, drawing in pending:
        for k, (entry, future) in enumerate(drawing):
            try:
                drawn = future.result()
            except images.ImageError as exc:
                block["pictures"] = block["pictures"][:k]
                block["picture_note"] = f"No pictures: {exc}"
                for _, later in drawing[k + 1 :]:
                    _discard(later)
                break
            files.extend(drawn.files)
            entry.update(
                {
                    "files": [str(f.relative_to(out)) for f in drawn.files],
                    # shown: the overlay (folds outlined) and the Jacobian; the rest one click away
                    "main": [str(f.relative_to(out)) for f in drawn.files if f.name in MAIN_PICTURES],
                    "more": [str(f.relative_to(out)) for f in drawn.files if f.name not in MAIN_PICTURES],
                    "deformable": drawn.folded_voxels is not None,
                    "folded": drawn.folded_voxels,
                }
            )


def _discard(future: Future[Pictures]) -> None:
    """Remove what a drawing the page will not show wrote (the pictures after one that failed)."""
    try:
        drawn = future.result()
    except Exception:
        return
    for f in drawn.files:
        f.unlink(missing_ok=True)
    if drawn.directory.is_dir() and not any(drawn.directory.iterdir()):
        drawn.directory.rmdir()
