"""Records out of regbench: JSON lines (complete records), CSV and pandas (flat summary rows).

A flat row is :meth:`RunRecord.summary` plus one ``params.<name>`` column per parameter, so a parameter grid
can be grouped on directly. Missing values are empty in CSV and NaN/None in pandas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from regbench.record import RunRecord, dumps

if TYPE_CHECKING:
    import pandas

FORMATS = ("jsonl", "csv")


def flat_row(record: RunRecord) -> dict[str, Any]:
    row = record.summary()
    for name, value in record.params.items():
        row[f"params.{name}"] = value
    return row


def write_jsonl(records: Iterable[RunRecord], out: IO[str]) -> int:
    """One complete strict-JSON record per line; returns the count."""
    count = 0
    for record in records:
        out.write(record.to_json() + "\n")
        count += 1
    return count


def write_csv(records: Iterable[RunRecord], out: IO[str]) -> int:
    """Flat rows; the header is the union of every row's columns in first-seen order. Returns the count."""
    rows = [flat_row(r) for r in records]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return len(rows)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    if isinstance(value, (list, dict)):
        return dumps(value, sort_keys=True)
    return value


def write(records: Iterable[RunRecord], out: IO[str], fmt: str) -> int:
    if fmt == "jsonl":
        return write_jsonl(records, out)
    if fmt == "csv":
        return write_csv(records, out)
    raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")


def to_dataframe(records: Iterable[RunRecord]) -> pandas.DataFrame:
    """A pandas DataFrame of flat rows (pandas is optional: ``pip install 'regbench[pandas]'``)."""
    try:
        import pandas as pd
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "to_dataframe needs pandas, which is not installed: pip install 'regbench[pandas]'"
        ) from exc
    rows = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in flat_row(r).items()} for r in records]
    return pd.DataFrame.from_records(rows)
