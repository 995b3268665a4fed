"""The final metric of one run in plain words, for ``regbench show``: the reported value against the last
iteration and the dense re-evaluation, whether the returned transform is the best visited (best or last), the
overlap, folding, landmark TRE and label overlap (Dice, HD95), and the anytime view (first-hit times, the oracle
early stop).
"""

from __future__ import annotations

import math

from regbench.evaluation.best_or_last import where, where_best, within_tolerance
from regbench.evaluation.outcomes import MAX_FOLDING_FRACTION, MIN_OVERLAP_FRACTION
from regbench.evaluation.stops import NO_OVERLAP_VALUE
from regbench.record import Level, RunRecord
from regbench.report.stats.anytime import RELATIVE_TARGETS, first_hit, measure_of, trace_best
from regbench.report.text.one_run import fmt, fmt_share, ran_no_iteration

REL_TOL = 1e-9


def same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-300)


def distinct(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with just enough significant digits to show that they differ."""
    for digits in range(5, 18):
        left, right = fmt(a, digits), fmt(b, digits)
        if left != right:
            return left, right
    return fmt(a, 17), fmt(b, 17)


def _last_level(record: RunRecord) -> tuple[int, Level] | None:
    for segment in reversed(record.segments):
        if segment.levels and not segment.rejected:
            return segment.index, segment.levels[-1]
    return None


def _last_event(record: RunRecord) -> tuple[int, int, int, float] | None:
    """(segment, level, iteration, metric) of the last iteration event with a metric."""
    trace = record.trace
    for i in range(len(trace) - 1, -1, -1):
        if (metric := trace.metric[i]) is not None:
            return trace.segment[i], trace.level[i], trace.iteration[i], metric
    return None


def level_kind(level: Level) -> list[str]:
    """Why values on this level differ from the dense metric (empty: full resolution, unsmoothed, unsampled)."""
    reasons = []
    if level.shrink_factor not in (None, 1):
        reasons.append(f"shrunk ×{level.shrink_factor}")
    if level.smoothing_sigma not in (None, 0, 0.0):
        reasons.append(f"smoothed (σ = {level.smoothing_sigma:g})")
    if level.sampling_percentage is not None and level.sampling_percentage < 1.0:
        reasons.append(f"sampled ({level.sampling_percentage:.0%} of the points)")
    return reasons


def reported_vs_last_iteration(record: RunRecord) -> str:
    final, last = record.final_metric, _last_event(record)
    if ran_no_iteration(record):
        return (
            "No final metric: the last level ran no iteration, so SimpleITK never evaluated the metric (it reports "
            "0 then, which is not a value of this run)."
        )
    if final is None:
        engine = next((s.engine for s in reversed(record.segments) if s.engine), None) or {}
        why = engine.get("unavailable", {}).get("final_metric")
        if why:  # another engine's run: its values are on its own metric
            return f"No final metric on the case's metric from {engine.get('engine', 'the engine')}: {why}."
        return "No final metric was reported (the run did not finish an execution)."
    if final >= NO_OVERLAP_VALUE:
        return "The reported value is SimpleITK's no-valid-points value: nothing overlapped at the end."
    if last is None:
        return "No iteration reported a metric, so there is nothing to compare the final value with."
    segment, level, iteration, value = last
    where = f"the last iteration (execution {segment}, level {level}, iteration {iteration}) saw {fmt(value)}"
    if same(final, value):
        if record.stop_category in ("max_iterations", "user_stop"):
            return (
                f"The reported final metric equals what {where}. For gradient-descent-type optimizers stopped "
                "by the iteration cap (or from outside), that is the value *before* the last step: the returned "
                "transform is one step further and its own value is not reported."
            )
        return f"The reported final metric equals what {where}."
    reasons = []
    end = _last_level(record)
    if end and (end[0], end[1].index) != (segment, level):
        reasons.append(
            f"the value is reported at the end of execution {end[0]}, level {end[1].index}, which ran "
            f"{end[1].iterations} iterations after that"
        )
    if record.stop_category == "converged":
        reasons.append(
            "at convergence the optimizer evaluates the returned position once more after the last iteration, so "
            "the reported value belongs to the returned transform"
        )
    elif record.stop_category == "line_search":
        reasons.append(
            "after a failed line search the optimizer goes back to its last accepted position but keeps the value "
            "of the rejected trial point, so the reported value may belong to no returned position at all"
        )
    if not reasons:
        reasons.append("the optimizer reports the value of its final state, not the one seen at the last iteration")
    shown_final, shown_value = distinct(final, value)
    where = where.replace(f"saw {fmt(value)}", f"saw {shown_value}")
    return f"The reported final metric {shown_final} differs from what {where}: " + "; ".join(reasons) + "."


def reported_vs_dense(record: RunRecord) -> str:
    final, dense = record.final_metric, record.final_metric_dense
    if dense is None and record.status == "ok" and record.outcome == "no_overlap":
        return "There is no dense value: at the returned transform no fixed-image sample maps inside the moving image."
    if dense is None:
        return "There is no dense value (the re-evaluation failed or the run did not return a transform)."
    if final is None or ran_no_iteration(record):
        return f"The dense metric of the returned transform is {fmt(dense)}."
    end = _last_level(record)
    kind = level_kind(end[1]) if end else []
    if same(final, dense):
        return (
            f"The reported and dense values agree ({fmt(dense)}): the last level is full resolution and the "
            "reported value belongs to the returned transform."
        )
    if kind:
        return (
            f"The reported value {fmt(final)} is measured on the last level's images, which are "
            f"{', '.join(kind)}; the dense value {fmt(dense)} re-evaluates the returned transform at full "
            "resolution, unsmoothed, on every voxel. Only the dense value is comparable across strategies."
        )
    shown_final, shown_dense = distinct(final, dense)
    return (
        f"The last level is full resolution and dense, yet the reported value {shown_final} differs from the dense "
        f"value {shown_dense} of the returned transform: the reported value belongs to another position (see above)."
    )


def returned_best_text(record: RunRecord) -> str:
    best = record.best_visited_metric_dense
    if best is not None and record.returned_best is not None:
        at = where_best(record)
        regret = f" (regret {fmt(record.regret_metric_dense, 3)})" if record.regret_metric_dense is not None else ""
        error = ""
        if record.regret_error_mean is not None:
            error = (
                f"; error {fmt(record.error_mean)} returned vs {fmt(record.best_visited_error_mean)} there "
                f"(regret {fmt(record.regret_error_mean, 3)})"
            )
        compared = (
            f"the best position the run kept at the last level (the optimizer's own best visited included), "
            f"evaluated densely after the run, is {at}: dense metric {fmt(best)} against "
            f"{fmt(record.final_metric_dense)} returned{regret}{error}"
        )
        return ("Yes: " if record.returned_best else "No: ") + compared + "."
    if record.returned_best is True:
        return (
            "Yes: the returned transform is at least as good (dense metric) as every position visited on a "
            "full-resolution level."
        )
    if record.returned_best is False:
        visited = [lv.best_metric for lv in record.levels if lv.best_metric is not None and lv.is_dense]
        reached = f" (a visited position reached {fmt(min(visited))})" if visited else ""
        return (
            "No: the optimizer returned its last position, which is worse than the best one it visited"
            f"{reached}; the returned dense value is {fmt(record.final_metric_dense)}."
        )
    why = next((n for n in record.notes if n.startswith("returned_best unknown")), "")
    return "Unknown" + (f": {why.split(':', 1)[1].strip()}." if why else ".")


def overlap_text(record: RunRecord) -> str | None:
    """How much of the fixed image the returned transform still maps inside the moving image."""
    if record.overlap_fraction is None:
        return None
    low = (
        f": under {MIN_OVERLAP_FRACTION:.0%}, so the metric saw a sliver of the images and the run is no_overlap"
        if record.overlap_fraction < MIN_OVERLAP_FRACTION
        else ""
    )
    return (
        f"overlap (fixed samples mapped inside the moving image): {fmt_share(record.initial_overlap_fraction)} at "
        f"the start → {fmt_share(record.overlap_fraction)}{low}"
    )


def folding_text(record: RunRecord) -> str | None:
    """Folding of a deformable result (None for global transforms)."""
    if record.folding_fraction is None:
        return None
    if record.folding_fraction == 0:
        return f"folding: none (Jacobian determinant min {fmt(record.jacobian_min, 3)}, SDlogJ {fmt(record.sdlogj, 3)})"
    verdict = (
        f"above {MAX_FOLDING_FRACTION:.0%}: not a plausible deformation, the run is folded"
        if record.folding_fraction > MAX_FOLDING_FRACTION
        else f"flagged; above {MAX_FOLDING_FRACTION:.0%} it would be a failure"
    )
    return (
        f"folding: {fmt_share(record.folding_fraction)} of voxels have a Jacobian determinant ≤ 0 (min "
        f"{fmt(record.jacobian_min, 3)}), {verdict}"
    )


def anytime_lines(record: RunRecord) -> list[str]:
    """How fast the run got how close (first-hit times of a few targets), its best dense value across all
    levels and where, and the oracle early stop (the best error it visited against the one it returned)."""
    curve = record.anytime
    if len(curve) < 2:
        return []
    lines = []
    name, values = measure_of(curve)
    start = values[0]
    if start is not None and start > 0:
        hits = []
        for fraction in RELATIVE_TARGETS:
            target = fraction * start
            hit = first_hit(curve, values, target)
            when = f"{fmt(hit[0], 3)} s (iteration {hit[1]})" if hit else "never"
            hits.append(f"≤ {fmt(target, 3)} ({fraction:.0%} of the start): {when}")
        total = fmt(curve.time_s[-1], 3)
        lines.append(f"first reached, {name} (run time {total} s): " + "; ".join(hits) + ".")
        best = min(v for v in values if v is not None)
        returned = values[-1]
        if returned is not None and best < returned:
            lines.append(
                f"oracle early stop: the best {name} visited was {fmt(best)} against {fmt(returned)} returned "
                f"(stopping there would have saved {fmt(returned - best, 3)})."
            )
    best_line = _best_of_every_level(record)
    if best_line:
        lines.append(best_line)
    return lines


def _best_of_every_level(record: RunRecord) -> str | None:
    """The best dense value over every kept position of every level, and whether the returned transform is at
    least as good: the same rule and fields as best or last (:mod:`regbench.evaluation.best_or_last`), which compares
    the last level only, so a better position before it is named as such."""
    final, best, visited = record.final_metric_dense, trace_best(record), record.best_visited_metric_dense
    if final is None:
        return None
    if visited is not None and (best is None or visited < best.dense_metric):
        # best or last's best is not a trace row (where an execution or its last level started, or a reported value)
        value, at, level = visited, where_best(record), None
    elif best is not None:
        at = f"at {where(record.trace, best.row)} ({fmt(best.time_s, 3)} s)"
        value, level = best.dense_metric, best.level
    else:  # neither a kept position nor best or last's best to compare with
        return None
    if within_tolerance(final, value):
        verdict = "the returned transform is at least as good"
    else:
        verdict = f"the returned transform ({fmt(final)}) is worse"
        last = max((lv.index for lv in record.levels), default=None)
        if level is not None and last is not None and level < last:
            verdict += f" (a position before the last level {last}: best or last compares that level's positions)"
    return f"best dense metric over every kept position of every level: {fmt(value)} {at}; {verdict}."


def tre_text(record: RunRecord) -> str | None:
    """The landmark target registration error, when the case has landmarks."""
    m = record.measures
    if m.get("tre_mean") is None:
        return None
    count = f"{m['landmarks']} landmarks; " if m.get("landmarks") is not None else ""
    return (
        f"landmark TRE, mean: {fmt(m.get('initial_tre_mean'))} → {fmt(m.get('tre_mean'))} "
        f"(p95 {fmt(m.get('tre_p95'))}, max {fmt(m.get('tre_max'))}; {count}physical units)"
    )


#: How many of a run's worst labels (lowest Dice) ``show`` names.
WORST_LABELS = 3


def label_text(record: RunRecord) -> str | None:
    """The label overlap, when the case has label images: mean Dice and HD95 at the start and for the returned
    transform, and the labels with the lowest Dice."""
    if record.dice_mean is None:
        return None
    count = f"{record.label_count} labels" if record.label_count is not None else "the labels"
    text = (
        f"label Dice, mean over {count}: {fmt(record.initial_dice_mean, 4)} → {fmt(record.dice_mean, 4)}; "
        f"HD95 (mean over the labels in both): {fmt(record.initial_hd95, 4)} → {fmt(record.hd95, 4)} physical units"
    )
    per_label = {k: v for k, v in (record.dice_per_label or {}).items() if v is not None}
    worst = sorted(per_label.items(), key=lambda kv: (kv[1], kv[0]))[:WORST_LABELS]
    if worst and len(per_label) > 1:
        text += "; lowest Dice: " + ", ".join(f"label {k} {fmt(v, 3)}" for k, v in worst)
    return text
