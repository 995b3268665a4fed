"""``regbench run`` and ``regbench export`` from the command line: outputs, store, exit status."""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import SimpleITK as sitk
from click.testing import CliRunner

from regbench.cli import main
from regbench.evaluation.outcomes import MEANINGS, succeeded
from regbench.record import RunRecord
from regbench.run import default_threads
from regbench.store.sqlite import Store

ONE = ["-s", "gd", "-c", "synth2d-translation", "--seed", "1", "-p", "number_of_iterations=5"]
FOUR = ["-s", "gd", "-s", "lbfgs2", "-c", "synth2d-translation", "--seeds", "2", "-p", "gd.number_of_iterations=5"]


def invoke(*args, store=None):
    args = [*args, "--store", str(store)] if store else list(args)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_one_run_prints_its_levels_and_is_stored(tmp_path):
    store = tmp_path / "s.sqlite"
    result = invoke("run", *ONE, store=store)
    assert result.exit_code == 0, result.output
    assert "gd on synth2d-translation, seed 1" in result.output  # the per-level table
    with Store(store) as db:
        (record,) = db.records()
    assert (record.strategy, record.seed, record.params["number_of_iterations"]) == ("gd", 1, 5)
    again = invoke("run", *ONE, store=store)
    assert f"already in {store} (key {record.key})" in " ".join(again.output.split())
    as_json = invoke("run", *ONE, "--json", store=store)
    assert json.loads(as_json.stdout) == record.to_dict()


def test_a_matrix_prints_a_summary_and_resumes(tmp_path):
    store = tmp_path / "s.sqlite"
    first = invoke("run", *FOUR, "--json", store=store)
    assert first.exit_code == 0, first.output
    records = [RunRecord.from_dict(d) for d in json.loads(first.stdout)]
    assert [(r.strategy, r.seed) for r in records] == [("gd", 0), ("gd", 1), ("lbfgs2", 0), ("lbfgs2", 1)]
    assert all(r.status == "ok" and r.threads == 1 for r in records)  # 1 ITK thread per run, whatever the cores
    second = invoke("run", *FOUR, store=store)
    assert second.exit_code == 0
    text = " ".join(second.output.split())
    assert "Summary per strategy (4 runs)" in text and "lbfgs2" in text
    assert "4 runs: 0 new, 4 already in the store (--force reruns them)" in text


def test_crashes_are_results_not_runner_failures(tmp_path):
    store = tmp_path / "s.sqlite"
    result = invoke(
        "run",
        "-s",
        "test-segfault",
        "-s",
        "test-sleep",
        "-c",
        "synth2d-translation",
        "-p",
        "test-sleep.seconds=0",
        "--plugin",
        "runner_plugin",
        "--timeout",
        "30",
        store=store,
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "crashed test-segfault on synth2d-translation, seed 0: worker died with signal SIGSEGV" in text
    with Store(store) as db:
        assert sorted(r.status for r in db.records()) == ["crashed", "ok"]


def test_an_unreachable_scheduler_fails_before_any_plan_or_progress_is_shown(tmp_path, monkeypatch):
    from regbench.runner import dask_executor

    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 1.0)
    result = CliRunner().invoke(
        main, ["run", *FOUR, "--scheduler", "tcp://127.0.0.1:9", "--store", str(tmp_path / "s.sqlite")]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Error: cannot reach the Dask scheduler tcp://127.0.0.1:9" in text and "nothing ran" in text
    assert "runs on" not in text and "Traceback" not in text  # no plan or progress bar for runs that cannot start
    bad = CliRunner().invoke(main, ["run", *FOUR, "--scheduler", "nonsense", "--store", str(tmp_path / "s.sqlite")])
    assert bad.exit_code == 2 and "--scheduler: not a Dask scheduler address: 'nonsense'" in " ".join(
        bad.output.split()
    )


def test_progress_and_summary_count_failed_outcomes_not_statuses(tmp_path):
    # a huge fixed learning rate makes gd fail with status ok: its outcome (diverged, or worse_than_start where
    # the truth says so first) is a failure, and the bar and the end lines count it as failed. A run that finished
    # without a failure is counted registered or not (issue 21): rate 300 registers in 5 iterations, rate 30 stops
    # several px short (max_iterations, not a failure, but not registered either)
    args = ["-s", "gd", "-c", "synth2d-translation", "--seeds", "2", "-p", "number_of_iterations=5"]
    args += ["-p", "learning_rate=30,300,10000", "-p", "estimate_learning_rate=never", "--workers", "1"]
    result = invoke("run", *args, store=tmp_path / "s.sqlite")
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "s.sqlite") as db:
        records = sorted(db.records(), key=lambda r: (r.params["learning_rate"], r.seed))
    assert [(r.status, succeeded(r), r.registered) for r in records] == (
        [("ok", True, False)] * 2 + [("ok", True, True)] * 2 + [("ok", False, False)] * 2
    )
    kind = records[-1].outcome
    assert kind in ("diverged", "worse_than_start") and records[-2].outcome == kind
    assert "6/6 registered 2 · not registered 2 · failed 2" in " ".join(result.stderr.split())
    text = " ".join(result.stdout.split())
    assert f"{kind} gd on synth2d-translation, seed 0: {MEANINGS[kind]}" in text
    assert f"6 runs: 6 new; registered 2 · not registered 2 · failed 2 ({kind} 2)" in text
    assert "succeeded" not in result.stdout + result.stderr
    # The summary table of `regbench report` and `regbench show` of every run count the same failures.
    from regbench.report.load.columns import load_store
    from regbench.report.stats.summary import summary_rows

    rows = summary_rows(load_store(tmp_path / "s.sqlite"))  # one row per learning rate
    assert {r.solver: (r.runs, r.no_failure, r.registered, r.not_registered) for r in rows} == {
        "gd[learning_rate=30.0]": (2, 2, 0, 2),
        "gd[learning_rate=300.0]": (2, 2, 2, 0),
        "gd[learning_rate=10000.0]": (2, 0, 0, 0),
    }
    report = invoke("report", "--no-stats", store=tmp_path / "s.sqlite")
    assert report.exit_code == 0 and "regis-" in report.stdout and "succeeded" not in report.stdout
    shown = [" ".join(invoke("show", r.key, store=tmp_path / "s.sqlite").stdout.split()) for r in records]
    verdicts = ["(finished without a failure, but not registered)", "(registered)", "(failed)"]
    assert [next(v for v in verdicts if v in s) for s in shown] == [v for v in verdicts for _ in range(2)]
    assert not any("succeeded" in s for s in shown)


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["-s", "gd,lbfgs2", "-c", "synth2d-translation", "--seeds", "2", "-p", "gd.number_of_iterations=5"]
    result = invoke("run", *args, "--dry-run", store=store)
    assert result.exit_code == 0, result.output
    assert not store.exists(), "a dry run creates no store"
    text = " ".join(result.output.split())
    assert "Planned: 4 runs" in text and "gd │ synth2d-translation │ 2 │ 0" in text
    workers = default_threads()  # one worker per core at the default 1 ITK thread per run
    plural = "worker" if workers == 1 else "workers"
    assert f"4 runs to run on {workers} local {plural}, 1 ITK thread per run, timeout 1800 s per run" in text
    assert invoke("run", *args, "-s", "gd", store=store).exit_code == 0  # -s given twice: gd,lbfgs2 and gd
    again = invoke("run", *args, "--dry-run", "--json", "--timeout", "0", store=store)
    plan = json.loads(again.stdout)
    assert [(r["strategy"], r["seed"], r["stored"]) for r in plan["runs"]] == [
        ("gd", 0, True),
        ("gd", 1, True),
        ("lbfgs2", 0, True),
        ("lbfgs2", 1, True),
    ]
    assert (plan["to_run"], plan["workers"], plan["threads"], plan["timeout_s"]) == (0, workers, 1, None)
    assert plan["repeats"] == 1 and {r["repeat"] for r in plan["runs"]} == {0}
    with Store(store) as db:
        assert len(db) == 4


def test_the_default_timeout_applies_unless_zero(tmp_path):
    from regbench.runner.run_matrix import DEFAULT_TIMEOUT_S, make_executor

    assert make_executor("local").timeout == DEFAULT_TIMEOUT_S == 1800
    assert make_executor("local", timeout=0).timeout is None
    args = ["-s", "gd", "-c", "synth2d-translation", "--seeds", "2", "--dry-run", "--json"]
    config = tmp_path / "run.toml"
    config.write_text("timeout = 0\n")
    timeouts = [
        json.loads(invoke("run", *args, *extra, store=tmp_path / "s.sqlite").stdout)["timeout_s"]
        for extra in ([], ["--timeout", "30"], ["--timeout", "0"], ["--config", str(config)])
    ]
    assert timeouts == [1800, 30, None, None]


def test_the_run_file_and_command_line_options(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        'strategies = ["gd"]\ncases = ["synth2d-translation"]\nseeds = 3\nworkers = 1\n'
        'store = "from-file.sqlite"\n[params.gd]\nnumber_of_iterations = [4, 6]\n'
    )
    result = invoke("run", "--config", str(config), "--seed", "9", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert sorted((r["seed"], r["params"]["number_of_iterations"]) for r in records) == [(9, 4), (9, 6)]
    with Store(tmp_path / "from-file.sqlite") as db:
        assert len(db) == 2


def test_user_case_files_reach_the_workers(tmp_path):
    fixed = sitk.GaussianSource(sitk.sitkFloat32, [48, 48], [6, 6], [24, 24], 100.0)
    moving = sitk.GaussianSource(sitk.sitkFloat32, [48, 48], [6, 6], [26, 23], 100.0)
    sitk.WriteImage(fixed, str(tmp_path / "fixed.nii.gz"))
    sitk.WriteImage(moving, str(tmp_path / "moving.nii.gz"))
    cases = tmp_path / "cases.toml"
    cases.write_text('[[case]]\nname = "my-blobs"\nfixed = "fixed.nii.gz"\nmoving = "moving.nii.gz"\n')
    store = tmp_path / "s.sqlite"
    result = invoke(
        "run", "--cases", str(cases), "-s", "gd", "-p", "number_of_iterations=5", "--seeds", "2", "--json", store=store
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [(r["case"], r["seed"], r["status"]) for r in records] == [("my-blobs", 0, "ok"), ("my-blobs", 1, "ok")]
    assert all(r["iterations"] > 0 for r in records)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "nope"], "no strategy matches 'nope'; valid: "),
        (["-s", "gd", "-c", "synth2d-translation", "-p", "learning_rate=-1"], "learning_rate"),
        (["-s", "gd", "-p", "lbfgs2.solution_accuracy=1"], "no selected strategy matches 'lbfgs2'"),
        (["--seed", "1", "--seeds", "2"], "give --seeds N or --seed S"),
        (["--plugin", "no_such_module_anywhere"], "plugin module 'no_such_module_anywhere' failed to import"),
        (["--scheduler", "tcp://h:1", "--executor", "local"], "--scheduler needs --executor dask"),
        (["--config", "missing.toml"], "missing.toml: cannot read the run file"),
        (["--cases", "missing-cases.toml"], "missing-cases.toml: case file not found"),
        (["-p", "x"], "expected [STRATEGY.]NAME=VALUE"),
        (
            ["-s", "gd", "-c", "synth2d-affine", "--seed", "-1"],
            "Invalid value for '--seed': '-1' is not a seed: give integers from 0 to 2147483647",
        ),
        # beyond the store's integers: refused before anything runs (it used to run, then die storing the record)
        (["-s", "gd", "-c", "synth2d-translation", "--seed", "99999999999999999999"], "'99999999999999999999' is not"),
        (["-s", "gd", "-c", "synth2d-translation", "--seed", "0,2147483648"], "'2147483648' is not a seed"),
        (["-s", "gd", "-c", "synth2d-translation", "--seed", "0,x"], "'x' is not a seed"),
        (
            ["-s", "gd", "-c", "synth2d-affine", "--seeds", "0"],
            "Invalid value for '--seeds': 0 is not in the range 1<=x<=100000",
        ),
        (["-s", "gd,nope"], "no strategy matches 'nope'"),
        (["--timeout", "-1"], "Invalid value for '--timeout'"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(tmp_path, args, message):
    result = CliRunner().invoke(main, ["run", *args, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.sqlite").exists(), "nothing is stored, not even an error record"


def test_seeds_are_given_as_a_comma_list_or_repeated(tmp_path):
    args = ["-s", "gd", "-c", "synth2d-translation", "--dry-run", "--json"]
    planned = []
    for seeds in (["--seed", "0,1,2"], ["--seed", "4", "--seed", "2,2147483647"]):
        result = invoke("run", *args, *seeds, store=tmp_path / "s.sqlite")
        assert result.exit_code == 0, result.output
        planned.append([r["seed"] for r in json.loads(result.stdout)["runs"]])
    assert planned == [[0, 1, 2], [4, 2, 2147483647]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('strategies = ["gd"]\nseed = [-5]\n', "run.toml:2: seed must be ≥ 0, not -5"),
        ('case_files = ["gone.toml"]\n', "run.toml:1: case_files entry 'gone.toml': no such file"),
    ],
)
def test_run_file_errors_exit_2_naming_the_file_and_line(tmp_path, text, message):
    config = tmp_path / "run.toml"
    config.write_text(text)
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, result.output
    assert f"{config.parent}/{message}" in " ".join(result.output.split())
    assert not (tmp_path / "s.sqlite").exists()


def test_a_file_that_is_not_a_store_is_a_usage_error(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not sqlite " * 200)
    result = CliRunner().invoke(main, ["run", *ONE, "--store", str(junk)])
    assert result.exit_code == 2 and "not a regbench result store" in " ".join(result.output.split())


def test_export_jsonl_and_csv(tmp_path):
    store = tmp_path / "s.sqlite"
    assert invoke("run", *FOUR, store=store).exit_code == 0
    lines = invoke("export", store=store).stdout.splitlines()
    with Store(store) as db:  # as the export left it: the kept positions evaluated and stored
        stored = {r.key: r.to_dict() for r in db.records()}
    assert {d["key"]: d for d in map(json.loads, lines)} == stored
    out = tmp_path / "runs.csv"
    result = invoke("export", "--format", "csv", "-o", str(out), "-s", "gd", store=store)
    assert result.exit_code == 0 and "2 runs written" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["seed"] for r in rows) == ["0", "1"] and {r["params.number_of_iterations"] for r in rows} == {"5"}
    missing = CliRunner().invoke(main, ["export", "--store", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "no such result store" in " ".join(missing.output.split())
    assert not (tmp_path / "nope.sqlite").exists()


def test_export_selects_by_glob_and_comma_lists_and_refuses_unknown_names(tmp_path):
    store = tmp_path / "s.sqlite"
    assert invoke("run", *FOUR, store=store).exit_code == 0

    def strategies(*args):
        result = invoke("export", *args, store=store)
        assert result.exit_code == 0, result.output
        return sorted(json.loads(line)["strategy"] for line in result.stdout.splitlines())

    assert strategies("-s", "gd*") == ["gd", "gd"]
    assert strategies("-s", "gd,lbfgs*") == strategies("-s", "gd", "-s", "lbfgs2") == ["gd", "gd", "lbfgs2", "lbfgs2"]
    assert strategies("-c", "synth2d-*", "-s", "lbfgs2") == ["lbfgs2", "lbfgs2"]
    for args, message in (
        (["-s", "nosuch"], "no strategy matches 'nosuch'; valid: gd, lbfgs2"),
        (["-c", "synth3d*"], "no case matches 'synth3d*'; valid: synth2d-translation"),
    ):
        result = CliRunner().invoke(main, ["export", *args, "--store", str(store)])
        assert result.exit_code == 2 and f"{store}: {message}" in " ".join(result.output.split())
        assert result.stdout.count("\n") <= 3  # the usage lines only, no records


def test_export_to_an_unwritable_path_is_a_usage_error(tmp_path):
    store = tmp_path / "s.sqlite"
    assert invoke("run", *ONE, store=store).exit_code == 0
    target = tmp_path / "no" / "such" / "dir" / "x.csv"
    result = CliRunner().invoke(main, ["export", "--store", str(store), "-f", "csv", "-o", str(target)])
    assert result.exit_code == 2, result.output
    assert f"--output: cannot write {target}: No such file or directory" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_exported_grid_runs_are_told_apart_by_params_columns(tmp_path):
    store = tmp_path / "s.sqlite"
    grid = ["-s", "gd", "-c", "synth2d-translation", "-p", "number_of_iterations=3", "-p", "learning_rate=0.5,2"]
    assert invoke("run", *grid, "--workers", "1", store=store).exit_code == 0
    out = tmp_path / "runs.csv"
    assert invoke("export", "-f", "csv", "-o", str(out), store=store).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["params.learning_rate"] for r in rows) == ["0.5", "2.0"]
    assert "params" not in rows[0], "one convention: params.<name> columns, no raw JSON column"
    pd = pytest.importorskip("pandas")
    with Store(store) as db:
        frame = db.to_dataframe()
    assert list(frame.columns) == list(rows[0]), "CSV and DataFrame have the same columns"
    assert sorted(frame["params.learning_rate"]) == [0.5, 2.0] and not pd.isna(frame["params.scales"]).any()


def _count(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_says_how_to_resume(tmp_path, regbench_process):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        "-s",
        "test-sleep",
        "-s",
        "test-hang",
        "-c",
        "synth2d-translation",
        "-p",
        "test-sleep.seconds=0",
        "--workers",
        "2",
        "--plugin",
        "runner_plugin",
        "--store",
        str(store),
    ]
    proc = regbench_process.start(*args, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (store.exists() and _count(store) == 1):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted: 1 of 2 runs finished" in " ".join(err.split())
    assert "Traceback" not in err
    with Store(store) as db:
        assert [r.strategy for r in db.records()] == ["test-sleep"]


def test_help_lists_the_options():
    result = invoke("run", "--help")
    for option in (
        "--strategy",
        "--case",
        "--cases",
        "--seeds",
        "--param",
        "--repeat",
        "--config",
        "--workers",
        "--threads",
        "--timeout",
        "--executor",
        "--scheduler",
        "--plugin",
        "--store",
        "--force",
        "--dry-run",
        "--json",
    ):
        assert option in result.output
    assert "Exit status: 0 when every run was executed and recorded" in " ".join(result.output.split())


def test_a_rerun_of_a_finished_matrix_starts_no_worker(tmp_path, monkeypatch):
    from regbench.runner.isolation import IsolatedWorker

    store = tmp_path / "s.sqlite"
    grid = ["-s", "gd", "-c", "synth2d-translation", "-p", "number_of_iterations=3", "--seeds", "2", "--workers", "1"]
    started = []
    real_start = IsolatedWorker.start
    monkeypatch.setattr(IsolatedWorker, "start", lambda self: (started.append(self), real_start(self))[1])
    assert invoke("run", *grid, store=store).exit_code == 0
    assert len(started) == 1, "one worker ran the two runs"
    started.clear()
    again = invoke("run", *grid, store=store)
    assert again.exit_code == 0 and "2 already in the store" in again.output
    assert started == [], "nothing to run, no worker process"


def test_a_bad_progress_interval_is_a_usage_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_PROGRESS_S", "abc")
    assert invoke("--help").exit_code == 0  # read where it is used, not when regbench is imported
    result = CliRunner().invoke(main, ["run", *ONE, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2
    assert "REGBENCH_PROGRESS_S='abc': expected a number of seconds > 0 (default 30)" in result.output
    assert not (tmp_path / "s.sqlite").exists(), "nothing ran"


def test_a_bad_lease_time_is_a_usage_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_LEASE_S", "-5")
    assert invoke("list").exit_code == 0  # regbench imports fine: the variable is read where claims are made
    result = CliRunner().invoke(main, ["run", *ONE, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2
    assert "REGBENCH_LEASE_S='-5': expected a number of seconds > 0 (default 60)" in result.output
