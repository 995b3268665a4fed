"""Settings read from environment variables, checked where they are read. Imports nothing of regbench."""

from __future__ import annotations

import math
import os


def seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds from ``$name`` (``default`` when unset or empty); anything else
    raises ValueError naming the variable and what it holds."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"environment variable {name}={text!r}: expected a number of seconds > 0 (default {default:g})"
        )
    return value
