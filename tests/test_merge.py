"""``regbench merge OUT STORE...``: the union of stores by run key, a differing record kept as a repeat, inputs read
only, merging twice a no-op; and the report's hosts and "same key, different host" tables on the result."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.load.sources import load_runs
from regbench.report.stats.hosts import host_drift, host_names, hosts
from regbench.store.races import add_race, races
from regbench.store.sqlite import SCHEMA_VERSION, Store

RUN = ["run", "-c", "synth2d-translation", "-p", "number_of_iterations=5", "--plugin", "drift_plugin"]


def invoke(*args: str, code: int = 0):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "220"})
    assert result.exit_code == code, result.output
    return result


def fingerprint(path: Path) -> tuple[str, int]:
    """The bytes (hashed) and modification time of a file: what reading it must not change."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def dump(path: Path) -> dict[str, list]:
    """Every row of every regbench table of a store, sorted: what a no-op merge leaves as it was."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    out = {name: sorted(map(repr, db.execute(f"SELECT * FROM {name}"))) for name in tables}
    db.close()
    return out


def record(key: str, host: str | None, shift: float = 0.0, seed: int = 0, **fields) -> RunRecord:
    return RunRecord(
        strategy="gd",
        case="c1",
        seed=seed,
        key=key,
        host=None if host is None else {"name": host, "cpu": f"{host} cpu", "cores": 2, "load_start": [0.5, 0, 0]},
        transform={"type": "TranslationTransform", "dimension": 2, "parameters": [1.0 + shift, 2.0]},
        error_mean=0.1 + shift,
        final_metric_dense=0.01 + shift / 10,
        **fields,
    )


def store_of(path: Path, *records: RunRecord) -> Path:
    with Store(path) as store:
        for r in records:
            store.add(r)
    return path


def test_two_hosts_merge_into_their_union_and_a_key_run_on_both_is_in_the_drift_table(tmp_path, regbench_process):
    """Two `regbench run` processes as two hosts (their host name set by REGBENCH_HOST_NAME); on host b a hidden
    input (the drift plugin's largest step, as a host's BLAS or CPU can be) changes one strategy's result."""
    a, b, out = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "out.sqlite"
    both = ["-s", "gd", "-s", "test-hostdrift"]
    for path, seeds, env in (
        (a, ["--seed", "0", "--seed", "1"], {"REGBENCH_HOST_NAME": "host-a"}),
        (b, ["--seed", "1", "--seed", "2"], {"REGBENCH_HOST_NAME": "host-b", "REGBENCH_TEST_DRIFT": "0.5"}),
    ):
        done = regbench_process.run(*RUN, *both, *seeds, "--store", str(path), env=env)
        assert done.returncode == 0, done.stderr
    with Store.read_only(a) as sa, Store.read_only(b) as sb:
        keys_a, keys_b = sa.keys(), sb.keys()
        assert {r.host["name"] for r in sa.records()} == {"host-a"}  # type: ignore[index]
        facts = next(sb.records()).host
    assert facts is not None and facts["name"] == "host-b" and facts["cores"] >= 1
    assert len(facts["load_start"]) == len(facts["load_end"]) == 3
    shared = keys_a & keys_b  # gd and test-hostdrift on seed 1
    assert len(shared) == 2 and len(keys_a | keys_b) == 6
    before = {p: fingerprint(p) for p in (a, b)}
    files = sorted(p.name for p in tmp_path.iterdir())

    merged = invoke("merge", str(out), str(a), str(b))
    assert "1 kept as repeats (same key, different record)" in merged.output
    assert "host host-b kept as repeat" in merged.output and "beside the one from host host-a" in merged.output
    assert {p: fingerprint(p) for p in (a, b)} == before  # read only: the stores' bytes and times as they were
    # nothing new beside the inputs but SQLite's shared-memory index and empty log of a reader
    new = set(p.name for p in tmp_path.iterdir()) - set(files)
    assert new <= {"out.sqlite", "out.sqlite-wal", "out.sqlite-shm", "a.sqlite-wal", "a.sqlite-shm"} | {
        "b.sqlite-wal",
        "b.sqlite-shm",
    }
    with Store.read_only(out) as so:
        keys_out = so.keys()
        records = {r.key: r for r in so.records()}
    # the union, and the one key whose records differ twice: its host-b record as a repeat under a key of its own
    assert keys_a | keys_b <= keys_out and len(keys_out) == 7
    (extra,) = keys_out - keys_a - keys_b
    repeat = records[extra]
    drifted_key = repeat.provenance["merged"]["key"]
    assert drifted_key in shared and records[drifted_key].strategy == repeat.strategy == "test-hostdrift"
    assert (records[drifted_key].host or {})["name"] == "host-a" and (repeat.host or {})["name"] == "host-b"
    assert repeat.repeat == 1 and records[drifted_key].transform != repeat.transform
    gd_shared = next(k for k in shared if k != drifted_key)
    assert (records[gd_shared].host or {})["name"] == "host-a"  # the same run from host b: stored once

    snapshot = dump(out)
    again = invoke("merge", str(out), str(a), str(b))
    assert "nothing new" in again.output and "kept as repeat" not in again.output
    assert dump(out) == snapshot  # merging twice changes nothing

    runs = load_runs(out)  # completes the pending evaluations in OUT, once
    assert host_names(runs) == ["host-a", "host-b"]
    assert {h.name: h.runs for h in hosts(runs)} == {"host-a": 4, "host-b": 3}
    (drift,) = host_drift(runs)
    assert (drift.run_key, drift.hosts, drift.records) == (drifted_key, ("host-a", "host-b"), 2)
    assert drift.transform_diff is not None and drift.transform_diff > 0
    assert drift.error == "error_mean" and drift.error_diff is not None and drift.error_diff > 0
    report = invoke("report", "--store", str(out), "--no-stats").output
    assert "Hosts: the runs come from 2 machines" in report
    assert "Same key, different host: 1 run key gave different records" in report and drifted_key[:12] in report
    # completed records are still the same runs as the inputs' pending ones: merging again adds nothing
    completed = dump(out)
    assert "nothing new" in invoke("merge", str(out), str(a), str(b)).output
    assert dump(out) == completed
    # the other order gives the same union, the other host's record as the repeat
    invoke("merge", str(tmp_path / "ba.sqlite"), str(b), str(a))
    with Store.read_only(tmp_path / "ba.sqlite") as sba:
        assert len(sba) == 7 and keys_a | keys_b <= sba.keys()


def test_a_single_host_store_prints_no_host_tables(tmp_path):
    path = store_of(tmp_path / "one.sqlite", record("k1", "h1"), record("k2", "h1", seed=1))
    report = invoke("report", "--store", str(path), "--no-stats").output
    assert "Hosts" not in report and "Same key, different host" not in report
    old = store_of(tmp_path / "old.sqlite", record("k1", None))  # written before records had a host
    assert "Hosts" not in invoke("report", "--store", str(old), "--no-stats").output


def test_same_key_different_record_is_kept_never_overwritten(tmp_path):
    a = store_of(tmp_path / "a.sqlite", record("k1", "h1"), record("k2", "h1", seed=1))
    b = store_of(tmp_path / "b.sqlite", record("k1", "h2", shift=0.25), record("k2", "h2", seed=1))
    out = tmp_path / "out.sqlite"
    result = json.loads(invoke("merge", str(out), str(a), str(b), "--json").output)
    assert [(r["added"], r["identical"], len(r["drifted"])) for r in result] == [(2, 0, 0), (0, 1, 1)]
    (drifted,) = result[1]["drifted"]
    assert (drifted["key"], drifted["host"], drifted["other_host"], drifted["repeat"]) == ("k1", "h2", "h1", 1)
    runs = load_runs(out)
    (drift,) = host_drift(runs)
    assert drift.transform_diff == pytest.approx(0.25) and drift.error_diff == pytest.approx(0.25)
    assert drift.metric == "final_metric_dense" and drift.metric_diff == pytest.approx(0.025)
    with Store.read_only(out) as store:
        assert store.get("k1").host["name"] == "h1"  # type: ignore[union-attr]  # the first stays where it was
    # a merged store merged again into another finds its repeat the same record (not a third one)
    again = tmp_path / "again.sqlite"
    invoke("merge", str(again), str(b), str(out))
    with Store.read_only(again) as store:
        assert len(store) == 3 and store.get("k1").host["name"] == "h2"  # type: ignore[union-attr]


def test_leases_and_unreadable_rows_are_left_out_races_and_replaced_records_come_along(tmp_path):
    path = store_of(tmp_path / "a.sqlite", record("k1", "h1"))
    with Store(path) as store:
        assert store.claim("k-in-flight", "elsewhere:1:x", ttl=600)  # a run in flight on another runner
        store.add(record("k1", "h1", shift=1.0), replace=True)  # --force: the first record moves to `replaced`
        add_race(store, {"rounds": 1}, ["k1"])
        for key, text in (("bad", "{"), ("inf", '{"strategy": "gd", "case": "c1", "final_metric": 1e999}')):
            store.connection.execute(
                "INSERT INTO runs (key, strategy, case_name, seed, status, record) VALUES (?, 'gd', 'c1', 0, 'ok', ?)",
                (key, text),
            )
    out = tmp_path / "out.sqlite"
    output = invoke("merge", str(out), str(path)).output
    assert "left out: row" in output and "key bad" in output
    assert "key inf): unreadable (1e999 is not a finite number)" in output  # records are strict JSON
    with Store.read_only(out) as merged:
        assert merged.keys() == {"k1"} and len(merged.replaced("k1")) == 1
        assert races(merged) == [({"rounds": 1}, {"k1"})]
        assert merged.connection.execute("SELECT count(*) FROM leases").fetchone()[0] == 0
    snapshot = dump(out)
    invoke("merge", str(out), str(path))
    assert dump(out) == snapshot


def test_what_cannot_be_merged_is_a_usage_error_naming_the_file(tmp_path):
    good = store_of(tmp_path / "good.sqlite", record("k1", "h1"))
    text = tmp_path / "notes.txt"
    text.write_text("not a store\n")
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE people (name TEXT)").connection.commit()
    newer = store_of(tmp_path / "newer.sqlite", record("k2", "h1"))
    sqlite3.connect(newer).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}").connection.close()
    out = tmp_path / "out.sqlite"
    for bad, words in (
        (tmp_path / "missing.sqlite", "no such file"),
        (tmp_path, "not a file"),
        (text, "not a regbench result store"),
        (foreign, "not a regbench result store"),
        (newer, "written by a newer regbench"),
    ):
        result = invoke("merge", str(out), str(good), str(bad), code=2)
        assert str(bad) in result.output and words in result.output, result.output
        assert not out.exists()  # checked before anything is written
    assert str(good) in invoke("merge", str(good), str(good), code=2).output  # OUT among the inputs
    future = record("k3", "h1")
    data = {**future.to_dict(), "schema": 99}
    with Store(tmp_path / "future.sqlite") as store:
        store.connection.execute(
            "INSERT INTO runs (key, strategy, case_name, seed, status, record) VALUES ('k3', 'gd', 'c1', 0, 'ok', ?)",
            (json.dumps(data),),
        )
    result = invoke("merge", str(out), str(tmp_path / "future.sqlite"), code=2)
    assert "future.sqlite: run k3 is a record of schema 99" in result.output
    with Store.read_only(out) as merged:
        assert len(merged) == 0  # the input's transaction rolled back
    text_out = tmp_path / "out.txt"
    text_out.write_text("mine\n")
    assert "out.txt" in invoke("merge", str(text_out), str(good), code=2).output
    assert text_out.read_text() == "mine\n"
