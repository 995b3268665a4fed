"""SIGTERM as an exception while ``regbench run`` runs: the runner says what is committed and exits 143."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM reached the runner (a scheduler's job limit, `kill`, a container stopping). A BaseException, like
    KeyboardInterrupt: a run in this process (--in-process) must not record it as the run's own error."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` for the duration (the caller says what is committed and exits 143)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
