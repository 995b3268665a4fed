"""`regbench calibrate`: a reference registration timed on this host, kept in the store by host and thread count,
and `regbench report` dividing each run's time by its host's figure where the runs come from several hosts."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.load.sources import load_runs
from regbench.report.stats.host_times import host_times
from regbench.runner.calibrate import REFERENCE, thread_counts
from regbench.store.calibration import (
    Calibration,
    add_calibration,
    calibrations,
    copy_calibrations,
    reference_for,
    this_host,
)
from regbench.store.sqlite import Store


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_calibrate_times_the_reference_and_keeps_it_under_this_host(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_HOST_NAME", "lab-a")  # the name records store: calibrations match them
    store = tmp_path / "s.sqlite"
    code, output = _cli("calibrate", "--store", str(store), "--repeats", "1")
    assert code == 0, output
    assert "lab-a" in output and REFERENCE in " ".join(output.split())
    with Store.read_only(store) as db:
        found = calibrations(db)
    assert [(c.host, c.threads) for c in found] == [("lab-a", n) for n in thread_counts()]
    for c in found:
        assert c.repeats == 1 and len(c.times) == 1 and c.seconds == c.times[0] > 0
        assert c.wall_s is not None and c.wall_s >= c.seconds  # the run's wall time holds its Execute time
        assert c.reference == REFERENCE and c.measured
    code, listed = _cli("calibrate", "--store", str(store), "--list")
    assert (
        code == 0 and f"{found[0].seconds:.3f}" in listed and found[0].measured.replace("T", " ")[:16] in listed
    )  # to the minute, UTC


def test_the_calibration_key_is_the_host_name_records_store(monkeypatch):
    monkeypatch.setenv("REGBENCH_HOST_NAME", "hash")
    record = regbench.run_one("gd", "synth2d-translation", params={"number_of_iterations": 2})
    assert record.host is not None and record.host["name"] == this_host()
    assert this_host().startswith("sha256:")


def test_the_newest_calibration_counts_and_the_older_stays(tmp_path):
    with Store(tmp_path / "s.sqlite") as db:
        assert calibrations(db) == []
        add_calibration(db, Calibration("a", 1, 0.5, repeats=3))
        add_calibration(db, Calibration("a", 1, 0.25, repeats=3))
        add_calibration(db, Calibration("a", 4, 0.125, repeats=3))
        assert [(c.threads, c.seconds) for c in calibrations(db)] == [(1, 0.25), (4, 0.125)]
        assert db.connection.execute("SELECT count(*) FROM calibration").fetchone()[0] == 3
        found = calibrations(db)
    # 1-thread runs (or runs without a count) by the 1-thread figure, others by the most threads'
    assert reference_for(found, "a", 1).seconds == reference_for(found, "a", None).seconds == 0.25
    assert reference_for(found, "a", 2).seconds == 0.125
    assert reference_for(found, "b", 1) is None


def test_a_store_that_is_not_one_and_an_empty_list(tmp_path):
    (tmp_path / "x.sqlite").write_text("not sqlite at all, just text" * 10)
    code, output = _cli("calibrate", "--store", str(tmp_path / "x.sqlite"), "--repeats", "1")
    assert code == 2 and "not a regbench result store" in output
    with Store(tmp_path / "s.sqlite"):
        pass
    code, output = _cli("calibrate", "--store", str(tmp_path / "s.sqlite"), "--list")
    assert code == 0 and "no calibration yet" in output


@pytest.fixture
def two_host_store(tmp_path):
    """Four runs of one strategy: two on a fast host "a" (1 s each), two on a host "b" twice as slow (2 s)."""
    path = tmp_path / "s.sqlite"
    with Store(path) as db:
        for i, (host, seconds) in enumerate([("a", 1.0), ("a", 1.0), ("b", 2.0), ("b", 2.0)]):
            db.add(
                RunRecord(
                    strategy="gd",
                    case="c1",
                    seed=i,
                    key=f"k{i}",
                    threads=1,
                    outcome="converged",
                    wall_time_s=seconds,
                    host={"name": host},
                )
            )
    return path


def test_report_divides_each_runs_time_by_its_hosts_calibration(two_host_store):
    code, output = _cli("report", "--store", str(two_host_store), "--no-stats")
    assert code == 0, output
    assert "none is calibrated" in output and "not comparable" in output
    with Store(two_host_store) as db:
        add_calibration(db, Calibration("a", 1, 0.5, repeats=1))
    code, output = _cli("report", "--store", str(two_host_store), "--no-stats")
    assert code == 0, output
    assert "Times across 2 hosts" in output and "Not calibrated: b" in output
    with Store(two_host_store) as db:
        add_calibration(db, Calibration("b", 1, 1.0, repeats=1))
    times = host_times(load_runs(two_host_store), str(two_host_store))
    assert times is not None and times.uncalibrated == []
    assert np.allclose(times.normalised, [2.0, 2.0, 2.0, 2.0])  # 1 s ÷ 0.5 s on a, 2 s ÷ 1 s on b
    code, output = _cli("report", "--store", str(two_host_store), "--no-stats")
    assert code == 0, output
    assert "2.00×" in output and "Not calibrated" not in output


def test_one_host_has_nothing_to_normalise(tmp_path):
    with Store(tmp_path / "s.sqlite") as db:
        db.add(RunRecord(strategy="gd", case="c1", seed=0, key="k0", wall_time_s=1.0, host={"name": "a"}))
        add_calibration(db, Calibration("a", 1, 0.5, repeats=1))
    assert host_times(load_runs(tmp_path / "s.sqlite"), str(tmp_path / "s.sqlite")) is None
    code, output = _cli("report", "--store", str(tmp_path / "s.sqlite"), "--no-stats")
    assert code == 0 and "Times across" not in output and "calibrat" not in output


def test_copy_calibrations_for_merge_copies_each_measurement_once(tmp_path):
    with Store(tmp_path / "a.sqlite") as a:
        add_calibration(a, Calibration("a", 1, 0.5, repeats=1))
        add_calibration(a, Calibration("a", 2, 0.3, repeats=1))
    with Store(tmp_path / "out.sqlite") as out, Store.read_only(tmp_path / "a.sqlite") as source:
        assert copy_calibrations(out.connection, source) == 2
        assert copy_calibrations(out.connection, source) == 0  # merging twice adds nothing
        with Store(tmp_path / "empty.sqlite") as empty:
            assert copy_calibrations(out.connection, empty) == 0  # an input never calibrated
        copied, original = calibrations(out), calibrations(source)
    assert [(c.host, c.threads, c.seconds, c.measured) for c in copied] == [
        (c.host, c.threads, c.seconds, c.measured) for c in original
    ]


def test_regbench_merge_carries_the_calibrations_over_once(tmp_path):
    with Store(tmp_path / "a.sqlite") as a:
        add_calibration(a, Calibration("a", 1, 0.5, repeats=1))
    Store(tmp_path / "b.sqlite").close()
    out = tmp_path / "out.sqlite"
    code, output = _cli("merge", str(out), str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite"))
    assert code == 0 and "1 host calibrations carried over" in output, output
    code, _ = _cli("merge", str(out), str(tmp_path / "a.sqlite"))
    with Store.read_only(out) as merged:
        assert code == 0 and [(c.host, c.threads, c.seconds) for c in calibrations(merged)] == [("a", 1, 0.5)]
