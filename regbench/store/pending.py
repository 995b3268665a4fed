"""Records stored before their kept trace positions were evaluated (``RunRecord.evaluation_plan``): the store's
``pending`` table lists them, so a reader finds them without reading every record, and completing one rewrites its
row (:mod:`regbench.report.load.completion`)."""

from __future__ import annotations

import sqlite3

from regbench.record import RunRecord
from regbench.store.sqlite import Store, StoreError


def pending_keys(store: Store, keys: set[str] | None = None) -> list[str]:
    """Keys of the stored runs whose kept trace positions wait to be evaluated (of ``keys``, if given), in the
    order they finished."""
    try:
        rows = store.connection.execute("SELECT runs.key FROM pending JOIN runs USING (key) ORDER BY runs.rowid")
    except sqlite3.OperationalError:  # a store older than the pending table, opened read-only
        return []
    return [k for (k,) in rows if keys is None or k in keys]


def store_completed(store: Store, record: RunRecord) -> None:
    """Store ``record`` again, its kept positions now evaluated (``evaluation_plan`` None): the same run, so the
    same row, and no longer pending."""
    if record.evaluation_plan is not None:
        raise StoreError(f"record {record.key} is still pending: complete it before storing it again")
    db = store.connection
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE runs SET record = ? WHERE key = ?", (record.to_json(), record.key))
        db.execute("DELETE FROM pending WHERE key = ?", (record.key,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
