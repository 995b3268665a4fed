"""The rich console every printed table goes to, for the CLI and the report modules alike.

Low in the layering (it imports only rich) so that :mod:`regbench.report` can print without importing
:mod:`regbench.cli`, which sits above it.
"""

from __future__ import annotations

import os

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    """A rich console; when output goes to a file or pipe (CI logs, `> out.txt`), wide enough that tables
    keep their columns instead of folding to rich's default 80."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=160)
    return console
