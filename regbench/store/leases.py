"""Leases on runs: who claims a run (``lease_owner``), how long a claim lasts (``lease_s()``), whether a claim's
runner is gone (``_dead_here``), and the ``Heartbeat`` that renews a runner's claims in the store while it runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
import uuid
from pathlib import Path

from regbench.util.env_vars import seconds
from regbench.util.periodic import Periodic

#: Seconds a claim on a run lasts unless its runner renews it (a heartbeat renews every third of it): a runner
#: killed with its runs in flight frees them for another runner this long after its last heartbeat.
LEASE_ENV, LEASE_S = "REGBENCH_LEASE_S", 60.0


def lease_s() -> float:
    """How long a claim lasts: ``$REGBENCH_LEASE_S`` or :data:`LEASE_S` (ValueError when the variable holds no
    positive number)."""
    return seconds(LEASE_ENV, LEASE_S)


def lease_owner() -> str:
    """Who claims runs: this host, this process and a random part (``host:pid:random``)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` is a runner of this host whose process is gone (killed): its claims are free at once,
    without waiting for them to expire."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class Heartbeat(Periodic):
    """Renews the claims of ``owner`` on the store at ``path`` every third of ``ttl`` from a thread of its own
    (with its own connection), so a long run keeps its claim and a killed runner's claims expire."""

    def __init__(self, path: str | Path, owner: str, ttl: float | None = None) -> None:
        ttl = lease_s() if ttl is None else ttl
        self.path, self.owner, self.ttl = Path(path), owner, ttl
        self._db: sqlite3.Connection | None = None  # opened and closed in the heartbeat's thread
        super().__init__(ttl / 3, self._beat, "regbench-lease-heartbeat", done=self._close, join_s=5)

    def _beat(self) -> None:
        if self._db is None:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        with contextlib.suppress(sqlite3.Error):  # a busy or full store: the next beat tries again
            self._db.execute("UPDATE leases SET expires = ? WHERE owner = ?", (time.time() + self.ttl, self.owner))

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
