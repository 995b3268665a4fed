"""``regbench merge OUT STORE...``: result stores from several machines in one, by run key.

What is merged is every finished record of each input (its ``runs`` rows); leases (runs in flight elsewhere) and
unreadable rows are left out, and said so. A record whose kept trace positions still wait for their evaluation
(``evaluation_plan``) comes along and stays pending in ``OUT`` (the first report completes it). The race log and
the ``replaced`` records come along too. Inputs are opened read-only and never changed (SQLite may create the
``-wal`` and ``-shm`` files of a store that has none: a reader needs them; the store's file is not written).

For each record, by its key:

- a key that ``OUT`` lacks is added, its JSON copied as it is (a newer regbench's fields survive);
- a key whose stored record is the same run is stored once: the same record apart from what measures the machine
  (times, peak memory, the host and its load: :meth:`RunRecord.without_timings`), where its case file was on it,
  and what the evaluation after the run adds (:data:`AFTER_RUN`: it may still be pending on either side);
- a key whose stored record differs is kept as well, never over the other: as a repeat of the same run (the next
  free ``repeat`` number), under a key of its own derived from the run key and the record's content, with
  ``provenance.merged`` naming the run key, its own repeat and the store it came from. Reports count it as a
  repeat, and the drift table of ``regbench report`` compares it with the other host's record.

Merging is idempotent: a record already in ``OUT`` (as the run's record or as a merged repeat, found by its
derived key) is not added again, so merging the same stores twice changes nothing. Each input is merged in one
transaction: a merge that is killed leaves whole inputs merged or not, and merging again completes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regbench.record import SCHEMA_VERSION as RECORD_SCHEMA
from regbench.record import RunRecord
from regbench.store.calibration import copy_calibrations
from regbench.store.races import _SCHEMA as RACES_SCHEMA
from regbench.store.sqlite import SCHEMA_VERSION, Store, StoreError, write_failure
from regbench.trace import AFTER_RUN_COLUMNS

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Provenance entries that say where a run was started on its host, not what ran: two hosts' paths differ.
_PLACES = ("case_file", "case_file_abs")
#: What the evaluation of the kept trace positions after a run sets (regbench.evaluation.postrun): pending in a
#: store until a report completes it, so not what tells two runs of a key apart (the transform, the optimizer's
#: trace and the measures of the returned transform do).
AFTER_RUN = (
    "anytime",
    "evaluation_plan",
    "notes",
    "returned_best",
    "best_visited_metric_dense",
    "best_visited_error_mean",
    "regret_metric_dense",
    "regret_error_mean",
)


class MergeError(StoreError):
    """An input or the output cannot be merged: the message names the file and why (a usage error)."""


class MergeFailed(Exception):
    """Writing the output failed midway (locked too long, disk full): the inputs merged so far stay merged."""


@dataclass
class Drifted:
    """A run key whose record from an input differs from the one ``OUT`` holds: both are kept."""

    key: str  # the run key
    stored_as: str  # the key the input's record is kept under (a merged repeat)
    repeat: int
    strategy: str
    case: str
    seed: int
    host: str | None  # of the input's record
    other_host: str | None  # of the record OUT holds under the run key


@dataclass
class InputResult:
    """What merging one input did."""

    path: Path
    runs: int = 0  # finished records read
    added: int = 0
    identical: int = 0  # already in OUT: the same run
    drifted: list[Drifted] = field(default_factory=list)  # differing records, kept as repeats now
    skipped: list[str] = field(default_factory=list)  # rows left out, and why
    races: int = 0
    replaced: int = 0
    calibrations: int = 0  # host reference timings (regbench calibrate) added

    @property
    def changed(self) -> int:
        return self.added + len(self.drifted) + self.races + self.replaced + self.calibrations


def check_input(path: Path) -> None:
    """Refuse what is not a result store this regbench reads, naming ``path`` and why, before anything is written."""
    if not path.exists():
        raise MergeError(f"{path}: no such file")
    if not path.is_file():
        raise MergeError(f"{path}: not a file (give a result store)")
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise MergeError(f"{path}: not a regbench result store (not an SQLite file)")
    with Store.read_only(path) as store:  # a StoreError names the file: no runs table, unreadable
        version = store.connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise MergeError(
            f"{path}: written by a newer regbench (store schema {version}, this one reads {SCHEMA_VERSION}): "
            "merge with that regbench"
        )


def merge(out: str | Path, inputs: Sequence[str | Path]) -> list[InputResult]:
    """Merge the finished records of ``inputs`` into the store ``out`` (created when missing); what each input
    added, found already there, or kept as a repeat. Every input is checked before ``out`` is opened."""
    out, paths = Path(out), [Path(p) for p in inputs]
    for path in paths:
        check_input(path)
        if out.exists() and path.resolve() == out.resolve():
            raise MergeError(f"{path}: is the output store too; merge into another file")
    results: list[InputResult] = []
    with Store(out) as target:
        for path in paths:
            with Store.read_only(path) as source:
                try:
                    results.append(_merge_one(target, source))
                except sqlite3.Error as exc:
                    done = f"{len(results)} of {len(paths)} inputs merged"
                    raise MergeFailed(
                        f"{out}: the merge of {path} stopped ({write_failure(exc)}); {done}; merging again completes it"
                    ) from exc
    return results


def _merge_one(target: Store, source: Store) -> InputResult:
    result = InputResult(source.path)
    db = target.connection
    rows = source.connection.execute(
        "SELECT rowid, key, strategy, case_name, seed, status, finished, record FROM runs ORDER BY rowid"
    )
    db.execute("BEGIN IMMEDIATE")
    try:
        for row in rows:
            _merge_row(db, source, row, result)
        _copy_replaced(db, source, result)
        _copy_races(db, source, result)
        result.calibrations = copy_calibrations(db, source)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _merge_row(db: sqlite3.Connection, source: Store, row: tuple[Any, ...], result: InputResult) -> None:
    rowid, key, strategy, case, seed, status, finished, text = row
    try:
        data = _strict_loads(text.decode("utf-8") if isinstance(text, bytes) else text)
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not a record")
    except (ValueError, UnicodeDecodeError) as exc:
        result.skipped.append(f"row {rowid} (key {key}): unreadable ({str(exc)[:80]})")
        return
    if isinstance(schema := data.get("schema", 1), int) and schema > RECORD_SCHEMA:
        raise MergeError(
            f"{source.path}: run {key} is a record of schema {schema}, this regbench writes {RECORD_SCHEMA}: "
            "merge with a newer regbench"
        )
    result.runs += 1
    run_key, original = _original(data, key)
    stored = db.execute("SELECT record FROM runs WHERE key = ?", (run_key,)).fetchone()
    columns = (strategy, case, seed, status, finished)
    if stored is None:  # copied as it is (a row that is no run record is skipped by every reader, as in its input)
        same = original is data and key == run_key
        _insert(db, run_key, columns, text if same else json.dumps(original, allow_nan=False), original)
        result.added += 1
        return
    if stored[0] == text:  # the same bytes: the same record (a store merged with a copy of itself)
        result.identical += 1
        return
    try:
        stored_data = _strict_loads(stored[0])
        digest, same = _digest(original), _digest(stored_data)
    except (TypeError, ValueError) as exc:  # this row, or the one OUT holds, is not a run record: both stay
        result.skipped.append(f"row {rowid} (key {key}): cannot be compared with {run_key} ({str(exc)[:80]})")
        return
    if same == digest:
        result.identical += 1
        return
    merged_key = hashlib.sha256(f"{run_key}:{digest}".encode()).hexdigest()[:20]
    if db.execute("SELECT 1 FROM runs WHERE key = ?", (merged_key,)).fetchone():
        result.identical += 1  # merged before: the same record, kept as a repeat then
        return
    repeat = _next_repeat(db, strategy, case, seed, int(original.get("repeat") or 0))
    provenance = dict(original.get("provenance") or {})
    provenance["merged"] = {"key": run_key, "repeat": original.get("repeat", 0), "from": str(source.path)}
    kept = {**original, "key": merged_key, "repeat": repeat, "provenance": provenance}
    _insert(db, merged_key, columns, json.dumps(kept, allow_nan=False), kept)
    result.drifted.append(
        Drifted(run_key, merged_key, repeat, strategy, case, seed, _host(original), _host(stored_data))
    )


def _strict_loads(text: str) -> Any:
    """JSON as records are stored: strict (NaN, Infinity and numbers too large for a float are refused)."""

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise ValueError(f"{literal[:20]} is not a finite number")
        return value

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not strict JSON")

    return json.loads(text, parse_float=number, parse_constant=constant)


def _original(data: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    """The run key and the record as its run wrote it: a record merged as a repeat before is its run's record again
    (key, repeat, provenance restored), so merging a merged store finds it the same as the original."""
    provenance = data.get("provenance")
    if not isinstance(provenance, dict):
        return key, data
    merged = provenance.get("merged")
    if not isinstance(merged, dict) or not isinstance(merged.get("key"), str):
        return key, data
    restored = {k: v for k, v in provenance.items() if k != "merged"}
    return merged["key"], {**data, "key": merged["key"], "repeat": merged.get("repeat", 0), "provenance": restored}


def _digest(data: dict[str, Any]) -> str:
    """What makes two records of one key the same run: the record without what measures the machine, where the case
    file was on it (the case's definition is in the key), and what the evaluation after the run adds."""
    same = RunRecord.from_dict(data).without_timings()
    for name in _PLACES:
        same["provenance"].pop(name, None)
    for name in AFTER_RUN:
        same.pop(name, None)
    for name in AFTER_RUN_COLUMNS:
        same["trace"].pop(name, None)
    return hashlib.sha256(json.dumps(same, sort_keys=True, allow_nan=False).encode()).hexdigest()


def _host(data: dict[str, Any]) -> str | None:
    host = data.get("host")
    return str(host.get("name")) if isinstance(host, dict) and host.get("name") is not None else None


def _next_repeat(db: sqlite3.Connection, strategy: str, case: str, seed: int, at_least: int) -> int:
    """A repeat number no record of this strategy, case and seed in the store has yet."""
    (highest,) = db.execute(
        "SELECT max(coalesce(json_extract(record, '$.repeat'), 0)) FROM runs "
        "WHERE strategy = ? AND case_name = ? AND seed = ?",
        (strategy, case, seed),
    ).fetchone()
    return max(int(highest or 0) + 1, at_least + 1)


def _insert(db: sqlite3.Connection, key: str, columns: tuple[Any, ...], text: str, data: dict[str, Any]) -> None:
    strategy, case, seed, status, finished = columns
    db.execute(
        "INSERT INTO runs (key, strategy, case_name, seed, status, finished, record) VALUES (?,?,?,?,?,?,?)",
        (key, strategy, case, seed, status, finished, text),
    )
    if data.get("evaluation_plan") is not None:  # pending in OUT too: the first report on it completes it
        with contextlib.suppress(sqlite3.OperationalError):  # a store layout without the pending table
            db.execute("INSERT OR IGNORE INTO pending (key) VALUES (?)", (key,))


def _copy_replaced(db: sqlite3.Connection, source: Store, result: InputResult) -> None:
    """The records ``--force`` replaced in the input: kept in ``OUT``'s ``replaced`` table too, once each."""
    for key, replaced, text in source.connection.execute("SELECT key, replaced, record FROM replaced ORDER BY rowid"):
        if not db.execute("SELECT 1 FROM replaced WHERE key = ? AND record = ?", (key, text)).fetchone():
            db.execute("INSERT INTO replaced (key, replaced, record) VALUES (?, ?, ?)", (key, replaced, text))
            result.replaced += 1


def _copy_races(db: sqlite3.Connection, source: Store, result: InputResult) -> None:
    """The input's race log (:mod:`regbench.store.races`), each race once: its runs are merged with it."""
    try:
        races = source.connection.execute("SELECT finished, keys, log FROM races ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the input never raced
        return
    if races:
        db.execute(RACES_SCHEMA)
    for finished, keys, log in races:
        if not db.execute("SELECT 1 FROM races WHERE keys = ? AND log = ?", (keys, log)).fetchone():
            db.execute("INSERT INTO races (finished, keys, log) VALUES (?, ?, ?)", (finished, keys, log))
            result.races += 1
