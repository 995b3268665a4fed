"""Where runs come from: a result store, a JSON record file, JSON lines, or a pytest-benchmark JSON file."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from regbench.record import RunRecord
from regbench.report.load.columns import Runs, SourceError, from_dicts, from_records, load_store, store_key
from regbench.util.safe_files import file_problem, parse_nested

SQLITE_MAGIC = b"SQLite format 3\x00"
# pytest-benchmark's extra_info carries the record summary under these names where they differ.
BENCHMARK_RENAMES = {"optimizer_iterations": "iterations", "run_key": "key"}


def load_runs(path: str | Path, case_files: Sequence[str | os.PathLike] = ()) -> Runs:
    """Runs from any supported file, chosen by its content (not its name); ``case_files`` (``--cases``) find the
    cases of runs stored before their kept positions were evaluated (:mod:`~regbench.report.load.completion`)."""
    path = Path(path)
    problem = file_problem(path)
    if problem == "not found":
        raise SourceError(f"{path}: no such file")
    if problem == "is a directory":
        raise SourceError(f"{path}: is a directory; give a result store or a JSON file")
    if problem is not None:  # before opening it: a FIFO would block
        raise SourceError(f"{path}: {problem}")
    return load_store(path, case_files) if _is_store(path) else load_json(path, case_files)


def load_json(path: Path, case_files: Sequence[str | os.PathLike] = ()) -> Runs:
    problem = file_problem(path)
    if problem is not None:
        raise SourceError(f"{path}: {problem}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: a binary file (byte {exc.start} is not UTF-8), not a result store, JSON or JSON lines"
        ) from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = parse_nested(json.loads, text, "the JSON")
    except ValueError as first:
        # JSON lines (one record per line, as `regbench export --format jsonl` writes)
        try:
            data = [parse_nested(json.loads, line, "the JSON") for line in text.splitlines() if line.strip()]
        except ValueError:
            raise SourceError(f"{path}: not JSON, JSON lines or a result store ({first})") from None
    if isinstance(data, dict) and "benchmarks" in data:
        return from_benchmark_json(data, str(path))
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) and "strategy" in item and "case" in item for item in items):
        raise SourceError(f"{path}: expected run records (objects with strategy and case) or pytest-benchmark JSON")
    records = []
    for number, item in enumerate(items, start=1):
        try:
            records.append(RunRecord.from_dict(item))
        except (TypeError, ValueError) as exc:
            where = f"{path}" if len(items) == 1 else f"{path}: record {number}"
            message = str(exc) if str(exc).startswith("not a run record") else f"not a run record: {exc}"
            raise SourceError(f"{where}: {message}") from None
    if any(r.evaluation_plan is not None for r in records):  # exported from a store before a report completed it
        from regbench.report.load.completion import complete_in_memory

        note = complete_in_memory(records, case_files).note()
        if note:
            print(f"warning: {path}: {note}", file=sys.stderr)
    return from_records(records, str(path))


def load_record(path: Path, case_files: Sequence[str | os.PathLike] = ()) -> RunRecord:
    """One record from a JSON file (``regbench run --json`` output, or a list holding exactly one)."""
    records = _full_records(load_json(path, case_files), path)
    if len(records) != 1:
        raise SourceError(
            f"{path}: holds {len(records)} records; `show` explains one: give its key with --store {path}"
        )
    return records[0]


def find_record(source: str | Path, prefix: str, case_files: Sequence[str | os.PathLike] = ()) -> RunRecord:
    """The one record of ``source`` (a result store, or a JSON / JSON-lines record file) whose key starts with
    ``prefix``; a clear error when none or several match."""
    path = Path(source)
    if not path.is_file() or _is_store(path):
        return store_key(source, prefix, case_files)
    records = [r for r in _full_records(load_json(path), path) if (r.key or "").startswith(prefix)]
    if len(records) != 1:
        what = "no run" if not records else f"{len(records)} runs"
        raise SourceError(f"{path}: {what} with a key starting with {prefix!r}")
    return records[0]


def _full_records(runs: Runs, path: Path) -> list[RunRecord]:
    """The complete records a JSON file holds; a pytest-benchmark file holds only their summaries: say so."""
    if runs._records is None:  # from the summaries alone: pytest-benchmark's extra_info
        raise SourceError(
            f"{path}: a pytest-benchmark file: it holds the summaries of {len(runs)} benchmark runs, not their full "
            f"records, so `show` cannot explain one (`regbench report --store {path}` tables them; `regbench run "
            "... --json` or a result store keeps full records)"
        )
    return runs.records(list(runs["key"]))


def _is_store(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def from_benchmark_json(data: dict[str, Any], source: str = "") -> Runs:
    """One run per benchmark: extra_info holds the record summary; time is pytest-benchmark's median round.

    pytest-benchmark's median is used for ``wall_time_s`` because it is what that tool measured (several
    rounds); extra_info's own ``wall_time_s``, if any, is one run's time.
    """
    rows = []
    for i, bench in enumerate(data.get("benchmarks") or []):
        extra: dict[str, Any] = dict(bench.get("extra_info") or {})
        row = {BENCHMARK_RENAMES.get(k, k): v for k, v in extra.items() if k != "iterations"}
        strategy, case = _strategy_and_case(bench, extra)
        row.setdefault("strategy", strategy)
        row.setdefault("case", case)
        row.setdefault("status", "ok")
        row.setdefault("seed", (bench.get("params") or {}).get("seed", 0))
        stats = bench.get("stats") or {}
        if stats.get("median") is not None:
            row["wall_time_s"] = stats["median"]
        row.setdefault("key", bench.get("fullname") or bench.get("name") or f"#{i}")
        rows.append(row)
    if not rows:
        raise SourceError(f"{source}: a pytest-benchmark file with no benchmarks")
    return from_dicts(rows, source)


def _strategy_and_case(bench: dict[str, Any], extra: dict[str, Any]) -> tuple[str, str]:
    params = bench.get("params") or {}
    strategy = extra.get("strategy") or params.get("strategy")
    case = extra.get("case") or params.get("case")
    if strategy and case:
        return str(strategy), str(case)
    # test_name[strategy-case] is how a parametrized benchmark is named when nothing else says it
    match = re.search(r"\[(.+)\]$", bench.get("name") or "")
    parts = match.group(1).split("-", 1) if match else []
    name = bench.get("name") or "benchmark"
    return str(strategy or (parts[0] if parts else name)), str(case or (parts[1] if len(parts) > 1 else name))
