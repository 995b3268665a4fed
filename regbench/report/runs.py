"""Many runs as columns: the summary fields of every record as numpy arrays, loaded without rebuilding records.

Reports of 10,000 runs must take seconds, so a store is read with SQLite's JSON functions: the trace, the
transform and the segments (most of each record's bytes) are dropped inside SQLite and only the summary is
parsed in Python. Full records (for traces and ``show``) are fetched on demand for a few keys.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regbench.record import RunRecord

FLOAT_FIELDS = (
    "iterations",
    "final_metric",
    "initial_metric_dense",
    "final_metric_dense",
    "returned_best",
    "initial_error_mean",
    "error_mean",
    "error_p95",
    "error_max",
    "initial_error_mean_fg",
    "error_mean_fg",
    "error_p95_fg",
    "error_max_fg",
    "jacobian_min",
    "folding_fraction",
    "sdlogj",
    "wall_time_s",
    "cpu_time_s",
    "peak_rss_mb",
)
BOOL_FIELDS = ("rounding_failure", "hit_iteration_limit")
TEXT_FIELDS = ("key", "strategy", "case", "status", "outcome", "stop_category", "stop_condition", "error")
# Dropped inside SQLite before parsing: the bulk of a record, not needed for tables and statistics.
_HEAVY = ("trace", "transform", "segments", "versions", "provenance", "notes")


class SourceError(ValueError):
    """A result source that cannot be read: the message names the file and what is wrong."""


@dataclass
class Runs:
    """The summary columns of many runs, one array per field.

    Floats are ``float64`` with NaN for missing values (``returned_best`` is 1/0/NaN); text fields are object
    arrays with ``None`` for missing. ``solver`` is the strategy name, plus the parameters that vary between
    runs of that strategy (so a parameter grid gives one solver per grid point).
    """

    columns: dict[str, np.ndarray]
    params: list[dict[str, Any]]
    source: str = ""
    # Full records when the source held them in memory (a list of records, a JSON file); else read on demand.
    _records: dict[str, RunRecord] | None = field(default=None, repr=False)
    _store_path: Path | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def solver(self) -> np.ndarray:
        return self.columns["solver"]

    def subset(self, mask: np.ndarray) -> Runs:
        index = np.flatnonzero(mask)
        return Runs(
            {k: v[index] for k, v in self.columns.items()},
            [self.params[i] for i in index],
            self.source,
            self._records,
            self._store_path,
        )

    def records(self, keys: Sequence[str]) -> list[RunRecord]:
        """Full records (with traces) for ``keys``, in that order; keys without a record are skipped."""
        if self._records is not None:
            return [self._records[k] for k in keys if k in self._records]
        if self._store_path is None or not keys:
            return []
        found: dict[str, RunRecord] = {}
        with _connect(self._store_path) as db:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for key, text in db.execute(f"SELECT key, record FROM runs WHERE key IN ({marks})", chunk):
                    found[key] = RunRecord.from_json(text)
        return [found[k] for k in keys if k in found]


def from_dicts(rows: Sequence[Mapping[str, Any]], source: str = "") -> Runs:
    """Columns from record dicts (a record's ``to_dict()`` or its summary; missing fields are missing values)."""
    columns: dict[str, np.ndarray] = {}
    for name in FLOAT_FIELDS:
        columns[name] = np.array([_float(r.get(name)) for r in rows], dtype=float)
    for name in BOOL_FIELDS:
        columns[name] = np.array([bool(r.get(name)) for r in rows], dtype=bool)
    for name in TEXT_FIELDS:
        columns[name] = np.array([_text(r.get(name)) for r in rows] or [], dtype=object)
    columns["seed"] = np.array([int(r.get("seed") or 0) for r in rows], dtype=np.int64)
    params = [_params(r.get("params")) for r in rows]
    columns["solver"] = solver_labels(columns["strategy"], params)
    return Runs(columns, params, source)


def from_records(records: Iterable[RunRecord], source: str = "") -> Runs:
    records = list(records)
    runs = from_dicts([r.to_dict() for r in records], source)
    runs._records = {r.key or f"#{i}": r for i, r in enumerate(records)}
    if any(r.key is None for r in records):
        runs.columns["key"] = np.array([r.key or f"#{i}" for i, r in enumerate(records)], dtype=object)
    return runs


def solver_labels(strategies: np.ndarray, params: list[dict[str, Any]]) -> np.ndarray:
    """``strategy`` or ``strategy[name=value,...]`` with only the parameters that vary within that strategy."""
    labels = np.array(strategies, dtype=object)
    for name in {s for s in strategies if s is not None}:
        index = [i for i, s in enumerate(strategies) if s == name]
        keys = sorted({k for i in index for k in params[i]})
        varying = [k for k in keys if len({_hashable(params[i].get(k)) for i in index}) > 1]
        if not varying:
            continue
        for i in index:
            inner = ",".join(f"{k}={params[i].get(k)}" for k in varying)
            labels[i] = f"{name}[{inner}]"
    return labels


def load_store(path: str | Path) -> Runs:
    """The summary columns of every run in a result store, read without parsing traces."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such result store (run `regbench run --store {path}` first)")
    drop = ",".join(f"'$.{name}'" for name in _HEAVY)
    try:
        with _connect(path) as db:
            rows = db.execute(f"SELECT json_remove(record, {drop}) FROM runs ORDER BY rowid").fetchall()
    except sqlite3.DatabaseError as exc:
        return _load_store_slowly(path, exc)
    runs = from_dicts([json.loads(text) for (text,) in rows], str(path))
    runs._store_path = path
    return runs


def _load_store_slowly(path: Path, reason: Exception) -> Runs:
    """Fallback through the public Store API when the fast query fails (e.g. SQLite without JSON functions)."""
    from regbench import store as store_module

    read_errors = (sqlite3.DatabaseError, ValueError, TypeError, getattr(store_module, "StoreError", ValueError))
    try:
        with _connect(path) as db:
            has_runs = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='runs'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: not a readable SQLite file ({exc})") from exc
    if not has_runs:
        raise SourceError(f"{path}: an SQLite file without a runs table, not a regbench result store")
    try:
        return from_records(store_module.Store(path).records(), str(path))
    except read_errors as exc:
        raise SourceError(f"{path}: cannot read its runs ({exc}; fast path: {reason})") from exc


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only: a report never writes the store, and may run while `regbench run` is writing it.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def store_key(path: str | Path, prefix: str) -> RunRecord:
    """The one record whose key starts with ``prefix``; a clear error when none or several match."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such result store")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with _connect(path) as db:
        rows = db.execute(
            "SELECT key, record FROM runs WHERE key LIKE ? ESCAPE '\\' ORDER BY key LIMIT 6", (escaped + "%",)
        ).fetchall()
    if not rows:
        raise SourceError(f"{path}: no run with a key starting with {prefix!r} (see `regbench report`)")
    exact = [text for key, text in rows if key == prefix]
    if len(rows) > 1 and not exact:
        keys = ", ".join(key for key, _ in rows[:5])
        raise SourceError(f"{path}: {prefix!r} matches several runs ({keys}...): give more characters")
    return RunRecord.from_json(exact[0] if exact else rows[0][1])


def _float(value: Any) -> float:
    if value is None or isinstance(value, (str, dict, list)):
        return np.nan
    return float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _params(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # a record summary stores params as a JSON string
        try:
            value = json.loads(value)
        except ValueError:
            return {"params": value}
    return dict(value) if isinstance(value, Mapping) else {}


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str)
