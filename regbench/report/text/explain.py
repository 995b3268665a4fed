"""``regbench show RUN``: one run explained in plain words. This module prints the explanation and says why the
run stopped (stop category, outcome, status); the final metric is explained in
:mod:`regbench.report.text.explain_metric`, repeating the run in :mod:`regbench.report.text.explain_reproduce`.

Explanations are keyed on stop categories and on the numbers in the record, never on optimizer names (the raw
stop text is shown as recorded). The facts behind them are in the SimpleITK behaviour reference (§2, §3.4, §6).
"""

from __future__ import annotations

from rich.console import Console

from regbench.evaluation.outcomes import MEANINGS, STATUSES
from regbench.record import RunRecord
from regbench.report.text.explain_metric import (
    anytime_lines,
    folding_text,
    label_text,
    overlap_text,
    reported_vs_dense,
    reported_vs_last_iteration,
    returned_best_text,
    tre_text,
)
from regbench.report.text.explain_reproduce import reproduce_command, reproducibility_text
from regbench.report.text.one_run import (
    TRACEBACK_NOTE,
    as_text,
    clipped,
    fmt,
    host_lines,
    level_table,
    markup_safe,
    ran_no_iteration,
    traceback_tail,
)
from regbench.report.text.verdict_words import (
    last_level_stalled,
    missed,
    registered_text,
    stalled_levels,
    stalled_text,
    verdict_words,
)
from regbench.util.console import make_console

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
#: The stops whose explanation above calls them a success near the optimum, as said of a run known not to have
#: registered (:func:`regbench.report.text.verdict_words.missed`): the words follow the run's numbers.
MISSED_STOP_EXPLANATIONS = {
    "line_search": "A line search could not find a step that decreased the metric enough.",
    "step_too_small": "The step length shrank below its minimum (the direction kept reversing).",
    "gradient_tolerance": "The gradient became smaller than its tolerance: a stationary point of the metric.",
}
MISSED_STOP = " This run did not register (below), so this was not a stop near the right answer."
# Failure outcomes: the vocabulary's own meanings (regbench.evaluation.outcomes), as sentences.
OUTCOME_EXPLANATIONS = {name: meaning[0].upper() + meaning[1:] + "." for name, meaning in MEANINGS.items()}
FLAG_EXPLANATIONS = {
    **MEANINGS,
    "not_registered": "it improved, but its error ended beyond the case's tolerance",
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


def stop_explanation(record: RunRecord) -> str:
    """What the stop category means for this run: a stop is called a success only where the run is not known to
    have missed its tolerance, and "still moving" only where the capped level's metric moved."""
    category = record.stop_category or "unknown"
    if category == "max_iterations" and ran_no_iteration(record):
        return "The iteration cap allowed no iteration at the last level: the optimizer never moved there."
    if category == "max_iterations" and last_level_stalled(record):
        return (
            "The last level used its whole iteration budget without accepting a single step (its metric never "
            "changed): the optimizer was not moving, so more iterations of the same search are unlikely to help."
        )
    if missed(record) and category in MISSED_STOP_EXPLANATIONS:
        return MISSED_STOP_EXPLANATIONS[category] + MISSED_STOP
    return STOP_EXPLANATIONS.get(category, "")


def cap_text(record: RunRecord) -> str:
    if record.hit_iteration_limit and not record.iterations:
        return "Yes, at once: the iteration cap allowed no iteration, so the optimizer never moved."
    if record.hit_iteration_limit and stalled_levels(record):
        return f"Yes: at least one level stopped on its iteration limit; {stalled_text(record)}."
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


def print_explanation(record: RunRecord, console: Console | None = None) -> None:
    """Print the explanation; ``console`` defaults to the CLI's (wide when piped)."""
    if console is None:
        console = make_console()
    # record text, not markup; cut: a plugin's note or error can be megabytes
    hint = f"`regbench show {record.key or 'RUN'} --json` prints all of it"
    say = lambda text: console.print(markup_safe(clipped(text, hint)), highlight=False)  # noqa: E731
    heading = lambda text: console.print(f"\n[bold]{text}[/bold]")  # noqa: E731
    say(f"run {record.key}: {record.strategy} on {record.case}, seed {record.seed}, status {record.status}")
    if record.error and record.segments:  # without segments the status text below quotes it
        say(f"error: {record.error}")
    if gradient_warning := (record.provenance or {}).get("gradient_warning"):
        console.print(markup_safe(f"warning: {gradient_warning}"), style="yellow", highlight=False)
    executed = any(segment.levels for segment in record.segments)
    if executed:
        from regbench.report.text.tables import fit_table  # here: tables loads the statistics (scipy)

        console.print(fit_table(level_table(record), console.width))  # numbers whole at any width

    heading("Why it stopped")
    if not record.segments:
        say(status_text(record))
    else:
        say(f"stop text: {record.stop_condition or '(none)'}")
        say(f"stop category: {record.stop_category}. {stop_explanation(record)}")
        if record.rounding_failure and missed(record):
            say("rounding failure: yes. The line search ended on a rounding error, and here not at the answer.")
        elif record.rounding_failure:
            say(
                "rounding failure: yes. The line search ended on a rounding error; this is usually a successful "
                "stop, so judge the run by its error and dense metric."
            )
    outcome = (
        f"outcome: {record.outcome} ({verdict_words(record)}). {OUTCOME_EXPLANATIONS.get(record.outcome or '', '')}"
    )
    say(outcome.rstrip())
    say(f"registered: {registered_text(record)}")
    # not_registered is the line above
    others = [flag for flag in record.flags if flag not in (record.outcome, "not_registered")]
    if others:
        say("also: " + "; ".join(f"{flag}: {FLAG_EXPLANATIONS.get(flag, flag)}" for flag in others) + ".")
    if executed:
        say(f"iteration cap hit: {cap_text(record)}")
    if not record.segments:  # no execution: no metric, no transform, nothing more to explain
        _print_tail(record, say, heading, console)
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
    if labels := label_text(record):
        say(labels)
    if overlap := overlap_text(record):
        say(overlap)
    if folding := folding_text(record):
        say(folding)
    for line in anytime_lines(record):
        say(line)

    if executed:
        heading("Learning rate")
        say(learning_rate_text(record))
    _print_tail(record, say, heading, console)


def _print_tail(record: RunRecord, say, heading, console: Console) -> None:
    heading("Reproducing it")
    say(reproducibility_text(record))
    if record.versions:
        say("versions: " + ", ".join(f"{k} {v}" for k, v in record.versions.items()))
    command, needs = reproduce_command(record)
    say(f"command: {command}")
    for need in needs:
        say(f"  needs {need}")
    say(f"time: {fmt(record.wall_time_s, 3)} s wall, {fmt(record.cpu_time_s, 3)} s CPU")
    for label, text in host_lines(record.host):
        say(f"{label}: {text}")
    for note in record.notes:
        if not note.startswith((TRACEBACK_NOTE, "returned_best unknown")):
            say(f"note: {note}")
    if (trace := traceback_tail(record, f"`regbench show {record.key or 'RUN'} --json` prints all of it")) is not None:
        heading("Where it raised")  # what a plugin author needs of an error run
        console.print(as_text(trace), highlight=False, soft_wrap=True)  # not wrapped: as Python printed it
