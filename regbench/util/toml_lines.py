"""TOML text: read from a file (:func:`read_toml_text`), and where a key is in it, as ``file:line`` for messages:
tomllib reports lines only for syntax errors, so a message about a bad value finds its key's line itself. Run
files and case files share this one reader and finder.

A line-based search, not a TOML parser: it finds ``key = ...`` (the key bare or quoted) and the table header
``[key]`` or ``[parent.key]`` at the start of a line, which is how every file regbench documents is written.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

#: The top-level keys of a run file (:mod:`regbench.runner.settings`), here below both readers: the case-file loader
#: recognises a run file given in a case file's place by them.
RUN_FILE_KEYS = (
    "strategies",
    "cases",
    "case_files",
    "seeds",
    "seed",
    "repeat",
    "params",
    "plugins",
    "workers",
    "threads",
    "timeout",
    "store",
    "executor",
    "scheduler",
    "race",
    "race_alpha",
    "cluster",
)


def read_toml_text(path: Path) -> str:
    """The UTF-8 text of a TOML file, without the byte-order mark Windows editors put first (``tomllib`` calls it
    an "Invalid statement"). OSError as ``read_text``; UnicodeDecodeError with ``start`` a byte offset in the file,
    for the caller's ``file:line``."""
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnicodeDecodeError(exc.encoding, data, exc.start + skip, exc.end + skip, exc.reason) from None


class TomlLines:
    """The lines of one TOML file, numbered from 0; :meth:`at` turns a number into ``file:line`` (from 1)."""

    def __init__(self, path: Path | str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def matching(self, pattern: re.Pattern[str]) -> list[int]:
        """The lines matching ``pattern`` (with ``re.match``: from the line's start)."""
        return [i for i, line in enumerate(self.lines) if pattern.match(line)]

    def key(self, key: str, start: int = 0, end: int | None = None) -> int | None:
        """The first line in ``[start, end)`` assigning ``key`` or opening its table; None when there is none."""
        name = rf"""["']?{re.escape(key)}["']?"""
        pattern = re.compile(rf"^\s*(\[\s*(?:[\w-]+\.)*{name}\s*\]|{name}\s*=)")
        end = len(self.lines) if end is None else end
        return next((i for i in range(start, end) if pattern.match(self.lines[i])), None)

    def holding(self, needle: str, start: int) -> int | None:
        """The first line from ``start`` on whose text holds ``needle`` (an item of a multi-line value)."""
        return next((i for i in range(start, len(self.lines)) if needle in self.lines[i]), None)

    def at(self, line: int | None) -> str:
        """``file:line``, or the bare file when the line is not known."""
        return str(self.path) if line is None else f"{self.path}:{line + 1}"
