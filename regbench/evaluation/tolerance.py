"""When is a run *registered*: the one tolerance rule, used by every record and by ``recommend``.

A run is registered when its error against the truth (or the landmark TRE) ends within the tolerance of its case:

    tolerance = min(half the finest voxel spacing, REGISTERED_SHARE × the starting error)

Half a voxel alone is not enough: where the start is already close (a 1.7 mm start on 4 mm voxels), half a voxel
(2 mm) would call doing nothing "registered". Capping it by a share of the starting error ties it to the problem
as well as the image, so a run must always remove most of its starting error to register, and doing nothing can
never meet it (for any start above zero). A run that removed less than :data:`NO_PROGRESS_SHARE` of its starting
error made no progress at all (the ``no_progress`` outcome, :mod:`regbench.evaluation.outcomes`). docs/concepts.md
states both rules for users.

This module imports nothing from regbench (a leaf): the record's verdict and the recommendation share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: A run is registered only when its error ended at or below this share of its starting error (and within half
#: the finest voxel spacing): it removed at least three quarters of what it started with.
REGISTERED_SHARE = 0.25

#: The share of the finest voxel spacing within which a run is registered (half a voxel), where the start allows.
SPACING_SHARE = 0.5

#: A run whose error fell by less than this share of its start made no progress (``no_progress``): for labels,
#: a mean Dice that gained less than this share of (1 − the starting Dice).
NO_PROGRESS_SHARE = 0.10

_SHARE_WORDS = {0.5: "half", 0.25: "a quarter", 0.2: "a fifth", 0.1: "a tenth"}


def share_words(share: float) -> str:
    """A share in words: "half", "a quarter", else "0.3 ×"."""
    return _SHARE_WORDS.get(share, f"{share:g} ×")


#: The rule in words, for captions and ``show``.
RULE = (
    f"the smaller of {share_words(SPACING_SHARE)} the finest voxel spacing and {share_words(REGISTERED_SHARE)} of "
    "the starting error"
)


def registration_tolerance(spacing: Sequence[float] | None, initial_error: float | None) -> tuple[float, str]:
    """(tolerance, the rule that set it): the smaller of :data:`SPACING_SHARE` of the finest spacing and
    :data:`REGISTERED_SHARE` of the starting error, in the case's physical units.

    Either may be unknown (None): the other decides alone. A start of no error (0) has nothing to register, so
    the spacing decides. Raises ``ValueError`` when neither is known.
    """
    rules: list[tuple[float, str]] = []
    if spacing:
        finest = min(float(s) for s in spacing)
        if not (math.isfinite(finest) and finest > 0):
            raise ValueError(f"voxel spacing must be positive and finite, got {list(spacing)}")
        rules.append((SPACING_SHARE * finest, f"{share_words(SPACING_SHARE)} the finest spacing {finest:g}"))
    if initial_error is not None and math.isfinite(initial_error) and initial_error > 0:
        start = float(initial_error)
        rules.append((REGISTERED_SHARE * start, f"{share_words(REGISTERED_SHARE)} of the starting error {start:.4g}"))
    if not rules:
        raise ValueError("a tolerance needs the voxel spacing or a starting error above 0")
    return min(rules, key=lambda rule: rule[0])


def made_progress(initial_error: float, final_error: float) -> bool:
    """Whether the error fell by at least :data:`NO_PROGRESS_SHARE` of its start (a start of 0 has nothing to
    remove: always true)."""
    return initial_error <= 0 or final_error <= initial_error * (1.0 - NO_PROGRESS_SHARE)
