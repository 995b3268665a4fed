"""Many runs as columns: the summary fields of every record as numpy arrays, loaded without rebuilding records.

Reports of 10,000 runs must take seconds, so a store is read with SQLite's JSON functions: the trace, the
transform and the segments (most of each record's bytes) are dropped inside SQLite and only the summary is
parsed in Python. Full records (for traces and ``show``) are fetched on demand for a few keys. The record's
anytime curve (tens of points, :class:`regbench.record.Anytime`) is kept: it is loaded as the object column
``anytime`` of :class:`Curve` arrays, from which first-hit times and fixed-budget values are computed for every
run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.record import MEASURE_FIELDS as EVALUATED_FIELDS
from regbench.record import RunRecord
from regbench.store.pending import pending_keys
from regbench.store.sqlite import Store, StoreError

if TYPE_CHECKING:
    from regbench.report.load.completion import Completion

FLOAT_FIELDS = (
    "iterations",
    "final_metric",
    # what regbench_evaluate fills: dense metric, overlap, truth errors, Jacobian, label overlap (the per-label
    # Dice is a mapping, not a column: show reads it from the record)
    *(name for name in EVALUATED_FIELDS if name != "dice_per_label"),
    "returned_best",
    "registered",  # 1/0/NaN like returned_best; its tolerance beside it (physical units)
    "tolerance",
    "best_visited_metric_dense",
    "best_visited_error_mean",
    "regret_metric_dense",
    "regret_error_mean",
    "deterministic",
    "wall_time_s",
    "cpu_time_s",
    "peak_rss_mb",
)
# Measures the built-in evaluation adds under ``measures`` (landmark TRE): columns like the fields above.
MEASURE_FIELDS = ("initial_tre_mean", "tre_mean", "tre_p95", "tre_max")
BOOL_FIELDS = ("rounding_failure", "hit_iteration_limit")
TEXT_FIELDS = (
    "key",
    "strategy",
    "case",
    "status",
    "outcome",
    "stop_category",
    "stop_condition",
    "error",
    "accuracy",  # the evidence that judged registration: truth_fg, truth, landmarks, labels (None: nothing)
    # the problem the run solved (a hash); None in stores written before it was recorded
    "instance",
)
# Dropped inside SQLite before parsing: the bulk of a record, not needed for tables and statistics.
# The provenance's plugin entries go too; its small keys stay (the case file, the simulation a run's case is of).
# The host's name and load stay (regbench.report.stats.hosts); its longer facts are read from one record per host.
_HEAVY = (
    *("trace", "transform", "segments", "versions", "provenance.strategy", "provenance.case", "notes"),
    *("host.blas", "host.thread_env", "host.os", "host.cpu"),
)


@dataclass(frozen=True, eq=False)
class Curve:
    """One run's anytime curve as arrays (:class:`regbench.record.Anytime`): NaN where a value is unknown.

    Points are in time order: the start (time 0), the evaluated trace positions, the returned transform at the
    time the last execution ended. Empty for a run without one (it failed before returning, or was recorded
    before regbench kept anytime curves)."""

    time_s: np.ndarray
    iterations: np.ndarray
    dense_metric: np.ndarray
    error_mean: np.ndarray
    error_mean_fg: np.ndarray

    def __len__(self) -> int:
        return int(self.time_s.size)

    @property
    def end_s(self) -> float:
        """When the run's last execution ended (its last point); NaN without a curve."""
        return float(self.time_s[-1]) if self.time_s.size else float("nan")


CURVE_COLUMNS = ("time_s", "iterations", "dense_metric", "error_mean", "error_mean_fg")
EMPTY_CURVE = Curve(*(np.zeros(0) for _ in CURVE_COLUMNS))


def curve_of(value: Any) -> Curve:
    """A :class:`Curve` from a record's ``anytime`` (its dict in a summary, or the dataclass); empty if none."""
    if value is None:
        return EMPTY_CURVE
    if not isinstance(value, Mapping):
        value = {name: getattr(value, name, None) for name in CURVE_COLUMNS}
    times = value.get("time_s") or []
    if not times:
        return EMPTY_CURVE
    n = len(times)
    arrays = []
    for name in CURVE_COLUMNS:
        column = value.get(name) or []
        # None becomes NaN; a column shorter than the times (a hand-made curve) is padded with NaN
        padded = list(column) + [None] * (n - len(column))
        arrays.append(np.array(padded, dtype=float) if column else np.full(n, np.nan))
    return Curve(*arrays)


#: Column-name prefix of a plugin measure (``record.measures[NAME]``, numeric): ``measures.NAME``.
PLUGIN_MEASURE_PREFIX = "measures."


def plugin_measures(runs: Runs) -> list[str]:
    """The names of the numeric plugin measures some run of ``runs`` has."""
    return [k[len(PLUGIN_MEASURE_PREFIX) :] for k in runs.columns if k.startswith(PLUGIN_MEASURE_PREFIX)]


class SourceError(ValueError):
    """A result source that cannot be read: the message names the file and what is wrong."""


@dataclass
class Runs:
    """The summary columns of many runs, one array per field.

    Floats are ``float64`` with NaN for missing values (``returned_best``, ``registered`` and ``deterministic``
    are 1/0/NaN); text fields are object arrays with ``None`` for missing; ``seed`` and ``repeat`` are integers
    (``repeat`` 0 where a store predates it); ``flags`` is the record's flags joined by commas ("" for none).
    ``solver`` is the strategy name, plus the parameters that vary between runs of that strategy (so a parameter
    grid gives one solver per grid point).
    """

    columns: dict[str, np.ndarray]
    params: list[dict[str, Any]]
    source: str = ""
    # Full records when the source held them in memory (a list of records, a JSON file); else read on demand.
    _records: dict[str, RunRecord] | None = field(default=None, repr=False)
    _store_path: Path | None = field(default=None, repr=False)
    # Derived per-run arrays that several statistics share (group codes); dropped by ``subset``.
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Which rows of the store were skipped as unreadable (None: none was).
    skipped: str | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def solver(self) -> np.ndarray:
        return self.columns["solver"]

    def codes(self, name: str) -> tuple[list[str], np.ndarray]:
        """The sorted distinct values of a text column (as str; None becomes "None") and each run's index into
        them: the grouping every table and statistic shares, computed once per column."""
        key = f"codes:{name}"
        if key not in self._cache:
            values = np.array([str(v) for v in self.columns[name].tolist()], dtype=str)
            if values.size:
                names, inverse = np.unique(values, return_inverse=True)
            else:
                names, inverse = np.array([], dtype=str), np.array([], dtype=np.int64)
            self._cache[key] = (names.tolist(), inverse.astype(np.int64).reshape(-1))
        return self._cache[key]

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
        with Store.read_only(self._store_path) as store:
            return store.get_many(list(keys))  # an unreadable row is skipped (load_store said so)


def from_dicts(rows: Sequence[Mapping[str, Any]], source: str = "") -> Runs:
    """Columns from record dicts (a record's ``to_dict()`` or its summary; missing fields are missing values)."""
    columns: dict[str, np.ndarray] = {}
    for name in FLOAT_FIELDS:
        columns[name] = np.array([_float(r.get(name)) for r in rows], dtype=float)
    for name in MEASURE_FIELDS:
        # a record keeps them in ``measures``; a pytest-benchmark extra_info may carry them at the top level
        columns[name] = np.array([_float(r.get(name, _measures(r).get(name))) for r in rows], dtype=float)
    # Plugins' numeric measures (regbench_evaluate), as "measures.NAME" columns for opt-in table columns and gates.
    plugin = sorted(
        {
            k
            for r in rows
            for k, v in _measures(r).items()
            if k not in MEASURE_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
    )
    for name in plugin:
        columns[f"{PLUGIN_MEASURE_PREFIX}{name}"] = np.array(
            [_float(_measures(r).get(name)) for r in rows], dtype=float
        )
    for name in BOOL_FIELDS:
        columns[name] = np.array([bool(r.get(name)) for r in rows], dtype=bool)
    for name in TEXT_FIELDS:
        columns[name] = np.array([_text(r.get(name)) for r in rows] or [], dtype=object)
    columns["seed"] = np.array([int(r.get("seed") or 0) for r in rows], dtype=np.int64)
    columns["repeat"] = np.array([int(r.get("repeat") or 0) for r in rows], dtype=np.int64)
    columns["flags"] = np.array([_flags(r.get("flags")) for r in rows] or [], dtype=object)
    # where each run ran (None: not recorded), and the run key a merged repeat is of (regbench.store.merge)
    columns["host"] = np.array([_host(r) for r in rows] or [], dtype=object)
    columns["run_key"] = np.array([_run_key(r) for r in rows] or [], dtype=object)
    columns["load_start"] = np.array([_load_start(r) for r in rows], dtype=float)  # 1-minute load average
    # the real case a simulated case's instances come from (None: not simulated)
    columns["simulated_from"] = np.array([_simulated_from(r) for r in rows] or [], dtype=object)
    curves = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):  # one by one: numpy must not unpack a curve as a sequence
        curves[i] = curve_of(r.get("anytime"))
    columns["anytime"] = curves
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


def load_store(path: str | Path, case_files: Sequence[str | os.PathLike] = ()) -> Runs:
    """The summary columns of every run in a result store, read without parsing traces; the kept positions of runs
    stored without their evaluation are evaluated first, once (:mod:`~regbench.report.load.completion`;
    ``case_files``: the ``--cases`` files)."""
    complete_before_reading(path, None, case_files)
    try:
        with Store.read_only(path) as store:
            runs = from_dicts(store.summaries(_HEAVY), str(path))
            note = store.skipped_note()
    except StoreError as exc:
        raise SourceError(str(exc)) from exc
    if note:  # the readable rows are reported; say which were not
        print(f"warning: {note}", file=sys.stderr)
    runs.skipped = note
    runs._store_path = Path(path)
    return runs


def store_key(path: str | Path, prefix: str, case_files: Sequence[str | os.PathLike] = ()) -> RunRecord:
    """The one record whose key starts with ``prefix`` (its kept positions evaluated, as :func:`load_store` does);
    a clear error when none or several match."""
    try:
        with Store.read_only(path) as store:
            found = store.find(prefix)
    except StoreError as exc:
        raise SourceError(str(exc)) from exc
    if not found:
        raise SourceError(
            f"{path}: no run with a key starting with {prefix!r} (`regbench runs --store {path}` lists the runs with "
            "their keys)"
        )
    if len(found) > 1:
        keys = ", ".join(r.key or "" for r in found[:5])  # stored records have their key
        raise SourceError(f"{path}: {prefix!r} matches several runs ({keys}...): give more characters")
    record = found[0]
    if (
        record.evaluation_plan is not None
        and record.key
        and not complete_before_reading(path, {record.key}, case_files).left
    ):
        with Store.read_only(path) as store:
            record = store.get(record.key) or record
    return record


def complete_before_reading(
    path: str | Path, keys: set[str] | None = None, case_files: Sequence[str | os.PathLike] = ()
) -> Completion:
    """Evaluate the store's pending records (of ``keys``), saying on stderr which stay pending and why: what every
    reader of full records does first (:mod:`~regbench.report.load.completion`; cheap when none is pending)."""
    from regbench.report.load.completion import Completion, complete_pending

    completion = complete_pending(path, keys, case_files) if _has_pending(path, keys) else Completion()
    note = completion.note()
    if note:
        print(f"warning: {note}", file=sys.stderr)
    return completion


def _has_pending(path: str | Path, keys: set[str] | None) -> bool:
    try:
        with Store.read_only(path) as store:
            return bool(pending_keys(store, keys))
    except StoreError:
        return False  # the reader's own open says what is wrong with the file


def _float(value: Any) -> float:
    if value is None or isinstance(value, (str, dict, list)):
        return np.nan
    return float(value)


def _flags(value: Any) -> str:
    # a record keeps a list; its summary (and pytest-benchmark extra_info) a comma-joined string
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _measures(row: Mapping[str, Any]) -> Mapping[str, Any]:
    measures = row.get("measures")
    return measures if isinstance(measures, Mapping) else {}


def _host(row: Mapping[str, Any]) -> str | None:
    host = row.get("host")  # the record's facts, or the name alone (a record's summary, extra_info)
    return _text(host.get("name") if isinstance(host, Mapping) else host)


def _load_start(row: Mapping[str, Any]) -> float:
    host = row.get("host")
    load = host.get("load_start") if isinstance(host, Mapping) else None
    return _float(load[0]) if isinstance(load, list) and load else np.nan


def _run_key(row: Mapping[str, Any]) -> str | None:
    provenance = row.get("provenance")
    merged = provenance.get("merged") if isinstance(provenance, Mapping) else None
    return _text(merged.get("key") if isinstance(merged, Mapping) else row.get("key"))


def _simulated_from(row: Mapping[str, Any]) -> str | None:
    provenance = row.get("provenance")
    simulation = provenance.get("simulation") if isinstance(provenance, dict) else None
    return _text(simulation.get("simulated_from")) if isinstance(simulation, dict) else None


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
