"""The result store: one committed row per run, never rewritten silently, safe against a killed writer."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from regbench.record import RunRecord
from regbench.store.exports import write_csv, write_jsonl
from regbench.store.sqlite import SCHEMA_VERSION, Store, StoreError


def record(key: str, strategy: str = "gd", case: str = "c1", seed: int = 0, status: str = "ok", **fields) -> RunRecord:
    return RunRecord(strategy=strategy, case=case, seed=seed, key=key, status=status, **fields)


def test_add_then_read_back(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.add(record("k1", error_mean=0.5, params={"learning_rate": 1.0}))
        store.add(record("k2", strategy="lbfgs2", status="crashed", error="worker died with signal SIGSEGV"))
        assert len(store) == 2
        assert store.keys() == {"k1", "k2"}
        assert "k1" in store and "nope" not in store
        assert store.get("k2").error == "worker died with signal SIGSEGV"
        assert store.get("nope") is None
        assert [r.key for r in store.records()] == ["k1", "k2"]
        assert [r.key for r in store.records(strategy="lbfgs2")] == ["k2"]
        assert [r.key for r in store.records(status="ok", case="c1")] == ["k1"]
        assert [r.key for r in store.records(keys={"k2"})] == ["k2"]
        assert store.get("k1").to_dict() == record("k1", error_mean=0.5, params={"learning_rate": 1.0}).to_dict()


def test_records_survive_reopening_and_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.add(record("k1"))
    with Store(path) as store:
        assert store.keys() == {"k1"}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_stored_key_is_never_overwritten_silently(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.add(record("k1", error_mean=1.0))
        with pytest.raises(StoreError, match=r"already stored.*--force"):
            store.add(record("k1", error_mean=2.0))
        assert store.get("k1").error_mean == 1.0
        store.add(record("k1", error_mean=3.0), replace=True)
        assert store.get("k1").error_mean == 3.0
        assert [r.error_mean for r in store.replaced("k1")] == [1.0]
        assert len(store) == 1


def test_a_record_without_key_is_refused(tmp_path):
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(StoreError, match=r"no key"):
        store.add(RunRecord(strategy="gd", case="c", seed=0))


def test_not_a_store_and_missing_store_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not a database " * 100)
    with pytest.raises(StoreError, match=r"junk.sqlite: not a regbench result store"):
        Store(junk)
    with pytest.raises(StoreError, match=r"no such result store"):
        Store(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_a_store_from_a_newer_regbench_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match=r"newer regbench"):
        Store(path)


def test_a_newer_store_is_refused_before_anything_is_written(tmp_path):
    # the refusal came after PRAGMA journal_mode=WAL: the newer store was left in WAL mode
    path = tmp_path / "newer.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (key TEXT PRIMARY KEY, future TEXT)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(StoreError, match=r"newer regbench"):
        Store(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.sqlite"]  # no -wal or -shm beside it
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()


def test_a_reader_sees_commits_while_the_writer_is_open(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as writer:
        writer.add(record("k1"))
        with Store(path, create=False) as reader:
            assert reader.keys() == {"k1"}
            writer.add(record("k2"))
            assert reader.keys() == {"k1", "k2"}


WRITER = textwrap.dedent(
    """
    import sys
    from regbench.record import RunRecord
    from regbench.store.sqlite import Store

    store = Store(sys.argv[1])
    for i in range(100000):
        store.add(RunRecord(strategy="gd", case="c", seed=i, key=f"k{i}", notes=["x" * 2000]))
        print(i, flush=True)
    """
)


def test_kill_9_of_a_writer_loses_no_committed_record(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    reported = -1
    while reported < 200:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # every record the writer saw committed before it died is there, and the store opens and accepts writes
    with Store(path) as store:
        keys = store.keys()
        assert {f"k{i}" for i in range(reported + 1)} <= keys
        assert keys == {f"k{i}" for i in range(len(keys))}
        store.add(record("after", strategy="other"))
        assert all(r.notes == ["x" * 2000] for r in store.records(strategy="gd"))


def test_exports_are_strict_and_complete(tmp_path):
    records = [
        record("k1", params={"learning_rate": 0.5, "levels": [1, 2]}, error_mean=0.25, rounding_failure=True),
        record("k2", strategy="lbfgs2", status="timeout", error="run exceeded", measures={"tre": 1.5}),
    ]
    out = io.StringIO()
    assert write_jsonl(records, out) == 2
    lines = out.getvalue().splitlines()
    assert [RunRecord.from_json(line).to_dict() for line in lines] == [r.to_dict() for r in records]
    json.loads(lines[0], parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))

    out = io.StringIO()
    assert write_csv(records, out) == 2
    import csv

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["key"] == "k1" and rows[0]["params.learning_rate"] == "0.5"
    assert rows[0]["params.levels"] == "[1, 2]" and rows[0]["rounding_failure"] == "true"
    assert rows[0]["error_mean"] == "0.25" and rows[1]["error_mean"] == ""
    assert rows[1]["measures.tre"] == "1.5" and rows[0]["measures.tre"] == ""
    assert rows[1]["status"] == "timeout"
    header = list(rows[0])
    assert "params" not in header, "parameters are params.<name> columns only, not also a JSON column"
    params = [i for i, column in enumerate(header) if column.startswith("params.")]
    assert params == list(range(params[0], params[0] + 2)), "the params.* columns sit together"


def test_to_dataframe(tmp_path):
    pd = pytest.importorskip("pandas")
    with Store(tmp_path / "s.sqlite") as store:
        store.add(record("k1", params={"learning_rate": 0.5}, error_mean=0.25))
        store.add(record("k2", params={"learning_rate": 2.0}, wall_time_s=1.5))
        frame = store.to_dataframe()
        assert list(frame["key"]) == ["k1", "k2"]
        assert list(frame["params.learning_rate"]) == [0.5, 2.0]
        assert "params" not in frame.columns
        assert frame["error_mean"].iloc[0] == 0.25 and pd.isna(frame["error_mean"].iloc[1])
        assert len(store.to_dataframe(strategy="nope")) == 0


def test_the_writer_commits_each_record_at_once(tmp_path):
    # a second connection sees each record the moment add() returns: no batching in a transaction left open
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        other = sqlite3.connect(path)
        for i in range(3):
            store.add(record(f"k{i}"))
            assert other.execute("SELECT count(*) FROM runs").fetchone()[0] == i + 1
        other.close()


def test_someone_elses_sqlite_database_is_refused_and_left_alone(tmp_path):
    import sqlite3

    from regbench.store.sqlite import Store, StoreError

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match=r"not a regbench result store .*tables t"):
        Store(path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["t"]
