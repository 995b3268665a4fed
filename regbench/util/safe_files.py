"""Input files checked before they are read: a FIFO, a socket or a device would block or never end, a symlink
loop raises deep inside ``pathlib``; and text nested so deeply that Python's recursive parsers overflow. Each
becomes a plain sentence for the caller's usage error. Imports nothing of regbench.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a regular file that can be read to its end (``"not found"``, ``"is a symlink loop"``,
    ``"is a FIFO (named pipe), not a regular file"``, ...), or None when it is one. Checked with ``stat`` only:
    opening a FIFO blocks until a writer comes."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop (a link that leads back to itself)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory"
    for test, kind in _KINDS:
        if test(mode):
            return f"is {kind}, not a regular file"
    return None


def resolved(path: Path) -> Path:
    """``path`` made absolute with its links resolved; a symlink loop is left unresolved (``Path.resolve``
    raises on one) so that :func:`file_problem` names it where the file is read."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def parse_nested(parse: Callable[[str], T], text: str, what: str) -> T:
    """``parse(text)``, with a document nested too deeply for Python's recursive parsers (``json``,
    ``tomllib``) raised as a ``ValueError`` naming ``what`` instead of a ``RecursionError``."""
    try:
        return parse(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be read (arrays or tables within each other)") from None


__all__ = ["file_problem", "parse_nested", "resolved"]
