"""The one vocabulary of run results: status (did the run execute?) and outcome (did it succeed?).

Every table, the progress bar, ``show``, figures and ``compare`` gates count with these definitions, so they
always count the same thing:

- **status** says whether the run *executed* to a returned transform: ``ok``, or ``error`` (Execute or the
  strategy raised), ``crashed`` (the worker process died), ``timeout``.
- **outcome** is judged from all the evidence (:func:`regbench.stops.judge_outcome`, precedence in its
  docstring): a failure outcome (:data:`FAILURE_OUTCOMES`) or a stop category (``converged``,
  ``max_iterations``, ``line_search``, ...). A run *succeeded* when its outcome is not a failure.

The thresholds below turn measures into failures; docs/concepts.md states them for users.
"""

from __future__ import annotations

from typing import Any

#: Statuses: whether the run executed.
STATUSES = ("ok", "error", "crashed", "timeout")

#: Outcomes that are failures, in the precedence :func:`regbench.stops.judge_outcome` applies them.
FAILURE_OUTCOMES = (
    "error",
    "crashed",
    "timeout",
    "no_overlap",
    "worse_than_start",
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
    "no_overlap": (
        "the returned transform maps (almost) no fixed-image sample inside the moving image: "
        f"under {MIN_OVERLAP_FRACTION:.0%} overlap, or SimpleITK's no-valid-points value"
    ),
    "worse_than_start": "the error against the truth is larger than at the start, whatever the stop text says",
    "folded": f"more than {MAX_FOLDING_FRACTION:.0%} of voxels fold (Jacobian determinant ≤ 0)",
    "diverged": "the dense metric ended worse than it started",
    "invalid_parameter": "the optimizer refused its parameters",
}


def is_failure(outcome: str | None) -> bool:
    """Whether an outcome is a failure (no outcome at all counts as one: the run left no result)."""
    return outcome is None or outcome in FAILURE_OUTCOMES


def succeeded(record: Any) -> bool:
    """Whether a run (a :class:`~regbench.record.RunRecord` or a summary dict) succeeded."""
    outcome = record.get("outcome") if isinstance(record, dict) else record.outcome
    return not is_failure(outcome)


def executed(record: Any) -> bool:
    """Whether a run executed to a returned transform (status ``ok``), whatever its outcome."""
    status = record.get("status") if isinstance(record, dict) else record.status
    return status == "ok"
