"""The race log in the store: one row per ``regbench run --race``, what it dropped after which round and why.

The runs a race made are ordinary rows of ``runs``; this table only says that they were raced, so that
``regbench recommend`` can say it later. The log is JSON (:class:`regbench.report.decide.race.RaceLog` writes and
reads it); the table is made on the first race, so a store that never raced has none.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from regbench.store.sqlite import Store, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS races (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finished REAL NOT NULL DEFAULT (julianday('now')),
    keys TEXT NOT NULL,
    log TEXT NOT NULL
)
"""


def add_race(store: Store, log: dict[str, Any], keys: list[str]) -> None:
    """Record a race's ``log`` with the keys of the runs it covers (made now or found in the store)."""
    db = store.connection
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(_SCHEMA)
        db.execute("INSERT INTO races (keys, log) VALUES (?, ?)", (json.dumps(sorted(keys)), json.dumps(log)))
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"{store.path}: cannot record the race ({exc})") from exc


def races(store: Store) -> list[tuple[dict[str, Any], set[str]]]:
    """Every race recorded in ``store``, oldest first: (log, keys of its runs); none for a store without races."""
    try:
        rows = store.connection.execute("SELECT log, keys FROM races ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # no races table: the store never raced
        return []
    return [(json.loads(log), set(json.loads(keys))) for log, keys in rows]


def last_race(store: Store, keys: set[str]) -> dict[str, Any] | None:
    """The log of the newest race that made or judged every run of ``keys`` (the runs a recommendation is made
    of); None when a run among them was not raced (a full matrix run after a race is not a raced answer)."""
    for log, covered in reversed(races(store)):
        if keys and keys <= covered:
            return log
    return None
