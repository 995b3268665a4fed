"""Something done every few seconds from a thread of its own while a ``with`` block runs. Imports nothing of
regbench: the store's lease heartbeat, the progress lines and the Dask worker watch all use it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

P = TypeVar("P", bound="Periodic")


class Periodic:
    """Calls ``tick()`` every ``seconds`` from a daemon thread while entered; ``done()``, if given, once in that
    thread when it stops (to close what ``tick`` opened there). Leaving waits up to ``join_s`` for the thread."""

    def __init__(
        self,
        seconds: float,
        tick: Callable[[], None],
        name: str,
        done: Callable[[], None] | None = None,
        join_s: float = 2.0,
    ) -> None:
        self.seconds, self.tick, self.done, self.join_s = seconds, tick, done, join_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.seconds):
                self.tick()
        finally:
            if self.done is not None:
                self.done()

    def __enter__(self: P) -> P:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.join_s)
