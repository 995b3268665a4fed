"""The rich console every printed table goes to, for the CLI and the report modules alike, and how text from data
reaches it: shown, never obeyed (:func:`visible`, :func:`markup_safe`).

Low in the layering (it imports only rich) so that :mod:`regbench.report` can print without importing
:mod:`regbench.cli`, which sits above it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rich.console import Console
from rich.markup import escape


def make_console(stderr: bool = False) -> Console:
    """A rich console; when output goes to a file or pipe (CI logs, `> out.txt`), wide enough that tables
    keep their columns instead of folding to rich's default 80."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=160)
    return console


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: Any) -> str:
    """``value`` as text with control characters (terminal escapes, carriage returns) shown, not obeyed."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def markup_safe(value: Any) -> str:
    """``value`` as text to put inside a rich markup string: markup escaped, control characters shown."""
    return escape(visible(value))
