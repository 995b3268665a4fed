"""Nothing from data reaches the user as a traceback: a corrupt row, a binary file, a record of wrong types; CSV
cells that a spreadsheet would run as formulas."""

from __future__ import annotations

import io
import json
import os
import sqlite3

import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RecordError, RunRecord
from regbench.store.exports import write_csv
from regbench.store.sqlite import Store, StoreError


def record(key, strategy="gd", case="c1", seed=0, **fields):
    return RunRecord(strategy=strategy, case=case, seed=seed, key=key, status="ok", iterations=5, **fields)


@pytest.fixture
def damaged(tmp_path):
    """A store of four runs: row 2 holds JSON cut short, row 3 a record whose iterations is a string."""
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        for key in ("k1", "k2", "k3", "k4"):
            store.add(record(key, error_mean=0.5))
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET record = substr(record, 1, 40) WHERE key = 'k2'")
    bad = record("k3").to_dict() | {"iterations": "many"}
    db.execute("UPDATE runs SET record = ? WHERE key = 'k3'", (json.dumps(bad),))
    db.commit()
    db.close()
    return path


def test_a_store_keeps_going_past_unreadable_rows(damaged):
    with Store.read_only(damaged) as store:
        assert [r.key for r in store.records()] == ["k1", "k4"]
        assert len(store.skipped) == 2
        assert "row 2 (key k2)" in store.skipped[0] and "row 3 (key k3)" in store.skipped[1]
        assert "skipped 2 unreadable rows" in store.skipped_note()
        with pytest.raises(StoreError, match=r"cannot read row 2 \(key k2\)"):
            store.get("k2")
    with Store.read_only(damaged) as store:
        assert [row["key"] for row in store.summaries()] == ["k1", "k3", "k4"]  # k3's summary is readable JSON
        assert "row 2 (key k2)" in store.skipped_note()


def test_report_export_and_show_of_a_damaged_store(damaged, tmp_path):
    runner = CliRunner()
    exported = runner.invoke(main, ["export", "--store", str(damaged), "--format", "jsonl"])
    assert exported.exit_code == 0, exported.output
    assert "Traceback" not in exported.output
    assert "skipped" in exported.output and "row 2 (key k2)" in exported.output
    assert [json.loads(line)["key"] for line in exported.stdout.splitlines() if line.startswith("{")] == ["k1", "k4"]
    report = runner.invoke(main, ["report", "--store", str(damaged), "--no-stats"])
    assert report.exit_code == 0, report.output
    assert "skipped 1 unreadable row" in report.output and "Traceback" not in report.output
    show = runner.invoke(main, ["show", "k2", "--store", str(damaged)])
    assert show.exit_code == 2 and "row 2 (key k2)" in show.output and "Traceback" not in show.output


def test_show_and_report_of_a_binary_file(tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(range(256)) * 4)
    for args in (["show", str(path)], ["report", "--store", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "a binary file" in result.output and "Traceback" not in result.output


def test_show_of_a_record_with_wrongly_typed_fields(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record("k1").to_dict() | {"iterations": "many", "flags": 3}))
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 2, result.output
    assert "field 'iterations' is str 'many'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "data, expected",
    [
        ([1, 2], "a JSON list, not an object"),
        ({"strategy": "gd", "case": "c", "seed": "0"}, "field 'seed' is str"),
        ({"strategy": "gd", "case": "c", "segments": [{"nope": 1}]}, "bad segments"),
        ({"strategy": "gd", "case": "c", "trace": {"nope": 1}}, "bad segments, trace or anytime"),
        ({"strategy": None, "case": "c"}, "field 'strategy' is null"),
    ],
)
def test_from_dict_names_the_bad_field(data, expected):
    with pytest.raises(RecordError, match=expected):
        RunRecord.from_dict(data)


def test_csv_cells_that_would_be_formulas_are_text():
    out = io.StringIO()
    write_csv(
        [record("k1", case='=HYPERLINK("http://x","y")'), record("k2", strategy="+1", case="-c", error="@x")], out
    )
    text = out.getvalue()
    assert "\"'=HYPERLINK" in text and "'+1,'-c," in text and "'-c" in text and "'@x" in text
    assert ",=" not in text


def _readonly_store(tmp_path):
    path = tmp_path / "ro" / "s.sqlite"
    path.parent.mkdir()
    with Store(path) as store:
        store.add(record("k1", case="=cmd"))
        store.add(record("k2"))
    return path


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_store_in_a_read_only_directory_can_be_reported_and_exported(tmp_path):
    path = _readonly_store(tmp_path)
    before = path.read_bytes()
    path.parent.chmod(0o555)
    path.chmod(0o444)
    try:
        for args in (["report", "--store", str(path), "--no-stats"], ["export", "--store", str(path)]):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
        shown = CliRunner().invoke(main, ["show", "k1", "--store", str(path)])
        assert shown.exit_code == 0, shown.output
    finally:
        path.parent.chmod(0o755)
    assert path.read_bytes() == before


def test_read_only_falls_back_to_sqlite_immutable_mode(tmp_path, monkeypatch):
    """Where SQLite cannot make the WAL index (read-only media), the store is read in immutable mode."""
    path = _readonly_store(tmp_path)
    real = sqlite3.connect
    uris = []

    def connect(target, *args, **kwargs):
        uris.append(str(target))
        if "immutable=1" not in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    with Store.read_only(path) as store:
        assert [r.key for r in store.records()] == ["k1", "k2"]
    assert "immutable=1" in uris[-1]


def test_a_foreign_sqlite_file_is_refused_and_not_modified(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a regbench result store"):
        Store(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "other.sqlite-wal").exists()


def test_error_texts_lose_object_addresses():
    from regbench.runner.run_matrix import normalise_error

    one = record("k1", error="ITK ERROR: MetaImageIO(0x5624e349ec00): File cannot be read at 0x7f00aa11")
    normalise_error(one)
    assert one.error == "ITK ERROR: MetaImageIO: File cannot be read at "
