"""The SQLite result store: one row per finished run, its JSON record, written in its own transaction.

(Skeleton of the API; the runner issue hardens it: resumability, WAL, concurrency, export.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from regbench.record import RunRecord

DEFAULT_STORE = "regbench-results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    case_name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    finished REAL NOT NULL DEFAULT (julianday('now')),
    record TEXT NOT NULL
)
"""


class Store:
    """Finished run records, keyed by the run's input hash."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def add(self, record: RunRecord) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs (key, strategy, case_name, seed, status, record) VALUES (?,?,?,?,?,?)",
                (record.key, record.strategy, record.case, record.seed, record.status, record.to_json()),
            )

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM runs")}

    def records(self) -> Iterator[RunRecord]:
        for (text,) in self._db.execute("SELECT record FROM runs ORDER BY rowid"):
            yield RunRecord.from_json(text)

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    def close(self) -> None:
        self._db.close()
