"""The words of a run's verdict that must follow its own numbers, for ``show``, ``regbench run`` and run pages.

- Whether it registered: the error its evidence measures against the case's tolerance, with the value and the
  rule that set it (:mod:`regbench.evaluation.tolerance`); "succeeded" is never said, the verdict is one of
  :data:`regbench.evaluation.outcomes.VERDICTS`.
- What a stop may be said to mean: "a stop near the optimum" only of a run not known to have missed its
  tolerance; "still moving" only of a level whose metric moved (a (1+1) search that accepted no step in 400
  iterations was not moving).
"""

from __future__ import annotations

from regbench.evaluation.outcomes import Evidence, verdict
from regbench.record import Level, RunRecord

#: What each evidence of registration measures, in words.
EVIDENCE_WORDS = {
    "truth_fg": "foreground mean error",
    "truth": "mean error",
    "landmarks": "mean landmark TRE",
    "labels": "label Dice",
}


def _num(value: float) -> str:
    return f"{value:.4g}"


def tolerance_words(record: RunRecord) -> str | None:
    """ "tolerance 0.5 (half the finest spacing 1)": the record's tolerance and the rule that set it (None where
    the record has none)."""
    if record.tolerance is None:
        return None
    evidence = Evidence.of(record)
    rule = evidence.tolerance_rule if evidence.tolerance == record.tolerance else None
    return f"tolerance {_num(record.tolerance)}" + (f" ({rule})" if rule else "")


def verdict_words(record: RunRecord) -> str:
    """The run's verdict in words: "failed", "registered", "finished without a failure, but not registered",
    "finished without a failure; registration not judged"."""
    words = {
        "failed": "failed",
        "registered": "registered",
        "not registered": "finished without a failure, but not registered",
        "not judged": "finished without a failure; registration not judged",
    }
    return words[verdict(record)]


def registered_text(record: RunRecord) -> str:
    """Whether the run registered, with its numbers, its tolerance and the rule: the sentence ``show`` prints
    beside the outcome."""
    evidence = Evidence.of(record)
    what = EVIDENCE_WORDS.get(record.accuracy or "", "error")
    tolerance = tolerance_words(record)
    if record.registered is not None and evidence.final_error is not None and tolerance:
        start, end = evidence.initial_error, evidence.final_error
        moved = f"{_num(start)} → {_num(end)}" if start is not None else _num(end)
        if record.registered:
            return f"yes: {what} {moved} (physical units), within the {tolerance}."
        target = "the landmarks" if record.accuracy == "landmarks" else "the truth"
        return (
            f"no: it stopped {_num(end)} from {target} ({what} {moved}, physical units), beyond the {tolerance}: it "
            "did not register."
        )
    if record.accuracy == "labels":
        return (
            "not judged: label overlap has no tolerance in physical units (its progress is judged: no_progress when "
            "the Dice barely moved)."
        )
    if record.status != "ok":
        return "not judged: the run returned no transform."
    return "not judged: the case has no truth or landmarks to measure the error against."


def missed(record: RunRecord) -> bool:
    """The run is known not to have registered: no word may call its stop a success."""
    return record.registered is False


def stalled(level: Level) -> bool:
    """The level ran iterations but its metric never changed (first = best = last): the optimizer accepted no
    step there, so it was not moving (e.g. a (1+1) evolution whose every child was worse)."""
    return (
        level.iterations > 1
        and level.first_metric is not None
        and level.first_metric == level.best_metric == level.last_metric
    )


def stalled_levels(record: RunRecord) -> list[Level]:
    """The levels of the kept executions that accepted no step (:func:`stalled`)."""
    return [level for segment in record.segments if not segment.rejected for level in segment.levels if stalled(level)]


def last_level_stalled(record: RunRecord) -> bool:
    """The last level of the kept executions (the one the stop text speaks of) accepted no step."""
    kept = [segment for segment in record.segments if segment.levels and not segment.rejected]
    return bool(kept) and stalled(kept[-1].levels[-1])


def stalled_text(record: RunRecord) -> str:
    """Which levels accepted no step, in words ("" when every level moved)."""
    levels = stalled_levels(record)
    if not levels:
        return ""
    which = ", ".join(f"level {level.index} ({level.iterations} iterations)" for level in levels)
    return (
        f"{which} accepted no step: the metric never changed from its first value, so the optimizer was not moving "
        "there, and more iterations of the same search are unlikely to help"
    )
