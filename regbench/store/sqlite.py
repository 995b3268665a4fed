"""The SQLite result store: one row per finished run, its strict-JSON record, written in its own transaction.

Safe against a killed writer: the database is in WAL mode and each record is committed as it arrives, so a
``kill -9`` loses at most the run in flight, never a finished one. A record is never rewritten silently: adding
a key that is already stored is an error unless ``replace=True``, and a replaced record moves to the
``replaced`` table instead of vanishing. Readers (``regbench report``) may open the store while a run writes it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regbench.record import RunRecord
from regbench.store.leases import Heartbeat as Heartbeat  # re-exported: the old import path
from regbench.store.leases import _dead_here, lease_s
from regbench.store.leases import lease_owner as lease_owner  # re-exported: the old import path

if TYPE_CHECKING:
    import pandas

DEFAULT_STORE = "regbench-results.sqlite"

# Bump when the layout changes; older stores are migrated in _migrate.
# 2: the ``pending`` table (records whose kept trace positions wait to be evaluated).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    case_name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    finished REAL NOT NULL DEFAULT (julianday('now')),
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS replaced (
    key TEXT NOT NULL,
    replaced REAL NOT NULL DEFAULT (julianday('now')),
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_strategy_case ON runs (strategy, case_name);
CREATE TABLE IF NOT EXISTS pending (
    key TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


class StoreError(Exception):
    """The store cannot be opened or written: not a regbench store, missing, or a duplicate key."""


class StoreFull(StoreError):
    """The disk holding the store is full: not a usage error (the runner exits 1), free space and rerun."""


def disk_full(exc: BaseException) -> bool:
    """Whether an SQLite error means the store's disk is full: ``SQLITE_FULL`` on a write, or the WAL index
    (``-shm``) that cannot grow when the store opens (``SQLITE_IOERR_SHMSIZE``, "disk I/O error")."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", "")  # Python ≥ 3.11; the message on 3.10
    return name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or "disk is full" in str(exc)


def write_failure(exc: BaseException) -> str:
    """Why writing the store failed, for the user: a full disk says what to do."""
    return f"the store cannot be written ({exc}): free space on its disk" if disk_full(exc) else str(exc)


class Store:
    """Finished run records, keyed by the run's input hash.

    ``Store(path)`` creates the file when missing; ``Store(path, create=False)`` refuses to (for readers).
    Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, *, create: bool = True) -> None:
        self.path = Path(path)
        self.skipped: list[str] = []  # unreadable rows met so far (see skipped_note)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no such result store (run `regbench run --store {self.path}` first)")
        try:
            # Autocommit mode: every write below opens its own explicit transaction.
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._refuse_foreign()  # before any write: a foreign file is never modified (not even its journal mode)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only a power loss can drop the last commits).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.OperationalError as exc:  # unreadable, read-only, locked for too long, a full disk
            if disk_full(exc):
                raise StoreFull(f"{self.path}: cannot open the result store: {write_failure(exc)}") from exc
            raise StoreError(f"{self.path}: cannot open the result store ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a regbench result store ({exc})") from exc

    @classmethod
    def read_only(cls, path: str | Path) -> Store:
        """Open an existing store for reading only: reports never write, and may read while a run writes."""
        self = cls.__new__(cls)
        self.path = Path(path)
        self.skipped = []
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such result store (run `regbench run --store {self.path}` first)")
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='runs'"
        uri = self.path.resolve().as_uri()
        try:
            self._db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0)
            has_runs = self._db.execute(query).fetchone()
        except sqlite3.OperationalError:
            # A WAL store on read-only media (or a directory it may not write): its -shm file cannot be made.
            # SQLite's immutable mode reads the file as it is, without locks (nobody can be writing it there).
            try:
                self._db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=30.0)
                has_runs = self._db.execute(query).fetchone()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: not a readable SQLite file ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a readable SQLite file ({exc})") from exc
        if not has_runs:
            self._db.close()
            raise StoreError(f"{self.path}: an SQLite file without a runs table, not a regbench result store")
        return self

    def _refuse_foreign(self) -> None:
        """Refuse someone else's database and a newer regbench's store, before anything is written to either."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(
                f"{self.path}: written by a newer regbench (store schema {version}, this one reads {SCHEMA_VERSION})"
            )
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables - {"runs", "replaced", "leases", "pending"}:
            # Someone else's database: never add regbench's tables to it.
            self._db.close()
            raise StoreError(
                f"{self.path}: an SQLite database that is not a regbench result store (it has tables "
                f"{', '.join(sorted(tables))}); give another --store path"
            )

    def _migrate(self) -> None:
        # _refuse_foreign refused a newer schema before the journal mode was set
        self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection, for the store's modules that keep a table of their own (:mod:`.races`)."""
        return self._db

    # -- writing -------------------------------------------------------------------------------------------

    # -- claims: several runners on one store ----------------------------------------------------------

    def claim(self, key: str, owner: str, ttl: float | None = None) -> bool:
        """Claim the run ``key`` for ``owner``: False when it is stored, or claimed by another runner whose lease
        has not expired. A claim is a row of ``leases`` with an expiry that :class:`Heartbeat` renews."""
        now = time.time()
        expires = now + (lease_s() if ttl is None else ttl)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone():
                db.execute("COMMIT")
                return False
            row = db.execute("SELECT owner, expires FROM leases WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now and not _dead_here(row[0]):
                db.execute("COMMIT")
                return False
            db.execute("INSERT OR REPLACE INTO leases (key, owner, expires) VALUES (?, ?, ?)", (key, owner, expires))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return True

    def claimed_elsewhere(self, keys: set[str], owner: str) -> set[str]:
        """Those of ``keys`` not stored and claimed by another runner with a live lease."""
        now = time.time()
        rows = self._db.execute("SELECT key, owner FROM leases WHERE owner != ? AND expires > ?", (owner, now))
        return {k for k, o in rows if k in keys and not _dead_here(o)} - self.keys()

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its runner is done)."""
        self._db.execute("DELETE FROM leases WHERE owner = ?", (owner,))

    def add(self, record: RunRecord, *, replace: bool = False, exist_ok: bool = False) -> bool:
        """Commit one finished record (and drop its claim). A stored key raises :class:`StoreError` unless
        ``replace`` is true (then the old record is kept in the ``replaced`` table) or ``exist_ok`` is (then the
        stored record stays and False is returned: another runner finished the same run)."""
        if not record.key:
            raise StoreError(f"record of {record.strategy} on {record.case} has no key (build it with new_record)")
        text = record.to_json()
        row = (record.key, record.strategy, record.case, record.seed, record.status, text)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if replace:
                db.execute("INSERT INTO replaced (key, record) SELECT key, record FROM runs WHERE key = ?", row[:1])
                db.execute("DELETE FROM runs WHERE key = ?", row[:1])
            db.execute("INSERT INTO runs (key, strategy, case_name, seed, status, record) VALUES (?,?,?,?,?,?)", row)
            if record.evaluation_plan is not None:
                db.execute("INSERT OR IGNORE INTO pending (key) VALUES (?)", row[:1])
            elif replace:
                db.execute("DELETE FROM pending WHERE key = ?", row[:1])
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK")
            if exist_ok:
                return False
            raise StoreError(
                f"{self.path}: run {record.key} ({record.strategy} on {record.case}, seed {record.seed}) is already "
                "stored; pass replace=True (`--force`) to rerun it"
            ) from None
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("DELETE FROM leases WHERE key = ?", row[:1])
        db.execute("COMMIT")
        return True

    # -- reading -------------------------------------------------------------------------------------------

    def _decode(self, rowid: int, key: str, text: Any) -> RunRecord | None:
        """The record of one row, or None (noted in :attr:`skipped`) when its JSON or its fields are bad."""
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            return RunRecord.from_json(text)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            self._skip(rowid, key, exc)
            return None

    def _skip(self, rowid: int, key: str, exc: Exception) -> None:
        reason = " ".join(str(exc).split())[:160]
        self.skipped.append(f"row {rowid} (key {str(key)[:16]}): {reason}")

    def skipped_note(self) -> str | None:
        """One line saying which rows were skipped as unreadable, or None when none was."""
        if not getattr(self, "skipped", None):
            return None
        rows = "; ".join(self.skipped[:3]) + ("; ..." if len(self.skipped) > 3 else "")
        count = len(self.skipped)
        return f"{self.path}: skipped {count} unreadable row{'s' if count > 1 else ''} ({rows})"

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM runs")}

    def timings(self, strategies: Iterable[str]) -> list[tuple[str, str, dict[str, Any], float]]:
        """(strategy, case, params, wall time) of the stored runs of ``strategies`` that have a wall time: what
        the scheduler learns run lengths from, read without decoding whole records."""
        names = sorted(set(strategies))
        if not names:
            return []
        rows = self._db.execute(
            "SELECT strategy, case_name, json_extract(record, '$.params'), json_extract(record, '$.wall_time_s') "
            f"FROM runs WHERE strategy IN ({', '.join('?' * len(names))})",
            names,
        )
        out = []
        for strategy, case, params, seconds in rows:
            with contextlib.suppress(TypeError, ValueError):
                if seconds is not None:
                    out.append((strategy, case, json.loads(params or "{}"), float(seconds)))
        return out

    def __contains__(self, key: object) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def get(self, key: str) -> RunRecord | None:
        """The record of ``key``; a row that cannot be read raises :class:`StoreError` naming it."""
        row = self._db.execute("SELECT rowid, record FROM runs WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        record = self._decode(row[0], key, row[1])
        if record is None:
            raise StoreError(f"{self.path}: cannot read {self.skipped[-1]}")
        return record

    def records(
        self,
        strategy: str | None = None,
        case: str | None = None,
        status: str | None = None,
        keys: set[str] | None = None,
    ) -> Iterator[RunRecord]:
        """Stored records in the order they finished, optionally only those matching every given filter."""
        where, args = [], []
        for column, value in (("strategy", strategy), ("case_name", case), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT rowid, key, record FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        # A cursor of its own, streamed: a store of traces may not fit in memory at once.
        for rowid, key, text in self._db.cursor().execute(sql + " ORDER BY rowid", args):
            if keys is None or key in keys:
                record = self._decode(rowid, key, text)
                if record is not None:
                    yield record

    def summaries(
        self, without: tuple[str, ...] = ("trace", "transform", "segments", "evaluation_plan")
    ) -> list[dict[str, Any]]:
        """Every stored record as a dict without its heavy fields, in finishing order. SQLite drops them
        (``json_remove``) so large stores load fast; without SQLite's JSON functions, Python does."""
        drop = ",".join(f"'$.{name}'" for name in without)
        # A row whose record is not valid JSON makes json_remove fail: such rows are read (and skipped) in Python.
        sql = f"SELECT rowid, key, CASE WHEN json_valid(record) THEN json_remove(record, {drop}) END, record FROM runs"
        try:
            rows = self._db.execute(sql + " ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:
            rows = [
                (r, k, None, t) for r, k, t in self._db.execute("SELECT rowid, key, record FROM runs ORDER BY rowid")
            ]
        out = []
        for rowid, key, light, text in rows:
            try:
                data = json.loads(light if light is not None else text)
                if not isinstance(data, dict):
                    raise ValueError(f"a JSON {type(data).__name__}, not a record object")
                for name in ("strategy", "case"):
                    if name not in without and not isinstance(data.get(name), str):
                        raise ValueError(f"field {name!r} is {data.get(name)!r}, not a string")
            except (ValueError, TypeError) as exc:
                self._skip(rowid, key, exc)
                continue
            out.append({k: v for k, v in data.items() if k not in without})
        return out

    def get_many(self, keys: list[str]) -> list[RunRecord]:
        """The records of ``keys`` that are stored, in the order of ``keys``."""
        found: dict[str, RunRecord] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters in one statement
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for rowid, key, text in self._db.execute(
                f"SELECT rowid, key, record FROM runs WHERE key IN ({marks})", chunk
            ):
                record = self._decode(rowid, key, text)
                if record is not None:
                    found[key] = record
        return [found[k] for k in keys if k in found]

    def find(self, prefix: str, limit: int = 6) -> list[RunRecord]:
        """Records whose key is ``prefix`` exactly (that one alone) or starts with it (at most ``limit``)."""
        exact = self.get(prefix)
        if exact is not None:
            return [exact]
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = "SELECT rowid, key, record FROM runs WHERE key LIKE ? ESCAPE '\\' ORDER BY key LIMIT ?"
        rows = self._db.execute(sql, (escaped + "%", limit)).fetchall()
        records = [self._decode(rowid, key, text) for rowid, key, text in rows]
        if rows and not any(records):
            raise StoreError(f"{self.path}: cannot read {self.skipped[-1]}")
        return [r for r in records if r is not None]

    def replaced(self, key: str | None = None) -> list[RunRecord]:
        """Records that ``--force`` replaced, oldest first (all of them, or those of one key)."""
        sql = "SELECT rowid, key, record FROM replaced"
        args: tuple[str, ...] = ()
        if key is not None:
            sql, args = sql + " WHERE key = ?", (key,)
        rows = self._db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [r for r in (self._decode(i, k, t) for i, k, t in rows) if r is not None]

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    def to_dataframe(self, **filters: Any) -> pandas.DataFrame:
        """One row per stored run (summary fields, ``params.*``, ``measures.*``); needs pandas."""
        from regbench.store.exports import to_dataframe

        return to_dataframe(self.records(**filters))

    # -- lifetime ------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
