"""Settings read from environment variables, checked where they are read. Imports nothing of regbench."""

from __future__ import annotations

import math
import os


class EnvVarError(ValueError):
    """An environment variable holds a value regbench cannot use; the message names the variable and the value.
    The command line reports it as a usage error (exit 2)."""


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
        raise EnvVarError(
            f"environment variable {name}={text!r}: expected a number of seconds > 0 (default {default:g})"
        )
    return value


def appendable_file(name: str, path: str, other: str) -> str:
    """``path`` (the value of ``$name``) once a file there can be opened for appending (creating it); otherwise
    EnvVarError naming the variable, the path and why, and ``other`` (what else the variable accepts)."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        reason = "it is a directory" if os.path.isdir(path) else (exc.strerror or type(exc).__name__).lower()
        raise EnvVarError(
            f"environment variable {name}={path!r}: cannot append to that file ({reason}); "
            f"give a file in an existing directory, or {other}"
        ) from exc
    return path
