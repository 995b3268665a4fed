"""A matrix run stores its records with the kept positions unevaluated; the first reader evaluates them (in worker
processes when there are several), stores them complete, and a second reader finds nothing to do. The records it
leaves are those ``run_one`` gives (which evaluates during the run), timings aside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_caseresolve import run_project, write_pair

from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.load.completion import IN_PROCESS, complete_pending
from regbench.run import run_one
from regbench.store.pending import pending_keys
from regbench.store.sqlite import Store

#: More runs than are completed in the reader's own process: the worker processes are used.
RUNS = ["-s", "gd,rsgd", "-c", "synth2d-translation", "--seeds", "3", "-p", "number_of_iterations=8"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def stored(path: Path) -> dict[str, RunRecord]:
    with Store(path) as db:
        return {r.key: r for r in db.records()}


def pending(path: Path) -> list[str]:
    with Store(path) as db:
        return pending_keys(db)


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "s.sqlite"
    result = invoke("run", *RUNS, "--in-process", "--store", path)
    assert result.exit_code == 0, result.output
    return path


def test_a_matrix_run_leaves_the_kept_positions_for_the_first_reader(matrix_store):
    records = stored(matrix_store)
    assert len(records) == 6 > IN_PROCESS
    assert sorted(pending(matrix_store)) == sorted(records)
    for record in records.values():
        assert record.evaluation_plan is not None and len(record.anytime) == 0
        assert record.outcome is not None and record.error_mean is not None  # judged at once: no waiting for those


def test_the_first_report_completes_them_as_run_one_would_and_the_second_costs_nothing(matrix_store, tmp_path):
    path = tmp_path / "s.sqlite"
    shutil.copy(matrix_store, path)
    first = invoke("report", "--store", path, "--no-stats")
    assert first.exit_code == 0, first.output
    assert "evaluating the kept positions of 6 runs" in first.stderr
    assert pending(path) == []
    for record in stored(path).values():
        assert record.evaluation_plan is None and len(record.anytime) > 2
        here = run_one(record.strategy, record.case, seed=record.seed, params=record.params)
        assert record.without_timings() == here.without_timings(), record.key
    before = path.read_bytes()
    second = invoke("report", "--store", path, "--no-stats")
    assert second.exit_code == 0 and "evaluating" not in second.stderr
    assert second.stdout == first.stdout
    assert path.read_bytes() == before  # nothing rewritten


def test_show_completes_the_one_run_it_shows(matrix_store, tmp_path):
    path = tmp_path / "s.sqlite"
    shutil.copy(matrix_store, path)
    key = sorted(pending(path))[0]
    result = invoke("show", key, "--store", path)
    assert result.exit_code == 0, result.output
    assert "returned transform is the best visited" in " ".join(result.stdout.split())
    assert key not in pending(path) and len(pending(path)) == 5


def test_an_export_holds_complete_records(matrix_store, tmp_path):
    path = tmp_path / "s.sqlite"
    shutil.copy(matrix_store, path)
    result = invoke("export", "--store", path, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    records = [RunRecord.from_dict(json.loads(line)) for line in result.stdout.splitlines()]
    assert len(records) == 6 and all(r.evaluation_plan is None and len(r.anytime) > 2 for r in records)


def test_a_run_whose_case_file_is_gone_stays_pending_and_says_why(tmp_path, monkeypatch):
    root = write_pair(tmp_path / "project", (64, 64), (2.0, 3.0), (2.0, -1.5))
    records = run_project(root, monkeypatch)
    assert len(records) == 2 and all(r.evaluation_plan is not None for r in records)
    shutil.rmtree(root / "cases")
    done = complete_pending(root / "s.sqlite", announce=False)
    assert done.completed == 0 and len(done.left) == 2
    assert "cases/mine.toml" in (done.note() or "") and "not there any more" in (done.note() or "")
    report = invoke("report", "--store", "s.sqlite", "--no-stats")
    assert report.exit_code == 0 and "still without their anytime curve" in report.stderr
    assert len(pending(root / "s.sqlite")) == 2
