"""Records out of regbench as Parquet: three tables in one directory, for pandas, polars, DuckDB or R's arrow.

``DIR/runs.parquet``: one row per run. Every record field is a column of its own type (numbers, text, booleans;
a list of numbers or texts is a list column), except those that are mappings or nested: ``params``,
``measures``, ``provenance``, ``versions``, ``dice_per_label``, ``transform`` and ``segments`` (without their
transforms) are strict-JSON text columns (``host`` too). Added beside them: ``verdict`` (how every regbench
table counts the run), ``host_name``, ``level_iterations`` (iterations of each level, every execution's levels in
order), ``segment_iterations``, ``segment_stop_conditions``, ``segment_errors``, the anytime curve as
``anytime_<name>`` list columns, and the run's row counts in the other tables (``trace_samples``,
``positions_kept``).

``DIR/trace.parquet``: one row per trace sample (long): ``key``, ``sample`` (its index in the run's trace), then
every trace column but ``position``: the event columns (``segment``, ``level``, ``iteration``, ``metric``, ...)
and the post-run ones (``dense_metric``, ``error_mean``, ``error_mean_fg``; null where the position was not
evaluated). ``DIR/positions.parquet``: one row per kept position: ``key``, ``sample``, ``segment``, ``level``,
``iteration`` and ``position`` (a list of the optimizer's parameters). ``key`` and ``sample`` join the tables.

pyarrow is optional (``pip install 'regbench[parquet]'``); it is imported when a table is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regbench.evaluation.outcomes import verdict
from regbench.record import TRACE_COLUMNS, RunRecord

if TYPE_CHECKING:
    import pyarrow

TABLES = ("runs", "trace", "positions")
INSTALL_HINT = "pip install 'regbench[parquet]'"
#: Records converted per written row group: bounds the memory of an export of traces.
BATCH = 500

_LIST_COLUMNS = {  # derived list columns of runs.parquet and their item types
    "level_iterations": "int",
    "segment_iterations": "int",
    "segment_stop_conditions": "str",
    "segment_errors": "str",
    "anytime_time_s": "float",
    "anytime_iterations": "int",
    "anytime_dense_metric": "float",
    "anytime_error_mean": "float",
    "anytime_error_mean_fg": "float",
}
#: Derived text columns of runs.parquet: the host's name, to group by without parsing ``host``.
_TEXT_COLUMNS = ("host_name",)
_INT_TRACE_COLUMNS = ("segment", "level", "iteration")


class ParquetUnavailable(ModuleNotFoundError):
    """pyarrow is not installed: the message says how to install it."""


def pyarrow_module() -> Any:
    """pyarrow (with ``pyarrow.parquet`` loaded), or :class:`ParquetUnavailable` naming the extra to install."""
    try:
        import pyarrow
        import pyarrow.parquet  # loads pyarrow.parquet as an attribute of pyarrow
    except ModuleNotFoundError as exc:
        raise ParquetUnavailable(f"Parquet export needs pyarrow, which is not installed: {INSTALL_HINT}") from exc
    return pyarrow


_SCALARS = ("str", "int", "float", "bool")


def _plain(hint: str) -> str | None:
    """A record field's annotation (a string) as ``str``, ``int``, ``float``, ``bool`` or ``list[<one of
    them>]``; None for a mapping or a nested value (written as JSON text)."""
    base = hint.replace(" ", "").replace("|None", "")
    if base in _SCALARS or (base.startswith("list[") and base[5:-1] in _SCALARS):
        return base
    return None


def _arrow_type(pa: Any, hint: str) -> pyarrow.DataType:
    scalars = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    base = _plain(hint)
    if base is None:
        return pa.string()
    return scalars[base] if base in scalars else pa.list_(scalars[base[5:-1]])


#: The record fields written as strict-JSON text (the trace and anytime curve have tables and columns of their own).
JSON_FIELDS = tuple(
    f.name for f in dataclasses.fields(RunRecord) if _plain(str(f.type)) is None and f.name not in ("trace", "anytime")
)


def runs_schema(pa: Any) -> pyarrow.Schema:
    """The columns of runs.parquet: ``key`` first, the record's fields in their order (``verdict`` after
    ``outcome``), then the derived columns."""
    fields = [pa.field("key", pa.string())]
    for f in dataclasses.fields(RunRecord):
        if f.name in ("key", "trace", "anytime"):
            continue
        fields.append(pa.field(f.name, _arrow_type(pa, str(f.type))))
        if f.name == "outcome":
            fields.append(pa.field("verdict", pa.string()))
    fields += [pa.field(name, pa.string()) for name in _TEXT_COLUMNS]
    fields += [pa.field(name, _arrow_type(pa, f"list[{item}]")) for name, item in _LIST_COLUMNS.items()]
    fields += [pa.field("trace_samples", pa.int64()), pa.field("positions_kept", pa.int64())]
    return pa.schema(fields)


def trace_schema(pa: Any) -> pyarrow.Schema:
    fields = [pa.field("key", pa.string()), pa.field("sample", pa.int64())]
    for name in TRACE_COLUMNS:
        if name != "position":
            fields.append(pa.field(name, pa.int64() if name in _INT_TRACE_COLUMNS else pa.float64()))
    return pa.schema(fields)


def positions_schema(pa: Any) -> pyarrow.Schema:
    fields = [pa.field("key", pa.string()), pa.field("sample", pa.int64())]
    fields += [pa.field(name, pa.int64()) for name in _INT_TRACE_COLUMNS]
    return pa.schema([*fields, pa.field("position", pa.list_(pa.float64()))])


def _run_row(record: RunRecord, data: dict[str, Any]) -> dict[str, Any]:
    """One row of runs.parquet from a record and its strict-JSON dict."""
    # ``data`` is strict-JSON-ready already (RunRecord.to_dict): json.dumps without walking it again
    row = {
        name: json.dumps(value, sort_keys=True, allow_nan=False) if name in JSON_FIELDS and value is not None else value
        for name, value in data.items()
    }
    row["verdict"] = verdict(record)
    host = data.get("host")
    row["host_name"] = host.get("name") if isinstance(host, dict) else None
    segments = data["segments"]
    row["level_iterations"] = [level["iterations"] for segment in segments for level in segment["levels"]]
    row["segment_iterations"] = [segment["iterations"] for segment in segments]
    row["segment_stop_conditions"] = [segment["stop_condition"] for segment in segments]
    row["segment_errors"] = [segment["error"] for segment in segments]
    for name, values in data["anytime"].items():
        row[f"anytime_{name}"] = values
    row["trace_samples"] = len(data["trace"]["iteration"])
    row["positions_kept"] = sum(p is not None for p in data["trace"]["position"])
    return row


class _Table:
    """One table being written: its rows gathered column-wise, written as a row group every :data:`BATCH` runs
    to a partial file that takes its final name when the export is complete."""

    def __init__(self, pa: Any, directory: Path, name: str, schema: pyarrow.Schema) -> None:
        self.pa, self.schema = pa, schema
        self.path = directory / f"{name}.parquet"
        self.partial = directory / f".{name}.parquet.partial"
        self.writer = pa.parquet.ParquetWriter(self.partial, schema, compression="zstd")
        self.columns: dict[str, list[Any]] = {name: [] for name in schema.names}

    def flush(self) -> None:
        if not self.columns["key"]:
            return
        try:
            table = self.pa.Table.from_pydict(self.columns, schema=self.schema)
        except (self.pa.ArrowInvalid, self.pa.ArrowTypeError) as exc:
            raise ValueError(f"{self.path.name}: {self._culprit()}: {exc}") from None
        self.writer.write_table(table)
        self.columns = {name: [] for name in self.schema.names}

    def _culprit(self) -> str:
        """The first run and column that Arrow cannot convert (a hand-edited store), for the message."""
        for name, values in self.columns.items():
            try:
                self.pa.array(values, type=self.schema.field(name).type)
            except (self.pa.ArrowInvalid, self.pa.ArrowTypeError):
                for i, value in enumerate(values):
                    try:
                        self.pa.array([value], type=self.schema.field(name).type)
                    except (self.pa.ArrowInvalid, self.pa.ArrowTypeError):
                        return f"run {self.columns['key'][i]}, column {name!r}"
        return "a run"

    def close(self, complete: bool) -> None:
        self.writer.close()
        if complete:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def write_parquet(records: Iterable[RunRecord], directory: str | Path) -> int:
    """Write runs.parquet, trace.parquet and positions.parquet into ``directory`` (made if missing; the three
    files are replaced only once all three are written). Returns the count of runs. Needs pyarrow
    (:class:`ParquetUnavailable` otherwise); a value Arrow cannot store raises ValueError naming its run."""
    pa = pyarrow_module()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    schemas = {"runs": runs_schema(pa), "trace": trace_schema(pa), "positions": positions_schema(pa)}
    tables = {name: _Table(pa, directory, name, schema) for name, schema in schemas.items()}
    count, complete = 0, False
    try:
        for record in records:
            _add(tables, record)
            count += 1
            if count % BATCH == 0:
                for table in tables.values():
                    table.flush()
        for table in tables.values():
            table.flush()
        complete = True
    finally:
        for table in tables.values():
            table.close(complete)
    return count


def _add(tables: dict[str, _Table], record: RunRecord) -> None:
    data = record.to_dict()
    row = _run_row(record, data)
    runs = tables["runs"].columns
    for name, values in runs.items():
        values.append(row.get(name))
    trace = data["trace"]
    n = len(trace["iteration"])
    columns = tables["trace"].columns
    columns["key"].extend([record.key] * n)
    columns["sample"].extend(range(n))
    for name in TRACE_COLUMNS:
        if name != "position":
            columns[name].extend(trace[name])
    kept = [i for i, p in enumerate(trace["position"]) if p is not None]
    columns = tables["positions"].columns
    columns["key"].extend([record.key] * len(kept))
    columns["sample"].extend(kept)
    for name in (*_INT_TRACE_COLUMNS, "position"):
        columns[name].extend(trace[name][i] for i in kept)
