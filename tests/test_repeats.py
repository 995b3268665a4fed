"""Reproducibility that holds: 1 ITK thread per run by default everywhere, ``--repeat K`` and the spread it reports."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RunRecord, Trace
from regbench.report.stats.repeats import repeat_spreads, store_spreads
from regbench.report.text.repeats_table import repeats_table
from regbench.run import run_one
from regbench.runner.matrix import Matrix, parse_param_option
from regbench.runner.run_matrix import run_matrix
from regbench.store.sqlite import Store

MI = "synth2d-rigid-mi"  # Mattes MI: not bit-identical with more than one ITK thread
ONE_MI = ["-s", "gd", "-c", MI, "--seed", "1", "-p", "number_of_iterations=5"]
ONE_MS = ["-s", "gd", "-c", "synth2d-translation", "-p", "number_of_iterations=5"]


def invoke(*args, store):
    result = CliRunner().invoke(main, [*args, "--store", str(store)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def records_of(result) -> list[RunRecord]:
    data = json.loads(result.stdout)
    return [RunRecord.from_dict(d) for d in (data if isinstance(data, list) else [data])]


def comparable(record: RunRecord, *drop: str) -> dict:
    """The record as JSON without what may differ between two executions of one key: the timings."""
    data = record.without_timings()
    for name in drop:
        data.pop(name)
    return data


@pytest.fixture
def four_cores(monkeypatch):
    """A machine with 4 cores, whatever this one has: the defaults must not depend on it."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)


def test_run_one_and_regbench_run_give_the_same_record(tmp_path, four_cores):
    here = run_one("gd", MI, seed=1, params={"number_of_iterations": 5})
    assert here.threads == 1
    # default options; and the worker count, which only says how many runs go side by side, changes nothing
    for index, extra in enumerate(([], ["--workers", "1"], ["--workers", "3"])):
        (record,) = records_of(invoke("run", *ONE_MI, *extra, "--json", store=tmp_path / f"{index}.sqlite"))
        assert (record.key, record.threads) == (here.key, 1), extra
        assert record.transform == here.transform
        assert comparable(record) == comparable(here), extra
    chosen = Matrix(strategies=["gd"], cases=[MI], seeds=[1], params=[parse_param_option("number_of_iterations=5")])
    for workers in (None, 1):
        (record,) = run_matrix(chosen, tmp_path / f"py-{workers}.sqlite", workers=workers)
        assert comparable(record) == comparable(here), f"run_matrix(workers={workers})"


def test_two_default_runs_of_a_mattes_case_are_bit_identical(tmp_path, four_cores):
    first, second = records_of(invoke("run", *ONE_MI, "--repeat", "2", "--json", store=tmp_path / "a.sqlite"))
    assert (first.repeat, second.repeat) == (0, 1) and first.key != second.key
    assert first.threads == second.threads == 1 and first.deterministic is second.deterministic is True
    assert first.transform == second.transform
    assert comparable(first, "key", "repeat") == comparable(second, "key", "repeat")
    # a separate command, on its own: the same record again
    (third,) = records_of(invoke("run", *ONE_MI, "--workers", "1", "--json", store=tmp_path / "b.sqlite"))
    assert comparable(third) == comparable(first)


def test_a_two_thread_mattes_run_is_marked_nondeterministic(tmp_path):
    (alone,) = records_of(invoke("run", *ONE_MI, "--threads", "2", "--json", store=tmp_path / "a.sqlite"))
    assert (alone.threads, alone.deterministic) == (2, False)
    store = tmp_path / "b.sqlite"
    result = invoke("run", *ONE_MI, "--threads", "2", "--repeat", "2", store=store)
    with Store(store) as db:
        records = list(db.records())
        (row,) = store_spreads(db)
    assert [(r.threads, r.deterministic) for r in records] == [(2, False)] * 2
    assert (row.threads, row.repeats, row.deterministic) == (2, 2, False)
    line = next(text for text in result.stdout.splitlines() if MI in text)  # the repeats table's row
    assert line.rstrip(" │").endswith("no"), line
    ms = records_of(invoke("run", *ONE_MS, "--threads", "2", "--json", store=tmp_path / "c.sqlite"))
    assert ms[0].deterministic is True, "mean squares is measured bit-identical with any fixed thread count"


def test_repeat_stores_every_repeat_skips_them_on_a_rerun_and_prints_the_spread(tmp_path):
    store = tmp_path / "s.sqlite"
    (plain,) = records_of(invoke("run", *ONE_MS, "--json", store=store))
    first = invoke("run", *ONE_MS, "--repeat", "3", store=store)
    text = " ".join(first.stdout.split())
    assert "3 runs: 2 new, 1 already in the store (--force reruns them); registered 3 · failed 0" in text
    assert "3/3" not in first.stderr and "2/2" in first.stderr, "the stored plain run is repeat 0: not rerun"
    with Store(store) as db:
        records = sorted(db.records(), key=lambda r: r.repeat)
    assert [r.repeat for r in records] == [0, 1, 2] and records[0].key == plain.key
    assert {(r.strategy, r.case, r.seed) for r in records} == {("gd", "synth2d-translation", 0)}
    again = invoke("run", *ONE_MS, "--repeat", "3", store=store)
    text = " ".join(again.stdout.split())
    assert "3 runs: 0 new, 3 already in the store" in text and not again.stderr.strip()
    assert "Repeats: spread per strategy × case × seed (1 group)" in text
    row = next(line for line in again.stdout.splitlines() if "synth2d-translation" in line and "error_mean" in line)
    cells = [cell.strip() for cell in row.strip(" │").split("│")]
    assert cells[:6] == ["gd", "synth2d-translation", "0", "1", "3", "error_mean"]
    assert cells[6] == cells[7] and cells[8] == "0" and cells[-2:] == ["yes", "yes"]
    with Store(store) as db:
        assert len(db) == 3
    report = " ".join(invoke("report", "--no-stats", store=store).stdout.split())
    assert "Repeats: spread per strategy × case × seed (1 group)" in report
    assert "2 runs are --repeat re-executions" in report


def test_repeat_in_a_run_file_and_in_the_dry_run(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('strategies = ["gd"]\ncases = ["synth2d-translation"]\nseeds = 2\nrepeat = 3\n')
    result = invoke("run", "--config", str(config), "--dry-run", "--json", store=tmp_path / "s.sqlite")
    plan = json.loads(result.stdout)
    assert plan["repeats"] == 3 and plan["to_run"] == 6
    assert [(r["seed"], r["repeat"]) for r in plan["runs"]] == [(s, k) for s in (0, 1) for k in range(3)]
    text = " ".join(invoke("run", "--config", str(config), "--dry-run", store=tmp_path / "s.sqlite").stdout.split())
    assert "Planned: 6 runs (2 × 3 repeats)" in text and "each run 3 times (repeats 0–2)" in text
    assert "gd │ synth2d-translation │ 3 │ 6 │ 0" in text
    override = invoke("run", "--config", str(config), "--repeat", "1", "--dry-run", "--json", store=tmp_path / "x")
    assert json.loads(override.stdout)["to_run"] == 2, "the command line wins over the run file"


def test_the_threads_help_says_why_one_thread():
    result = CliRunner().invoke(main, ["run", "--help"])
    text = " ".join(result.output.split())
    assert "[default: 1, so the same run gives a bit-identical record" in text and "--repeat K" in text


# -- the spread, on hand-made records ------------------------------------------------------------------------


def _record(
    repeat: int, x: float, *, error: float | None = 1.0, iterations: int = 10, seed: int = 0, deterministic=True
) -> RunRecord:
    record = RunRecord(strategy="s", case="c", seed=seed, params={"rate": 1.0}, threads=1, repeat=repeat)
    record.key = f"k{repeat}-{seed}-{x}"
    record.transform = {"type": "TranslationTransform", "parameters": [x, 0.0], "fixed_parameters": []}
    record.trace = Trace(segment=[0], level=[0], iteration=[0], metric=[x])
    record.error_mean, record.final_metric_dense, record.iterations = error, -x, iterations
    record.deterministic = deterministic
    return record


def test_spreads_compare_transforms_and_traces_bit_for_bit():
    same = [_record(k, 0.5) for k in range(3)]
    (row,) = repeat_spreads(same)
    assert (row.repeats, row.identical, row.distinct, row.spread, row.deterministic) == (3, True, 1, 0.0, True)
    assert row.measure == "error_mean" and row.keys == tuple(r.key for r in same)
    moved = [_record(0, 0.5, error=1.0, iterations=10), _record(1, 0.5 + 1e-15, error=3.5, iterations=14)]
    (row,) = repeat_spreads(moved)
    assert (row.identical, row.distinct, row.low, row.high, row.spread) == (False, 2, 1.0, 3.5, 2.5)
    assert (row.iterations_low, row.iterations_high) == (10, 14) and row.contradicts
    no_truth = [_record(0, 0.5, error=None), _record(1, 0.25, error=None)]
    (row,) = repeat_spreads(no_truth)
    assert (row.measure, row.low, row.high) == ("final_metric_dense", -0.5, -0.25)


def test_only_groups_with_repeats_are_spreads():
    alone = [_record(0, 0.5), _record(0, 0.5, seed=1)]  # two seeds, no repeats
    assert repeat_spreads(alone) == []
    other_threads = _record(1, 0.5)
    other_threads.threads = 2
    assert repeat_spreads([_record(0, 0.5), other_threads]) == []
    mixed = [_record(0, 0.5), _record(1, 0.5, deterministic=None)]
    (row,) = repeat_spreads(mixed)
    assert row.deterministic is None and row.deterministic_flags == (True, None)


def test_store_spreads_read_full_records_only_for_groups_with_repeats(tmp_path):
    with Store(tmp_path / "s.sqlite") as db:
        for record in [_record(0, 0.5), _record(1, 0.75), _record(0, 0.5, seed=1)]:
            db.add(record)
        (row,) = store_spreads(db)
    assert (row.seed, row.repeats, row.identical) == (0, 2, False)
    table = repeats_table([row])
    assert table.row_count == 1 and [c.header for c in table.columns][-2:] == ["bit-identical", "deterministic"]
