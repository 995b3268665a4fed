"""Dask workers and a scheduler lost mid-matrix, on a real cluster: the ``dask scheduler`` and ``dask worker`` CLIs
started by the test, counting executions. Only a run the dead worker had not finished may run again."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from regbench_processes import RegbenchProcesses

from regbench.runner import dask_executor
from regbench.runner.isolation import RunnerError
from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

pytest.importorskip("distributed")

RUNS = 30


def wait_for(what: str, ready: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    """A scheduler and workers (``--no-nanny``: a worker's pid is the parent of its isolated processes), each a
    process of its own on loopback; the ``test-counted`` runs log their executions to :attr:`executions`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path, self.executions = tmp_path, tmp_path / "executions.log"
        self.processes: list[subprocess.Popen] = []
        self.env = RegbenchProcesses.env(  # the environment regbench's own test processes get
            {
                "REGBENCH_TEST_EXECUTIONS_LOG": str(self.executions),
                "REGBENCH_TEST_FINISHED_LOG": str(tmp_path / "finished.log"),
            }
        )
        self.common = ["--no-dashboard", "--scheduler-file", str(tmp_path / "scheduler.json")]
        self.scheduler = self.start("scheduler", "--host", "127.0.0.1", "--port", "0")
        file = tmp_path / "scheduler.json"
        self.address = wait_for("the scheduler", lambda: file.exists() and json.loads(file.read_text()))["address"]

    def start(self, *args: str) -> subprocess.Popen:
        with open(self.tmp_path / f"dask-{len(self.processes)}.log", "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "dask", *args, *self.common], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def worker(self) -> subprocess.Popen:
        return self.start("worker", "--nworkers", "1", "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1")

    def events(self, kind: str) -> list[tuple[int, int]]:
        """(seed, Dask worker pid) of each ``start`` or ``end`` so far."""
        lines = self.executions.read_text().splitlines() if self.executions.exists() else []
        return [(int(seed), int(pid)) for event, seed, pid in (line.split() for line in lines) if event == kind]

    def finished_on(self, pid: int) -> int:
        return sum(worker == pid for _, worker in self.events("end"))

    def hook_calls(self) -> int:
        return len(Path(self.env["REGBENCH_TEST_FINISHED_LOG"]).read_text().splitlines())

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    try:
        yield started
    finally:
        started.close()


def in_background(cluster: Cluster, **options: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """``RUNS`` test-counted runs on ``cluster``, in a thread; the dict gets their ``records`` or the ``error``."""
    chosen = Matrix(strategies=["test-counted"], cases=["synth2d-translation"], seeds=list(range(RUNS)))
    options = {"timeout": None, "plugins": ("dask_count_plugin", "runner_plugin"), **options}
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            store = cluster.tmp_path / "s.sqlite"
            outcome["records"] = run_matrix(chosen, store, executor="dask", scheduler=cluster.address, **options)
        except BaseException as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner, outcome


def finish(runner: threading.Thread, outcome: dict[str, Any]) -> list:
    runner.join(60)
    assert not runner.is_alive() and "error" not in outcome, outcome
    assert len(outcome["records"]) == RUNS and {r.strategy for r in outcome["records"]} == {"test-counted"}
    return outcome["records"]


@pytest.mark.slow
def test_a_dask_worker_killed_mid_matrix_reruns_only_its_unfinished_run(cluster):
    workers = {worker.pid: worker for worker in (cluster.worker(), cluster.worker())}
    runner, outcome = in_background(cluster)
    victim = wait_for(
        "3 runs finished on one worker", lambda: next((p for p in workers if cluster.finished_on(p) >= 3), 0)
    )
    os.kill(victim, signal.SIGKILL)
    finish(runner, outcome)
    starts = Counter(seed for seed, _ in cluster.events("start"))
    started_on_victim = {seed for seed, pid in cluster.events("start") if pid == victim}
    counts = f"{RUNS} runs, {sum(starts.values())} executions, {cluster.hook_calls()} regbench_run_finished calls, "
    counts += f"{cluster.finished_on(victim)} runs finished on the killed worker"
    print(counts)
    assert set(starts) == set(range(RUNS))
    # One thread a worker: only the run the killed worker was in the middle of may run twice.
    assert sum(starts.values()) <= RUNS + 1, counts
    assert {seed for seed, n in starts.items() if n > 1} <= started_on_victim, counts
    assert cluster.hook_calls() <= RUNS + 1, counts


@pytest.mark.slow
def test_the_runs_said_to_wait_for_a_worker_are_the_runs_not_stored(cluster, monkeypatch):
    stored: list = []
    said: list[tuple[str, int]] = []
    watch = functools.partial(dask_executor.WorkerWatch, say=lambda text: said.append((text, len(stored))), every=0.2)
    monkeypatch.setattr(dask_executor, "WorkerWatch", watch)
    workers = [cluster.worker(), cluster.worker()]
    runner, outcome = in_background(cluster, on_record=stored.append)
    wait_for("6 runs finished", lambda: len(cluster.events("end")) >= 6)
    before = len(said)  # the workers may have joined after the run started: the runner said so then
    for worker in workers:
        worker.kill()
    text, stored_then = wait_for("the runner to say no worker is left", lambda: said[before:] and said[before])
    cluster.worker()
    finish(runner, outcome)
    assert f"has no workers left: {RUNS - stored_then} runs wait until a worker joins" in text, (text, stored_then)
    assert "worker(s) again" in said[-1][0]


class Logged(logging.Handler):
    """The records that reach ``distributed``'s own handlers (child loggers propagate to it)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_lost_scheduler_fails_the_run_with_one_clear_message(cluster, monkeypatch):
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 2.0)  # how long the client tries to reconnect
    logged = Logged()
    logging.getLogger("distributed").addHandler(logged)
    try:
        cluster.worker()
        runner, outcome = in_background(cluster)
        wait_for("3 runs finished", lambda: len(cluster.events("end")) >= 3)
        cluster.scheduler.kill()
        runner.join(60)
    finally:
        logging.getLogger("distributed").removeHandler(logged)
    assert isinstance(outcome.get("error"), RunnerError), outcome
    assert f"lost the connection to the Dask scheduler at {cluster.address}" in str(outcome["error"])
    # distributed's reconnection tracebacks would come before the runner's message: the user sees that only.
    assert [r.getMessage() for r in logged.records if r.levelno >= logging.WARNING] == []
