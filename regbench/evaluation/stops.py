"""The stop vocabulary (categories) and SimpleITK's no-overlap signals.

Which optimizer text means which category is optimizer knowledge and lives in the built-in plugin
``regbench_plugins.stop_texts`` (through the ``regbench_classify_stop`` hook). An unknown text is never guessed:
it is ``unknown`` and kept verbatim in the record.
"""

from __future__ import annotations

import re

CATEGORIES = (
    "converged",
    "max_iterations",
    "line_search",
    "step_too_small",
    "gradient_tolerance",
    "max_evaluations",
    "user_stop",
    "invalid_parameter",
    "error",
    "unknown",
)

# SimpleITK's metric value when no sample point maps inside the moving image (DBL_MAX).
NO_OVERLAP_VALUE = 1.0e308
# Mattes MI raises instead of returning DBL_MAX when the images no longer overlap (reference §2).
NO_OVERLAP_ERRORS = ("All samples map outside moving image buffer",)

ROUNDING_PATTERNS = (
    re.compile(r"A rounding error occurred"),
    re.compile(r"LBFGSBOptimizerv4: Abnormal termination in line search"),
    re.compile(r"Wolfe conditions are not satisfied"),  # elastix's QuasiNewtonLBFGS: its line search's end
)


def is_rounding_failure(text: str) -> bool:
    """A line search that ended on a rounding error (LBFGS2's and LBFGSB's wording, elastix's Wolfe stop)."""
    return any(p.match(text or "") for p in ROUNDING_PATTERNS)


def is_no_overlap(value: float | None) -> bool:
    """The metric value SimpleITK gives when no sample maps inside the moving image (DBL_MAX)."""
    return value is not None and value >= NO_OVERLAP_VALUE


def is_no_overlap_error(text: str | None) -> bool:
    """The exception Mattes MI raises where the other metrics return DBL_MAX."""
    return text is not None and any(marker in text for marker in NO_OVERLAP_ERRORS)
