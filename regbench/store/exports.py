"""Records out of regbench: JSON lines (complete records), CSV and pandas (flat summary rows).

A flat row is :meth:`RunRecord.summary` with its parameters as one ``params.<name>`` column each (in place of
the summary's ``params`` JSON string), so a parameter grid can be grouped on directly; ``measures.<name>``
likewise. CSV and pandas have the same columns. A sequence-valued parameter or measure is a JSON string in
both; missing values are empty in CSV and NaN/None in pandas.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from regbench.record import RunRecord
from regbench.util.strict_json import dumps

if TYPE_CHECKING:
    import pandas

FORMATS = ("jsonl", "csv")


def flat_row(record: RunRecord) -> dict[str, Any]:
    """The summary fields with ``params.<name>`` columns where the summary has its ``params`` JSON string."""
    row: dict[str, Any] = {}
    for column, value in record.summary().items():
        if column == "params":
            row.update({f"params.{name}": value for name, value in sorted(record.params.items())})
        else:
            row[column] = value
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
    writer = csv.DictWriter(out, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return len(rows)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every row's columns in first-seen order, the params.* and then the measures.* ones last, together
    (strategies have different parameters: a union in plain first-seen order would interleave them)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    group = {"params": 1, "measures": 2}
    return sorted(seen, key=lambda column: group.get(column.partition(".")[0], 0))


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    value = _scalar(value)
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value  # a spreadsheet would run it as a formula (=HYPERLINK(...)): make it text
    return value


#: What makes a spreadsheet read a cell as a formula (OWASP's list): such text cells get a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _scalar(value: Any) -> Any:
    """A list or dict as one strict-JSON cell; CSV and pandas use the same text."""
    return dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


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
    rows = [{k: _scalar(v) for k, v in flat_row(r).items()} for r in records]
    return pd.DataFrame.from_records(rows, columns=_columns(rows))
