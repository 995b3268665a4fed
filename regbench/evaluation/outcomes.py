"""The one vocabulary of run results: status (did the run execute?), outcome (did it fail?) and accuracy (did it
register?).

Every table, the progress bar, ``show``, figures and ``compare`` gates count with these definitions, so they
always count the same thing:

- **status** says whether the run *executed* to a returned transform: ``ok``, or ``error`` (Execute or the
  strategy raised), ``crashed`` (the worker process died), ``timeout``, ``memory`` (ran out of memory).
- **outcome** is judged from all the evidence (:func:`judge`, precedence in its docstring): a failure outcome
  (:data:`FAILURE_OUTCOMES`) or a stop category (``converged``, ``max_iterations``, ``line_search``, ...). A run
  *finished without a failure* (:func:`succeeded`) when its outcome is not a failure.
- **registered** is judged apart from the stop (:attr:`Evidence.registered`): whether the error against the
  truth (or the landmark TRE) ended within the tolerance of :mod:`regbench.evaluation.tolerance`; None where there is no
  such evidence. A run is counted as one :data:`VERDICTS` (:func:`verdict`): nothing that did not register is called
  a success.

The thresholds below turn measures into failures; docs/concepts.md states them for users.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from regbench.evaluation.stops import is_no_overlap, is_no_overlap_error
from regbench.evaluation.tolerance import NO_PROGRESS_SHARE, made_progress, registration_tolerance

#: Statuses: whether the run executed.
STATUSES = ("ok", "error", "crashed", "timeout", "memory")

#: Outcomes that are failures, in the precedence :func:`judge` applies them.
FAILURE_OUTCOMES = (
    "error",
    "crashed",
    "timeout",
    "memory",
    "no_overlap",
    "worse_than_start",
    "no_progress",
    "folded",
    "diverged",
    "invalid_parameter",
)

#: Below this share of fixed-image samples mapped inside the moving image the returned transform is judged
#: ``no_overlap``: the metric is then measured on a sliver of the images and says nothing about the alignment.
MIN_OVERLAP_FRACTION = 0.25

#: Above this share of folded voxels (Jacobian determinant ≤ 0) a deformable result is ``folded``: not a
#: plausible deformation, whatever the metric says. Any folding at all is flagged (``flags``) and shown.
MAX_FOLDING_FRACTION = 0.01

#: What each failure outcome means, in plain words (``show``, docs, captions).
MEANINGS = {
    "error": "the run raised before returning a transform",
    "crashed": "the worker process died (e.g. a segmentation fault in ITK)",
    "timeout": "the run took longer than its time limit and was stopped",
    "memory": (
        "the run needed more memory than its limit (regbench run --max-memory, or the process's own: ulimit -v) or "
        "the machine allows"
    ),
    "no_overlap": (
        "the returned transform maps (almost) no fixed-image sample inside the moving image: "
        f"under {MIN_OVERLAP_FRACTION:.0%} overlap, or SimpleITK's no-valid-points value"
    ),
    "worse_than_start": (
        "the error against the truth, the landmark TRE or the label Dice is worse than at the start, whatever the "
        "stop text says"
    ),
    "no_progress": (
        f"the error against the truth or the landmark TRE fell by less than {NO_PROGRESS_SHARE:.0%} of its start "
        f"(labels: the Dice gained less than {NO_PROGRESS_SHARE:.0%} of what it lacked): the run barely moved towards "
        "the answer"
    ),
    "folded": f"more than {MAX_FOLDING_FRACTION:.0%} of voxels fold (Jacobian determinant ≤ 0)",
    "diverged": "the dense metric ended worse than it started",
    "invalid_parameter": "the optimizer refused its parameters",
}


def is_failure(outcome: str | None) -> bool:
    """Whether an outcome is a failure (no outcome at all counts as one: the run left no result)."""
    return outcome is None or outcome in FAILURE_OUTCOMES


def succeeded(record: Any) -> bool:
    """Whether a run (a :class:`~regbench.record.RunRecord` or a summary dict) finished without a failure: its
    outcome is not a failure. Whether it *registered* is :func:`registered` (printed words never call a run that
    did not register a success: :func:`verdict`)."""
    outcome = record.get("outcome") if isinstance(record, dict) else record.outcome
    return not is_failure(outcome)


def registered(record: Any) -> bool | None:
    """The record's ``registered`` (True, False, or None where nothing judged it)."""
    value = record.get("registered") if isinstance(record, dict) else getattr(record, "registered", None)
    return None if value is None else bool(value)


#: How a run is counted wherever runs are counted (the progress bar, the end of ``regbench run``, the summary
#: table, ``show``): each run is exactly one (:func:`verdict`). ``not judged`` is a run that finished without a
#: failure with nothing to judge its registration by (no truth or landmarks; labels have no tolerance).
VERDICTS = ("registered", "not registered", "not judged", "failed")


def verdict(record: Any) -> str:
    """The run's one :data:`VERDICTS`: ``failed`` (a failure outcome, whatever its error), else ``registered`` or
    ``not registered``, else ``not judged``."""
    if not succeeded(record):
        return "failed"
    judged = registered(record)
    return "not judged" if judged is None else ("registered" if judged else "not registered")


def tally(records: Iterable[Any]) -> Counter[str]:
    """How many runs of each :data:`VERDICTS`."""
    return Counter(verdict(record) for record in records)


def tally_text(counts: Counter[str] | dict[str, int], markup: bool = False) -> str:
    """The count of each verdict some run has, and of ``failed`` always, in :data:`VERDICTS` order (rich colours
    with ``markup``): ``registered 5 · not registered 2 · failed 1``."""
    colours = {"registered": "green", "not registered": "yellow", "failed": "red"}
    parts = []
    for name in VERDICTS:
        n = counts.get(name, 0)
        if n or name == "failed":
            colour = colours.get(name) if markup else None
            parts.append(f"[{colour}]{name} {n}[/]" if colour else f"{name} {n}")
    return " · ".join(parts)


def executed(record: Any) -> bool:
    """Whether a run executed to a returned transform (status ``ok``), whatever its outcome."""
    status = record.get("status") if isinstance(record, dict) else record.status
    return status == "ok"


#: The error against the truth must exceed the start by more than this fraction of it to be worse than the
#: start (a run that starts at the truth and stays within 1% of it is not a failure).
WORSE_THAN_START_MARGIN = 0.01


@dataclass(frozen=True)
class Evidence:
    """What a verdict is judged from: the stop, the metric, and where known the truth, overlap and folding.

    ``initial_error`` / ``final_error`` are one error measure at the start and at the end: the foreground error
    where the case has one (the background of a deformable case carries no information), else the whole-domain
    error, else the landmark TRE, else 1 − the mean label Dice (so a Dice that fell is an error that grew).
    ``accuracy`` names it (``truth_fg``, ``truth``, ``landmarks``, ``labels``). ``tolerance`` is the case's
    tolerance for that error (:func:`regbench.evaluation.tolerance.registration_tolerance` of the fixed spacing and the
    starting error, physical units; None for labels, whose error has no physical tolerance) and
    ``tolerance_rule`` the rule that set it.
    """

    status: str
    stop_category: str | None = None
    message: str | None = None
    final_metric: float | None = None
    initial_metric_dense: float | None = None
    final_metric_dense: float | None = None
    initial_error: float | None = None
    final_error: float | None = None
    overlap_fraction: float | None = None
    folding_fraction: float | None = None
    accuracy: str | None = None
    tolerance: float | None = None
    tolerance_rule: str | None = None

    @property
    def registered(self) -> bool | None:
        """Whether the error ended within the tolerance (None: no tolerance or no final error)."""
        if self.tolerance is None or self.final_error is None:
            return None
        return bool(self.final_error <= self.tolerance)

    @classmethod
    def of(cls, record: Any) -> Evidence:
        pairs = (
            ("truth_fg", record.initial_error_mean_fg, record.error_mean_fg),
            ("truth", record.initial_error_mean, record.error_mean),
            ("landmarks", record.measures.get("initial_tre_mean"), record.measures.get("tre_mean")),
            ("labels", *_dice_error(record.initial_dice_mean, record.dice_mean)),
        )
        accuracy, initial, final = next(
            ((kind, a, b) for kind, a, b in pairs if a is not None and b is not None), (None, None, None)
        )
        tolerance, rule = None, None
        if accuracy in PHYSICAL_EVIDENCE:
            # no spacing and a start of no error: nothing to register, nothing to judge (ValueError)
            with suppress(ValueError):
                tolerance, rule = registration_tolerance(getattr(record, "fixed_spacing", None), initial)
        return cls(
            status=record.status,
            stop_category=record.stop_category,
            message=record.error,
            final_metric=record.final_metric,
            initial_metric_dense=record.initial_metric_dense,
            final_metric_dense=record.final_metric_dense,
            initial_error=initial,
            final_error=final,
            overlap_fraction=record.overlap_fraction,
            folding_fraction=record.folding_fraction,
            accuracy=accuracy,
            tolerance=tolerance,
            tolerance_rule=rule,
        )


#: The evidence whose error is a distance in physical units, so that a run is judged registered or not.
PHYSICAL_EVIDENCE = ("truth_fg", "truth", "landmarks")


def _dice_error(initial: float | None, final: float | None) -> tuple[float | None, float | None]:
    """(1 − initial Dice, 1 − final Dice): label overlap as an error pair, where both are known."""
    if initial is None or final is None:
        return None, None
    return 1.0 - initial, 1.0 - final


#: The dense-metric fields that hold None, not SimpleITK's no-overlap value (DBL_MAX), in a stored record.
NO_OVERLAP_FIELDS = ("initial_metric_dense", "final_metric_dense")


def clear_no_overlap_values(record: Any) -> None:
    """Set the :data:`NO_OVERLAP_FIELDS` that hold the no-overlap value to None: DBL_MAX is not a metric value, and
    statistics over it print numbers like 1.87e+305. Call after :func:`judge`, which reads it, so the outcome stays
    ``no_overlap`` (reports read that outcome, and ``show`` says "none (no overlap)")."""
    for name in NO_OVERLAP_FIELDS:
        if is_no_overlap(getattr(record, name)):
            setattr(record, name, None)


def judge(evidence: Evidence) -> tuple[str, list[str]]:
    """The outcome, and every flag that applies, from all the evidence. Precedence, first match wins:

    1. status ``error``/``crashed``/``timeout``: that status, except an ``error`` whose message is Mattes MI's
       no-overlap exception, which is ``no_overlap`` (the other metrics return DBL_MAX there and finish ``ok``);
    2. ``no_overlap``: the metric is SimpleITK's no-valid-points value (DBL_MAX), or under
       :data:`MIN_OVERLAP_FRACTION` of the fixed samples map inside the moving image;
    3. ``worse_than_start``: the error against the truth (else the landmark TRE, else 1 − the mean label Dice) grew
       by more than :data:`WORSE_THAN_START_MARGIN` of its start, whatever the stop text and the metric say;
    4. ``no_progress``: that error fell by less than :data:`~regbench.evaluation.tolerance.NO_PROGRESS_SHARE` of its
       start (for labels: the Dice gained less than that share of 1 − the starting Dice);
    5. ``folded``: more than :data:`MAX_FOLDING_FRACTION` of voxels fold;
    6. ``diverged``: the dense metric ended worse than it started (every built-in metric is minimised);
    7. otherwise the stop category (``converged``, ``line_search``, ...; ``invalid_parameter`` is a failure).

    Flags name every piece of evidence against the result, including those a higher-precedence outcome hides
    and any folding at all (``folding``), so a run can be ``line_search`` and still show ``folding``; a run that
    made progress but ended beyond its tolerance (:attr:`Evidence.registered` false) is flagged
    ``not_registered``: not a failure of the optimizer, but not a success either (:func:`verdict`).
    """
    e = evidence
    flags: list[str] = []
    if e.status != "ok":
        if e.status == "error" and is_no_overlap_error(e.message):
            return "no_overlap", ["no_overlap"]
        return e.status, []
    if (
        is_no_overlap(e.final_metric)
        or is_no_overlap(e.final_metric_dense)
        or (e.overlap_fraction is not None and e.overlap_fraction < MIN_OVERLAP_FRACTION)
    ):
        flags.append("no_overlap")
    if (
        e.initial_error is not None
        and e.final_error is not None
        and e.final_error > e.initial_error * (1 + WORSE_THAN_START_MARGIN) + 1e-12
    ):
        flags.append("worse_than_start")
    elif (
        e.initial_error is not None and e.final_error is not None and not made_progress(e.initial_error, e.final_error)
    ):
        flags.append("no_progress")
    elif e.registered is False:
        flags.append("not_registered")
    if e.folding_fraction is not None and e.folding_fraction > 0:
        flags.append("folded" if e.folding_fraction > MAX_FOLDING_FRACTION else "folding")
    if (
        e.initial_metric_dense is not None
        and e.final_metric_dense is not None
        and not is_no_overlap(e.final_metric_dense)
        and e.final_metric_dense > e.initial_metric_dense + 1e-12 * max(1.0, abs(e.initial_metric_dense))
    ):
        flags.append("diverged")
    failure = next((f for f in FAILURE_OUTCOMES if f in flags), None)
    if "folded" in flags:
        flags.append("folding")  # any folding is shown as such, failure or not
    return failure or e.stop_category or "unknown", flags


def judge_outcome(
    status: str,
    stop_category: str | None,
    final_metric: float | None,
    initial_metric_dense: float | None,
    final_metric_dense: float | None,
    error: str | None = None,
) -> str:
    """The outcome from the stop and the metric alone (no truth, overlap or folding known): see
    :func:`judge` for the whole rule, which ``run_one`` applies to every record."""
    evidence = Evidence(status, stop_category, error, final_metric, initial_metric_dense, final_metric_dense)
    return judge(evidence)[0]
