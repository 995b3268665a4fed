"""Choosing names by glob pattern: the one selection rule that ``regbench run``, ``regbench export``,
``regbench list`` and the pytest benchmarks share.

It imports nothing from regbench, so that a module which only needs to pick names (an export of stored
records) does not load the plan and its isolation stack.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence


class MatrixError(ValueError):
    """The selection is unusable (a usage error). Defined here, with the selection rule that raises it first;
    :mod:`regbench.runner.matrix` re-exports it for the plan's own problems."""


def split_patterns(values: Iterable[str]) -> list[str]:
    """Patterns from repeated options and comma-separated lists alike: ``-s a,b -s c`` is a, b, c."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def select(names: Iterable[str], patterns: Sequence[str], kind: str, none: str = "(none registered)") -> list[str]:
    """Names matching any pattern, in ``names`` order; a pattern that matches nothing is an error listing
    the names (or ``none`` when there are none)."""
    names = list(names)
    chosen: dict[str, None] = {}
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            # a case file given as a case name (`-c run.toml`, `cases = ["run.toml"]`): say where files go
            hint = (
                f" ({pattern!r} is a file name: give a case file with --cases FILE, or case_files = [...] in a run "
                "file)"
                if kind == "case" and pattern.lower().endswith(".toml")
                else ""
            )
            raise MatrixError(f"no {kind} matches {pattern!r}{hint}; valid: {', '.join(names) or none}")
        chosen.update(dict.fromkeys(matched))
    return list(chosen)
