"""`regbench export --format parquet DIR`: three tables read back by pandas hold the records' own values."""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.evaluation.outcomes import verdict
from regbench.record import RunRecord
from regbench.store.parquet import TABLES
from regbench.store.sqlite import Store

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

RUNS = (
    ("gd", "synth2d-affine", {"number_of_iterations": 30}),
    ("lbfgs2", "synth2d-translation", {"number_of_iterations": 10}),
)


@pytest.fixture(scope="module")
def records() -> list[RunRecord]:
    pm = regbench.make_plugin_manager(entrypoints=False)
    return [regbench.run_one(s, c, seed=0, params=p, threads=1, pm=pm) for s, c, p in RUNS]


@pytest.fixture
def store(tmp_path, records) -> Path:
    path = tmp_path / "s.sqlite"
    with Store(path) as db:
        for record in records:
            db.add(record)
    return path


def _export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["export", *args])
    return result.exit_code, result.output


def _same(a: object, b: object) -> bool:
    """Equal, a NaN that pandas read counting as the record's None."""
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a))
    return bool(a == b)


def test_the_three_tables_hold_the_records_values(store, records, tmp_path):
    code, output = _export("--store", str(store), "--format", "parquet", str(tmp_path / "out"))
    assert code == 0, output
    assert "2 runs written" in output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("key")
    trace = pd.read_parquet(tmp_path / "out" / "trace.parquet")
    positions = pd.read_parquet(tmp_path / "out" / "positions.parquet")
    assert sorted(runs.index) == sorted(r.key for r in records)
    for record in records:
        row = runs.loc[record.key]
        for name in ("strategy", "case", "seed", "instance", "status", "outcome", "stop_condition", "iterations"):
            assert row[name] == getattr(record, name), name
        for name in ("error_mean", "error_max", "final_metric_dense", "wall_time_s", "peak_rss_mb", "jacobian_min"):
            assert _same(row[name], getattr(record, name)), name
        assert row["verdict"] == verdict(record)
        assert row["host_name"] == record.host["name"] and json.loads(row["host"]) == record.host
        assert bool(row["registered"]) == record.registered
        assert json.loads(row["params"]) == record.params
        assert json.loads(row["measures"]) == record.measures
        assert json.loads(row["transform"]) == record.transform
        assert list(row["level_iterations"]) == [level.iterations for level in record.levels]
        assert list(row["segment_stop_conditions"]) == [s.stop_condition for s in record.segments]
        assert list(row["flags"]) == record.flags and list(row["fixed_spacing"]) == record.fixed_spacing
        assert list(row["anytime_time_s"]) == record.anytime.time_s
        # the long trace: one row per sample, in order, every column but the positions
        samples = trace[trace.key == record.key].sort_values("sample")
        assert len(samples) == len(record.trace) == row["trace_samples"] > 0
        for name in ("segment", "level", "iteration", "metric", "time_s", "dense_metric", "error_mean"):
            column = getattr(record.trace, name)
            assert all(_same(a, b) for a, b in zip(samples[name], column, strict=True)), name
        assert samples["dense_metric"].notna().any()  # the post-run columns, evaluated after the run
        kept = positions[positions.key == record.key].sort_values("sample")
        assert list(kept["sample"]) == record.trace.positions() and len(kept) == row["positions_kept"] > 0
        for sample, position in zip(kept["sample"], kept["position"], strict=True):
            assert list(position) == record.trace.position[sample]
    assert trace["dense_metric"].isna().any()  # gd's run kept (and evaluated) some positions only: nulls


def test_a_selection_and_the_positional_or_option_directory(store, records, tmp_path):
    code, output = _export("--store", str(store), "-f", "parquet", "-o", str(tmp_path / "o"), "-s", "gd")
    assert code == 0, output
    assert list(pd.read_parquet(tmp_path / "o" / "runs.parquet")["strategy"]) == ["gd"]
    gd = next(r for r in records if r.strategy == "gd")
    assert set(pd.read_parquet(tmp_path / "o" / "trace.parquet")["key"]) == {gd.key}


def test_usage_errors(store, tmp_path):
    code, output = _export("--store", str(store), "-f", "parquet")
    assert code == 2 and "directory" in output
    (tmp_path / "file").write_text("x")
    code, output = _export("--store", str(store), "-f", "parquet", str(tmp_path / "file"))
    assert code == 2 and "is a file, not a directory" in output
    code, output = _export("--store", str(store), "-f", "parquet", "-o", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2 and "not both" in output
    code, output = _export("--store", str(store), "-f", "csv", str(tmp_path))  # DIR is for parquet: csv is one file
    assert code == 2 and "is a directory; csv is written to a file" in output


def test_without_pyarrow_the_error_names_the_extra(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, output = _export("--store", str(store), "-f", "parquet", str(tmp_path / "out"))
    assert code == 2
    assert "pip install 'regbench[parquet]'" in output
    assert not (tmp_path / "out").exists()


def test_a_value_arrow_cannot_store_names_its_run_and_leaves_no_files(store, records, tmp_path):
    # a hand-edited store: spacing as text passes the record's type check (a list) but is no list of numbers
    bad = records[1].to_dict() | {"fixed_spacing": ["one", "two"]}
    db = sqlite3.connect(store)
    with db:
        db.execute("UPDATE runs SET record = ? WHERE key = ?", (json.dumps(bad), records[1].key))
    db.close()
    out = tmp_path / "out"
    code, output = _export("--store", str(store), "-f", "parquet", str(out))
    assert code == 1, output
    assert records[1].key in output and "'fixed_spacing'" in output
    assert list(out.iterdir()) == []  # no table, and no partial file
