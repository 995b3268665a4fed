"""How long exporting a 10,000-run store with traces takes, and how large the result is: Parquet beside JSON lines.

pytest benchmarks/test_export_bench.py -s

The store is the report benchmark's (benchmarks/test_report_bench.py: 10,000 records made from real runs, with
their full traces, kept positions and transforms), with one change: there, every trace is a copy of one of four
real runs' traces, which compresses far better than real traces would; here each record's trace values, kept
positions and transform parameters are perturbed (relative noise of 1e-3), so no two runs share those bytes.
Both exports run as a user runs them (`regbench export`, a subprocess: Python start-up, imports, reading and
decoding every record, writing), twice each, interleaved. Printed: the fastest wall time and the size of each,
their ratios, the rows of each Parquet table, and the load average before and after.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_report_bench import N_RUNS, big_store, load_average, timed  # noqa: F401  (big_store: a fixture)

pyarrow_parquet = pytest.importorskip("pyarrow.parquet")


#: The trace columns perturbed (the others are counters: segment, level, iteration).
NOISY = (
    "metric",
    "learning_rate",
    "convergence",
    "time_s",
    "exec_time_s",
    "dense_metric",
    "error_mean",
    "error_mean_fg",
)


def _perturb(values: list, rng: np.random.Generator) -> list:
    """Each number times (1 + 1e-3 × a normal draw); None stays None."""
    return [None if v is None else float(v * (1 + 1e-3 * rng.standard_normal())) for v in values]


@pytest.fixture(scope="module")
def distinct_store(big_store, tmp_path_factory) -> Path:  # noqa: F811
    """The report benchmark's store with every run's trace, positions and transform perturbed."""
    path = tmp_path_factory.mktemp("export") / "distinct.sqlite"
    shutil.copy(big_store, path)
    rng = np.random.default_rng(0)
    db = sqlite3.connect(path)
    with db:
        for key, text in db.execute("SELECT key, record FROM runs").fetchall():
            data = json.loads(text)
            trace = data["trace"]
            for name in NOISY:
                trace[name] = _perturb(trace[name], rng)
            trace["position"] = [None if p is None else _perturb(p, rng) for p in trace["position"]]
            if data.get("transform") and data["transform"].get("parameters"):
                data["transform"]["parameters"] = _perturb(data["transform"]["parameters"], rng)
            db.execute("UPDATE runs SET record = ? WHERE key = ?", (json.dumps(data), key))
    db.close()
    return path


ROUNDS = 2


def _mb(path: Path) -> float:
    files = path.glob("*.parquet") if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 1e6


def test_parquet_export_of_a_10000_run_store_beside_json_lines(distinct_store, tmp_path, capsys):
    load_before = load_average()
    commands = {
        "jsonl": ["export", "--store", str(distinct_store), "-o", str(tmp_path / "runs.jsonl")],
        "parquet": ["export", "--store", str(distinct_store), "--format", "parquet", str(tmp_path / "pq")],
    }
    seconds: dict[str, list[float]] = {"jsonl": [], "parquet": []}
    for _ in range(ROUNDS):  # interleaved, the fastest of each: a shared machine's load moves between runs
        for name, args in commands.items():
            elapsed, done = timed(args)
            assert done.returncode == 0, done.stderr
            seconds[name].append(elapsed)
    jsonl_s, parquet_s = min(seconds["jsonl"]), min(seconds["parquet"])
    rows = {
        name: pyarrow_parquet.ParquetFile(tmp_path / "pq" / f"{name}.parquet").metadata.num_rows
        for name in ("runs", "trace", "positions")
    }
    runs = pyarrow_parquet.read_table(tmp_path / "pq" / "runs.parquet", columns=["trace_samples", "positions_kept"])
    assert rows["runs"] == N_RUNS
    assert rows["trace"] == sum(runs["trace_samples"].to_pylist()) > N_RUNS
    assert rows["positions"] == sum(runs["positions_kept"].to_pylist()) > 0
    jsonl_mb, parquet_mb = _mb(tmp_path / "runs.jsonl"), _mb(tmp_path / "pq")
    tables = ", ".join(
        f"{name} {n:,} rows {_mb(tmp_path / 'pq' / f'{name}.parquet'):.1f} MB" for name, n in rows.items()
    )
    with capsys.disabled():
        print(
            f"\nexport of {N_RUNS} runs with traces ({_mb(distinct_store):.0f} MB store):\n"
            f"  JSON lines: {jsonl_s:.2f} s (fastest of {ROUNDS}), {jsonl_mb:.1f} MB\n"
            f"  Parquet:    {parquet_s:.2f} s (fastest of {ROUNDS}), {parquet_mb:.1f} MB "
            f"({tables})\n"
            f"  Parquet / JSON lines: time {parquet_s / jsonl_s:.2f}×, size {parquet_mb / jsonl_mb:.3f}×\n"
            f"  load average before {load_before}, after {load_average()}"
        )
