"""``regbench show RUN``: one run explained in plain words.

Explanations are keyed on stop categories and on the numbers in the record, never on optimizer names (the raw
stop text is shown as recorded). The facts behind them are in the SimpleITK behaviour reference (§2, §3.4, §6).
"""

from __future__ import annotations

import math
import re
import shlex

from rich.console import Console

from regbench.console import make_console
from regbench.outcomes import MAX_FOLDING_FRACTION, MEANINGS, MIN_OVERLAP_FRACTION, STATUSES, succeeded
from regbench.record import Level, RunRecord
from regbench.report.anytime import RELATIVE_TARGETS, first_hit, measure_of, trace_best
from regbench.report.runview import fmt, fmt_share, level_table, markup_safe, ran_no_iteration
from regbench.stops import NO_OVERLAP_VALUE

STOP_EXPLANATIONS = {
    "converged": "The optimizer's own convergence test passed (its metric stopped decreasing over a window, or a "
    "gradient or relative-decrease criterion was met). A convergence test can also pass while the metric rises "
    "or sits at the no-overlap value, so read the outcome and the dense metric too.",
    "max_iterations": "A level used its whole iteration budget. The optimizer was still moving when it was "
    "stopped, so more iterations could have improved the result.",
    "line_search": "A line search could not find a step that decreased the metric enough. When it ended on a "
    "rounding error this is usually a successful stop near the optimum: the metric cannot be decreased further "
    "at machine precision, or the image gradient is slightly inconsistent with the metric. Judge it by the "
    "error and the dense metric, not by the text.",
    "step_too_small": "The step length shrank below its minimum (the direction kept reversing): usually a normal "
    "stop close to an optimum.",
    "gradient_tolerance": "The gradient became smaller than its tolerance: a normal stop at a stationary point.",
    "max_evaluations": "The budget of metric evaluations was used up before any convergence test passed.",
    "user_stop": "The run was stopped from outside the optimizer (a callback asked it to stop).",
    "invalid_parameter": "The optimizer rejected a parameter value before or while running: check the params.",
    "error": "The optimizer or SimpleITK raised an error: see the error message.",
    "unknown": "The stop text is not one regbench knows; it is kept verbatim above and counted as unknown.",
}
# Failure outcomes: the vocabulary's own meanings (regbench.outcomes), as sentences.
OUTCOME_EXPLANATIONS = {name: meaning[0].upper() + meaning[1:] + "." for name, meaning in MEANINGS.items()}
FLAG_EXPLANATIONS = {
    **MEANINGS,
    "folding": "some voxels fold (Jacobian determinant ≤ 0)",
    "nondeterministic": "this setup is not bit-reproducible: the same key can give another record",
}
# Runs without an execution record (every status but ok): the vocabulary's meaning of the status, and what to
# try next where there is something to try (the record's error holds the details).
_STATUS_ADVICE = {
    "timeout": ": it was still going when the limit ran out (a longer --timeout, or fewer iterations, shows how "
    "it ends)",
    "memory": " (a larger --max-memory, or a smaller problem, shows how it ends)",
}
STATUS_EXPLANATIONS = {
    status: MEANINGS[status] + _STATUS_ADVICE.get(status, "") for status in STATUSES if status != "ok"
}
REL_TOL = 1e-9
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


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
        if trace.metric[i] is not None:
            return trace.segment[i], trace.level[i], trace.iteration[i], trace.metric[i]
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
    if record.best_visited_metric_dense is not None and record.regret_metric_dense is not None:
        error = ""
        if record.regret_error_mean is not None:
            error = (
                f"; error {fmt(record.error_mean)} returned vs {fmt(record.best_visited_error_mean)} at the best "
                f"visited (regret {fmt(record.regret_error_mean, 3)})"
            )
        compared = (
            f"the best position visited at the last level, re-evaluated densely after the run, has dense metric "
            f"{fmt(record.best_visited_metric_dense)} against {fmt(record.final_metric_dense)} returned "
            f"(regret {fmt(record.regret_metric_dense, 3)}){error}"
        )
        return ("Yes: " if record.returned_best else "No: ") + compared + "."
    if record.returned_best is True:
        return (
            "Yes: the returned transform is at least as good (dense metric) as every position visited on a "
            "full-resolution level."
        )
    if record.returned_best is False:
        visited = [lv.best_metric for lv in record.levels if lv.best_metric is not None and lv.is_dense]
        best = f" (a visited position reached {fmt(min(visited))})" if visited else ""
        return (
            "No: the optimizer returned its last position, which is worse than the best one it visited"
            f"{best}; the returned dense value is {fmt(record.final_metric_dense)}."
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
    best = trace_best(record)
    if best is not None and record.final_metric_dense is not None:
        where = f"execution {best.segment}, level {best.level}, iteration {best.iteration}"
        verdict = (
            "the returned transform is at least as good"
            if record.final_metric_dense <= best.dense_metric + 1e-6 * max(abs(best.dense_metric), 1e-12)
            else f"the returned transform ({fmt(record.final_metric_dense)}) is worse"
        )
        lines.append(
            f"best dense metric over every kept position of every level: {fmt(best.dense_metric)} at {where} "
            f"({fmt(best.time_s, 3)} s); {verdict}."
        )
    return lines


def reproducibility_text(record: RunRecord) -> str:
    """What the record's ``deterministic`` says about repeating it; never claims more than is known."""
    threads = f"{record.threads} ITK thread" + ("" if record.threads == 1 else "s")
    setting = f"seed {record.seed}, metric sampling seed {record.sampling_seed}, {threads}"
    if record.deterministic is True:
        return f"{setting}: same inputs, same threads and same software versions give the same record."
    if record.deterministic is False:
        return (
            f"{setting}: NOT reproducible bit for bit. This metric sums its joint histogram in thread order with "
            "more than one ITK thread, so the same key can give another record (iterations, error). "
            "`regbench run --repeat K` measures how much it moves; `--threads 1` makes it bit-identical."
        )
    return (
        f"{setting}: whether repeating this run gives the same record is not known for this metric and thread "
        "count (with one ITK thread it does)."
    )


def learning_rate_text(record: RunRecord) -> str:
    rates = [(lv.learning_rate_first, lv.learning_rate_last) for lv in record.levels if lv.iterations]
    known = [r for pair in rates for r in pair if r is not None]
    if not known or all(r == 0 for r in known):
        return "Not reported: this optimizer does not expose a learning rate (SimpleITK reads it as 0), or it has none."
    changed = any(a != b for a, b in rates if a is not None and b is not None)
    spans = ", ".join(f"{fmt(a, 3)} → {fmt(b, 3)}" for a, b in rates)
    tail = (
        " It changed within levels (a line search or a per-iteration estimate set it)."
        if changed
        else " It stayed constant within each level."
    )
    return f"Per level (first → last iteration): {spans}.{tail}"


def cap_text(record: RunRecord) -> str:
    if record.hit_iteration_limit and not record.iterations:
        return "Yes, at once: the iteration cap allowed no iteration, so the optimizer never moved."
    if record.hit_iteration_limit:
        return (
            "Yes: at least one level stopped on its iteration limit, so the optimizer was still moving and "
            "more iterations could have improved the result."
        )
    return "No: every level stopped for another reason before its iteration limit."


def status_text(record: RunRecord) -> str:
    """What happened to a run that has no execution record (timeout, crash, early error)."""
    what = STATUS_EXPLANATIONS.get(record.status, "the strategy returned without running an execution")
    detail = f" ({record.error})" if record.error else ""  # the worker's death signal, the time limit, ...
    return (
        f"{record.status}: {what}{detail}. The optimizer never reported how it stopped, so there is no stop text, "
        "no per-level record and no returned transform to judge."
    )


def reproduce_command(record: RunRecord) -> tuple[str, list[str]]:
    """The ``regbench run`` command that repeats the run, and what it needs that the record cannot say.

    From the provenance: a strategy or case whose plugin has no distribution came from a module given with
    ``--plugin``; a case with no plugin at all came from a user case file (``--cases``). The command runs in a
    worker process of its own, as every ``regbench run`` does, so a run that crashed or hung is recorded as
    ``crashed`` or ``timeout`` again instead of taking regbench down; a timed-out run keeps its time limit.
    """
    parts = ["regbench", "run", "-s", record.strategy, "-c", record.case, "--seed", str(record.seed)]
    needs: list[str] = []
    provenance = record.provenance or {}
    modules = []
    for kind in ("strategy", "case"):
        origin = provenance.get(kind)
        if not isinstance(origin, dict) or origin.get("distribution") or not origin.get("plugin"):
            continue
        module = str(origin["plugin"])
        if _MODULE_NAME.fullmatch(module):
            modules.append(module)
        else:
            needs.append(f"the {kind} comes from plugin {module!r}, registered in code: register it the same way")
    for module in dict.fromkeys(modules):
        parts += ["--plugin", module]
    case_origin = provenance.get("case", False)
    if isinstance(provenance.get("case_file"), str) and provenance["case_file"]:
        parts += ["--cases", provenance["case_file"]]  # relative to the directory the run was started in
    elif isinstance(case_origin, dict) and case_origin.get("file"):
        parts += ["--cases", str(case_origin["file"])]
    elif "case" in provenance and case_origin is None:
        parts += ["--cases", "FILE"]
        needs.append(
            f"FILE: the TOML case file that defines case {record.case!r} (a user case; the record does not keep "
            "the file's path)"
        )
    if record.threads:
        parts += ["--threads", str(record.threads)]
    limit = re.search(r"timeout of ([0-9.e+]+) s", record.error or "") if record.status == "timeout" else None
    if limit:
        parts += ["--timeout", limit.group(1)]
    for name, value in sorted(record.params.items()):
        parts += ["-p", f"{name}={value}"]
    return shlex.join(parts), needs


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


def print_explanation(record: RunRecord, console: Console | None = None) -> None:
    """Print the explanation; ``console`` defaults to the CLI's (wide when piped)."""
    if console is None:
        console = make_console()
    say = lambda text: console.print(markup_safe(text), highlight=False)  # noqa: E731  record text, not markup
    heading = lambda text: console.print(f"\n[bold]{text}[/bold]")  # noqa: E731
    say(f"run {record.key}: {record.strategy} on {record.case}, seed {record.seed}, status {record.status}")
    if record.error and record.segments:  # without segments the status text below quotes it
        say(f"error: {record.error}")
    if gradient_warning := (record.provenance or {}).get("gradient_warning"):
        console.print(markup_safe(f"warning: {gradient_warning}"), style="yellow", highlight=False)
    executed = any(segment.levels for segment in record.segments)
    if executed:
        from regbench.report.tables import fit_table  # here: tables loads the statistics (scipy)

        console.print(fit_table(level_table(record), console.width))  # numbers whole at any width

    heading("Why it stopped")
    if not record.segments:
        say(status_text(record))
    else:
        say(f"stop text: {record.stop_condition or '(none)'}")
        category = record.stop_category or "unknown"
        explanation = STOP_EXPLANATIONS.get(category, "")
        if category == "max_iterations" and ran_no_iteration(record):
            explanation = "The iteration cap allowed no iteration at the last level: the optimizer never moved there."
        say(f"stop category: {record.stop_category}. {explanation}")
        if record.rounding_failure:
            say(
                "rounding failure: yes. The line search ended on a rounding error; this is usually a successful "
                "stop, so judge the run by its error and dense metric."
            )
    verdict = "succeeded" if succeeded(record) else "failed"
    say(f"outcome: {record.outcome} ({verdict}). {OUTCOME_EXPLANATIONS.get(record.outcome or '', '')}".rstrip())
    others = [flag for flag in record.flags if flag != record.outcome]
    if others:
        say("also: " + "; ".join(f"{flag}: {FLAG_EXPLANATIONS.get(flag, flag)}" for flag in others) + ".")
    if executed:
        say(f"iteration cap hit: {cap_text(record)}")
    if not record.segments:  # no execution: no metric, no transform, nothing more to explain
        _print_tail(record, say, heading)
        return

    heading("The final metric")
    say(reported_vs_last_iteration(record))
    say(reported_vs_dense(record))
    say(f"dense metric, initial → final: {fmt(record.initial_metric_dense)} → {fmt(record.final_metric_dense)}")
    say(f"returned transform is the best visited: {returned_best_text(record)}")
    if record.error_mean is not None:
        say(
            f"error against the truth, mean: {fmt(record.initial_error_mean)} → {fmt(record.error_mean)} "
            f"(p95 {fmt(record.error_p95)}, max {fmt(record.error_max)}; physical units)"
        )
    if record.error_mean_fg is not None:
        say(f"error over the foreground, mean: {fmt(record.initial_error_mean_fg)} → {fmt(record.error_mean_fg)}")
    if tre := tre_text(record):
        say(tre)
    if overlap := overlap_text(record):
        say(overlap)
    if folding := folding_text(record):
        say(folding)
    for line in anytime_lines(record):
        say(line)

    if executed:
        heading("Learning rate")
        say(learning_rate_text(record))
    _print_tail(record, say, heading)


def _print_tail(record: RunRecord, say, heading) -> None:
    heading("Reproducing it")
    say(reproducibility_text(record))
    if record.versions:
        say("versions: " + ", ".join(f"{k} {v}" for k, v in record.versions.items()))
    command, needs = reproduce_command(record)
    say(f"command: {command}")
    for need in needs:
        say(f"  needs {need}")
    say(f"time: {fmt(record.wall_time_s, 3)} s wall, {fmt(record.cpu_time_s, 3)} s CPU")
    for note in record.notes:
        if not note.startswith(("traceback:", "returned_best unknown")):
            say(f"note: {note}")
