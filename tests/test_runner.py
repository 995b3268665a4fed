"""The runner: isolated workers turn segfaults and hangs into records, finished runs are never redone or lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from regbench.evaluation.outcomes import succeeded
from regbench.record import RunRecord
from regbench.run import run_one
from regbench.runner.executors import LocalExecutor, PlannedRun
from regbench.runner.isolation import IsolatedWorker, RunnerError, run_isolated
from regbench.runner.matrix import Matrix, parse_param_option, plan
from regbench.runner.run_matrix import Progress, run_matrix
from regbench.runner.worker import RunSpec, plugin_manager
from regbench.store.sqlite import Store

PLUGINS = ("runner_plugin",)


def matrix(strategies, *params: str, seeds=(0,)) -> Matrix:
    entries = [parse_param_option(text) for text in params]
    return Matrix(strategies=strategies, cases=["synth2d-translation"], seeds=list(seeds), params=entries)


def without_timing(record) -> dict:
    return record.without_timings()


def test_segfaults_and_hangs_are_recorded_and_the_other_runs_finish(tmp_path):
    strategies = ["test-segfault", "test-sigsegv", "test-hang", "test-sleep", "gd"]
    chosen = matrix(strategies, "test-sleep.seconds=0", "gd.number_of_iterations=5", seeds=(0, 1))
    # The limit is every run's: 5 s, 20 times what gd and the sleep take, so that only the hangs reach it on a
    # loaded machine too.
    records = run_matrix(chosen, tmp_path / "s.sqlite", workers=2, timeout=5, plugins=PLUGINS)
    by = {(r.strategy, r.seed): r for r in records}
    assert len(records) == 10 and set(by) == {(s, seed) for s in strategies for seed in (0, 1)}
    for seed in (0, 1):
        for name in ("test-segfault", "test-sigsegv"):
            crashed = by[name, seed]
            assert (crashed.status, crashed.outcome) == ("crashed", "crashed")
            assert crashed.error == "worker died with signal SIGSEGV"
            assert "Segmentation fault" in crashed.notes[-1]  # faulthandler's traceback, from the worker log
            assert crashed.key and crashed.params == {} and crashed.versions
        hung = by["test-hang", seed]
        assert (hung.status, hung.outcome) == ("timeout", "timeout")
        assert hung.error == "run exceeded the timeout of 5 s; its worker was killed"
        assert 5 <= hung.wall_time_s < 60  # killed at its timeout (the hang never ends), however loaded the machine
        assert by["test-sleep", seed].status == "ok"  # it printed to stdout: the protocol does not care
        assert by["gd", seed].status == "ok" and by["gd", seed].iterations > 0
    with Store(tmp_path / "s.sqlite") as store:
        assert len(store) == 10


def test_two_hangs_on_two_workers_run_side_by_side(tmp_path):
    # From the records' own timings, not the clock of a loaded machine: each hang's interval is [its record's
    # arrival - its wall time, its arrival]; one after the other on a single worker, they could not overlap.
    arrived: dict[int, float] = {}
    chosen = matrix(["test-hang"], seeds=(0, 1))
    records = run_matrix(
        chosen,
        tmp_path / "s.sqlite",
        workers=2,
        timeout=3,
        plugins=PLUGINS,
        on_record=lambda record: arrived.setdefault(record.seed, time.monotonic()),
    )
    assert [(r.seed, r.status) for r in records] == [(0, "timeout"), (1, "timeout")]
    starts = [arrived[r.seed] - r.wall_time_s for r in records]
    assert max(starts) < min(arrived.values()), "the second hang started only after the first was killed"


def test_rerun_skips_finished_runs_and_force_reruns_them(tmp_path):
    chosen = matrix(["gd"], "number_of_iterations=5", seeds=(0, 1))
    path = tmp_path / "s.sqlite"
    ran = []
    first = run_matrix(chosen, path, workers=1, on_record=ran.append)
    assert len(ran) == 2
    again = run_matrix(chosen, path, workers=1, on_record=ran.append)
    assert len(ran) == 2, "a rerun must not execute finished runs"
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]
    forced = run_matrix(chosen, path, workers=1, force=True, on_record=ran.append)
    assert len(ran) == 4 and [r.key for r in forced] == [r.key for r in first]
    with Store(path) as store:
        assert len(store) == 2 and len(store.replaced()) == 2


def test_an_isolated_run_gives_the_record_of_an_in_process_run(tmp_path):
    pm = plugin_manager()
    chosen = matrix(["gd"], "number_of_iterations=5", seeds=(3,))
    (record,) = run_matrix(chosen, tmp_path / "s.sqlite", threads=1)
    here = run_one("gd", "synth2d-translation", seed=3, params={"number_of_iterations": 5}, threads=1, pm=pm)
    assert without_timing(record) == without_timing(here)
    (inprocess,) = run_matrix(chosen, tmp_path / "other.sqlite", threads=1, executor="inprocess")
    assert without_timing(inprocess) == without_timing(here)


def test_a_worker_that_cannot_run_a_spec_is_a_runner_failure(tmp_path):
    (run,) = plan(matrix(["gd"]), plugin_manager(), threads=1)
    forged = PlannedRun(RunSpec(**{**run.spec.to_dict(), "key": "not-the-key"}), run.template)
    with pytest.raises(RunnerError, match=r"gd on synth2d-translation, seed 0: .*or its software differ"):
        LocalExecutor(1).run([forged], lambda record: None)


def _store_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the table is not created yet


@pytest.mark.slow
def test_kill_9_mid_suite_then_rerun_runs_every_run_exactly_once(tmp_path, regbench_process):
    path = tmp_path / "s.sqlite"
    args = [
        "run",
        "-s",
        "test-sleep",
        "-c",
        "synth2d-translation",
        "--seeds",
        "12",
        "-p",
        "seconds=0.3",
        "--workers",
        "2",
        "--plugin",
        "runner_plugin",
        "--store",
        str(path),
    ]
    proc = regbench_process.start(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _store_count(path) < 4:
        assert proc.poll() is None, "the runner ended before it could be killed"
        assert time.monotonic() < deadline, "the runner recorded nothing within a minute"
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert workers, "the runner had worker processes"
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "worker processes outlived their killed runner"
    done_before = _store_count(path)
    assert 4 <= done_before < 12

    ran = []
    chosen = Matrix(
        strategies=["test-sleep"],
        cases=["synth2d-translation"],
        seeds=list(range(12)),
        params=[parse_param_option("seconds=0.3")],
    )
    records = run_matrix(chosen, path, workers=2, plugins=PLUGINS, on_record=ran.append)
    planned = {r.spec.key for r in plan(chosen, plugin_manager(PLUGINS), threads=1)}
    assert len(ran) == 12 - done_before, "the rerun executes exactly the runs the killed one did not finish"
    assert {r.key for r in records} == planned and len(records) == 12
    with Store(path) as store:
        assert store.keys() == planned and not store.replaced()


def test_a_worker_that_cannot_start_is_a_runner_failure():
    (run,) = plan(matrix(["gd"]), plugin_manager(), threads=1)
    worker = IsolatedWorker(("no_such_plugin_module",))
    try:
        with pytest.raises(RunnerError, match=r"worker start: worker could not start: .*no_such_plugin_module"):
            run_isolated(worker, run.spec, timeout=None)
    finally:
        worker.close()


def test_an_idle_worker_killed_from_outside_is_replaced():
    (run,) = plan(matrix(["gd"], "number_of_iterations=5"), plugin_manager(), threads=1)
    worker = IsolatedWorker()
    try:
        assert run_isolated(worker, run.spec, timeout=60).status == "ok"
        old = worker.proc.pid
        os.kill(old, signal.SIGKILL)
        assert worker.receive() is None  # the EOF of its pipe: nothing was running, nothing is lost
        assert worker.proc.pid != old
        assert run_isolated(worker, run.spec, timeout=60).status == "ok"
    finally:
        worker.close()


@pytest.mark.parametrize(
    ("status", "outcome", "is_failed"),
    [
        ("ok", "converged", False),
        ("ok", "line_search", False),
        ("ok", "max_iterations", False),
        ("ok", "no_overlap", True),  # e.g. gd-once: SimpleITK returns, the metric says the images stopped overlapping
        ("ok", "diverged", True),
        ("error", "no_overlap", True),  # e.g. LBFGS: the metric raises instead
        ("error", "error", True),
        ("crashed", "crashed", True),
        ("timeout", "timeout", True),
    ],
)
def test_progress_counts_by_outcome(status, outcome, is_failed):
    # the bar counts with the one vocabulary the tables use
    assert succeeded(RunRecord(strategy="s", case="c", seed=0, status=status, outcome=outcome)) is not is_failed
    progress = Progress(total=1)
    progress.add(RunRecord(strategy="s", case="c", seed=0, status=status, outcome=outcome))
    assert (progress.done, progress.succeeded, progress.failed) == (1, int(not is_failed), int(is_failed))
