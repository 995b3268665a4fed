"""Host calibrations in the store: how long a fixed reference registration took on each host (``regbench
calibrate``), so that times from different machines can be compared as multiples of it.

One row per measurement, keyed by host name (as records store it, :func:`regbench.util.host.host_name`) and ITK
thread count; the newest row of a host and thread count is the one used, older ones stay as its history. The
table is made on the first calibration, so a store never calibrated has none.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from regbench.store.sqlite import Store, StoreError
from regbench.util.host import host_name

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calibration (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    threads INTEGER NOT NULL,
    measured REAL NOT NULL DEFAULT (julianday('now')),
    seconds REAL NOT NULL,
    details TEXT NOT NULL
)
"""


@dataclass
class Calibration:
    """The reference registration's time on one host with one ITK thread count.

    ``seconds`` is the median, over ``repeats`` executions, of its ``Execute`` time (what the optimizer and the
    metric cost, the part threads change); ``wall_s`` the median of the whole run's wall time beside it."""

    host: str
    threads: int
    seconds: float
    repeats: int
    wall_s: float | None = None
    times: list[float] = field(default_factory=list)
    reference: str = ""
    load_average: list[float] | None = None
    measured: str | None = None  # UTC, ISO 8601: filled when read from the store


def this_host() -> str:
    """The host name calibrations are keyed by: the one records store (``record.host["name"]``), so that the
    two match; ``$REGBENCH_HOST_NAME`` hashes or replaces it in both."""
    return host_name()


def host_of(record: Any) -> str | None:
    """The host name of a record (a :class:`~regbench.record.RunRecord` or its dict), None if it has none."""
    host = record.get("host") if isinstance(record, dict) else getattr(record, "host", None)
    name = host.get("name") if isinstance(host, dict) else host
    return name if isinstance(name, str) else None


def add_calibration(store: Store, calibration: Calibration) -> None:
    """Store one measurement (it becomes its host's and thread count's current one)."""
    details = {k: v for k, v in asdict(calibration).items() if k not in ("host", "threads", "seconds", "measured")}
    db = store.connection
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(_SCHEMA)
        db.execute(
            "INSERT INTO calibration (host, threads, seconds, details) VALUES (?, ?, ?, ?)",
            (calibration.host, calibration.threads, calibration.seconds, json.dumps(details, allow_nan=False)),
        )
        db.execute("COMMIT")
    except (sqlite3.Error, ValueError) as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"{store.path}: cannot record the calibration ({exc})") from exc


def calibrations(store: Store) -> list[Calibration]:
    """The current calibration of every (host, threads) in the store, by host and thread count; none for a
    store never calibrated."""
    sql = (
        "SELECT host, threads, seconds, details, strftime('%Y-%m-%dT%H:%M:%SZ', measured) FROM calibration c "
        "WHERE id = (SELECT max(id) FROM calibration WHERE host = c.host AND threads = c.threads) "
        "ORDER BY host, threads"
    )
    try:
        rows = store.connection.execute(sql).fetchall()
    except sqlite3.OperationalError:  # no calibration table: never calibrated
        return []
    out = []
    for host, threads, seconds, details, measured in rows:
        extra = json.loads(details)
        known = {k: extra[k] for k in ("repeats", "wall_s", "times", "reference", "load_average") if k in extra}
        out.append(Calibration(host=host, threads=threads, seconds=seconds, measured=measured, **known))
    return out


def copy_calibrations(db: sqlite3.Connection, source: Store) -> int:
    """Copy ``source``'s calibrations into the store open on ``db`` (in the caller's transaction: ``regbench merge``),
    each measurement once, its time of measurement kept: merging twice adds nothing. Returns the rows added."""
    try:
        rows = source.connection.execute(
            "SELECT host, threads, measured, seconds, details FROM calibration ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:  # the input was never calibrated
        return 0
    if rows:
        db.execute(_SCHEMA)
    added = 0
    for row in rows:
        same = "host = ? AND threads = ? AND measured = ? AND seconds = ? AND details = ?"
        if not db.execute(f"SELECT 1 FROM calibration WHERE {same}", row).fetchone():
            db.execute("INSERT INTO calibration (host, threads, measured, seconds, details) VALUES (?,?,?,?,?)", row)
            added += 1
    return added


def run_threads(store: Store) -> dict[str, int | None]:
    """Every stored run's ITK thread count by key (None where the record has none), read inside SQLite."""
    rows = store.connection.execute("SELECT key, json_extract(record, '$.threads') FROM runs")
    return {key: threads if isinstance(threads, int) else None for key, threads in rows}


def reference_for(found: list[Calibration], host: str, threads: int | None) -> Calibration | None:
    """The calibration that a run on ``host`` with ``threads`` ITK threads is measured in: the 1-thread one for a
    1-thread run (or an unknown count: ``regbench run``'s default), else the one with the most threads; None when
    the host has no suitable calibration."""
    mine = [c for c in found if c.host == host and c.seconds > 0]
    if threads is None or threads <= 1:
        return next((c for c in mine if c.threads == 1), None)
    many = [c for c in mine if c.threads > 1]
    return max(many, key=lambda c: c.threads) if many else None
