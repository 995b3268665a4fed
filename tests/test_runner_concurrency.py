"""Several runners on one store cooperate: a run another runner finished is skipped, a run in flight elsewhere is
claimed (a lease with expiry), and together they finish the union with no run done twice."""

from __future__ import annotations

import io
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
from regbench_processes import RegbenchProcesses

from regbench.store.sqlite import Store

TESTS = Path(__file__).resolve().parent


def runner(
    processes: RegbenchProcesses, store, seeds, *, lease=None, log=None, seconds="0.3", progress_s=None
) -> subprocess.Popen[str]:
    """``regbench run`` of ``test-sleep`` on ``seeds`` with two workers, started; stderr joins stdout."""
    args = ["run", "-s", "test-sleep", "-c", "synth2d-translation", "-p", f"seconds={seconds}", "--workers", "2"]
    args += [part for seed in seeds for part in ("--seed", str(seed))]
    args += ["--plugin", "runner_plugin", "--store", str(store)]
    env = {"REGBENCH_TEST_FINISHED_LOG": log, "REGBENCH_LEASE_S": lease, "REGBENCH_PROGRESS_S": progress_s}
    return processes.start(*args, env={name: str(value) for name, value in env.items() if value is not None})


def count(path):
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_for_a_record(proc, store, limit_s: float = 60) -> None:
    """Until ``store`` holds a record, with ``proc`` (the runner writing it) still alive."""
    deadline = time.monotonic() + limit_s
    while count(store) < 1:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def wait_until_ended(processes: list[psutil.Process], limit_s: float = 10) -> None:
    """Until every one of ``processes`` has ended: gone, or a zombie (it runs no more code; who reaps orphans, and
    when, depends on the machine)."""

    def ended(process: psutil.Process) -> bool:
        try:
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + limit_s
    while not all(ended(process) for process in processes):
        assert time.monotonic() < deadline, "processes outlive the runner they belong to"
        time.sleep(0.05)


def test_two_runners_on_overlapping_matrices_do_every_run_once(tmp_path, regbench_process):
    store, log = tmp_path / "s.sqlite", tmp_path / "finished.log"
    with Store(store):
        pass  # created up front, so both runners open the same schema
    first = runner(regbench_process, store, range(0, 12), log=log)
    second = runner(regbench_process, store, range(6, 18), log=log)
    out1, _ = first.communicate(timeout=300)
    out2, _ = second.communicate(timeout=300)
    assert first.returncode == 0, out1
    assert second.returncode == 0, out2
    assert "Traceback" not in out1 + out2
    with Store.read_only(store) as db:
        seeds = sorted(r.seed for r in db.records())
    assert seeds == list(range(18)), seeds  # the union, each run once
    executions = [line for line in log.read_text().splitlines() if line.startswith("test-sleep")]
    assert len(executions) == 18, executions  # no run executed twice
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM leases").fetchone()[0] == 0  # every claim released
    # each summary counts as new the runs its runner ran (each counted the other's too: 12 + 12)
    new = [re.search(r"12 runs: (\d+) new", " ".join(out.split())) for out in (out1, out2)]
    assert all(new) and sum(int(m.group(1)) for m in new if m) == 18, (out1, out2)


def test_the_claims_of_a_killed_runner_expire_and_another_runner_finishes(tmp_path, regbench_process):
    store = tmp_path / "s.sqlite"
    first = runner(regbench_process, store, range(8), lease=2, seconds="1.0")
    wait_for_a_record(first, store)
    workers = psutil.Process(first.pid).children(recursive=True)
    first.send_signal(signal.SIGKILL)
    first.wait()
    wait_until_ended(workers)  # nothing of the killed runner is left that could still touch its claims
    with sqlite3.connect(store) as db:
        claimed = db.execute("SELECT count(*) FROM leases").fetchone()[0]
    assert claimed >= 1  # the killed runner's runs in flight are still claimed
    second = runner(regbench_process, store, range(8), lease=2, seconds="1.0")
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, out
    with Store.read_only(store) as db:
        assert sorted(r.seed for r in db.records()) == list(range(8))


def test_sigterm_of_the_runner_says_what_is_committed(tmp_path, regbench_process):
    store = tmp_path / "s.sqlite"
    proc = runner(regbench_process, store, range(10), seconds="0.5")
    wait_for_a_record(proc, store)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "terminated (SIGTERM):" in out and "runs finished and are in" in out and "Traceback" not in out


def test_a_full_disk_is_the_runner_failed_message_with_the_committed_count(tmp_path, monkeypatch, pm):
    from click.testing import CliRunner

    from regbench.cli import main

    real_add = Store.add
    calls = []

    def add(self, record, **kwargs):
        calls.append(record.key)
        if len(calls) > 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real_add(self, record, **kwargs)

    monkeypatch.setattr(Store, "add", add)
    store = tmp_path / "s.sqlite"
    args = ["run", "-s", "gd", "-c", "synth2d-translation", "--seeds", "4", "-p", "number_of_iterations=3"]
    result = CliRunner().invoke(main, [*args, "--in-process", "--store", str(store)])
    assert result.exit_code == 1, result.output
    assert "the runner failed: the store cannot be written (database or disk is full)" in result.output
    assert "2 of 4 runs finished and are committed" in result.output and "Traceback" not in result.output


def test_sigterm_of_a_single_run_exits_143_with_a_message_and_kills_its_worker(tmp_path, regbench_process):
    store = tmp_path / "s.sqlite"
    proc = runner(regbench_process, store, [0], seconds="60")  # one run: shown in full, in a worker process of its own
    deadline = time.monotonic() + 60
    while not (children := psutil.Process(proc.pid).children()):  # the worker: the handler is in place by now
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out  # was -15, silently
    assert "terminated (SIGTERM): the run was stopped and nothing was recorded" in out and "Traceback" not in out
    _, alive = psutil.wait_procs(children, timeout=10)  # killed, or (caught starting) gone on its pipes' EOF
    assert not alive, "the run's worker outlives the runner"
    assert count(store) == 0


def full_disk(*args, **kwargs):
    raise sqlite3.OperationalError("database or disk is full")


def test_a_full_disk_after_a_single_run_shows_the_run_and_exits_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regbench.cli import main

    monkeypatch.setattr(Store, "add", full_disk)
    store = tmp_path / "s.sqlite"
    args = ["run", "-s", "gd", "-c", "synth2d-translation", "--seed", "1", "-p", "number_of_iterations=3"]
    result = CliRunner().invoke(main, [*args, "--in-process", "--store", str(store)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "gd on synth2d-translation, seed 1" in text  # the finished run is still shown
    assert "the runner failed: the store cannot be written (database or disk is full): free space on its disk" in text
    assert f"the run finished (shown above) but is not in {store}" in text
    assert result.exception is None or isinstance(result.exception, SystemExit)  # was a raw OperationalError


def test_a_full_disk_when_the_store_opens_is_a_runner_failure_not_a_usage_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regbench.cli import main

    monkeypatch.setattr(Store, "_migrate", full_disk)
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(main, ["run", "-s", "gd", "-c", "synth2d-translation", "--store", str(store)])
    assert result.exit_code == 1, result.output  # was 2 with "Usage: ..."
    text = " ".join(result.output.split())
    assert "Usage:" not in text and "the runner failed:" in text and "free space on its disk" in text
    assert "nothing ran" in text


def test_a_wal_index_that_cannot_grow_is_a_full_disk():
    from regbench.store.sqlite import disk_full

    shm = sqlite3.OperationalError("disk I/O error")  # what a full tmpfs gave when the store opened
    shm.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
    assert disk_full(shm) and disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not disk_full(sqlite3.OperationalError("unable to open database file"))
    assert not disk_full(OSError("database or disk is full"))


def test_a_run_claimed_on_another_host_is_waited_for_until_its_lease_expires(tmp_path, monkeypatch):
    from regbench.runner.matrix import Matrix, parse_param_option, plan
    from regbench.runner.run_matrix import run_matrix
    from regbench.runner.worker import plugin_manager

    monkeypatch.syspath_prepend(str(TESTS))
    chosen = Matrix(
        strategies=["test-sleep"], cases=["synth2d-translation"], seeds=[0, 1], params=[parse_param_option("seconds=0")]
    )
    keys = [run.spec.key for run in plan(chosen, plugin_manager(("runner_plugin",)), threads=1)]
    store = tmp_path / "s.sqlite"
    with Store(store) as db:
        assert db.claim(keys[1], "another-host:1:abc", ttl=2.0)  # a live runner on another host holds it
    started = time.monotonic()
    records = run_matrix(chosen, store, executor="inprocess", plugins=("runner_plugin",))
    assert [r.seed for r in records] == [0, 1]
    assert time.monotonic() - started >= 1.5  # it waited for the other host's claim to expire, then ran it


def test_progress_lines_on_a_non_terminal_with_an_eta(tmp_path, regbench_process):
    proc = runner(regbench_process, tmp_path / "s.sqlite", range(6), seconds="0.4", progress_s=0.5)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    lines = [line for line in out.splitlines() if line.startswith("progress: ")]
    assert lines, out
    assert any("left" in line and "runs done" in line for line in lines), lines


def test_the_eta_learns_per_strategy():
    from types import SimpleNamespace

    from rich.console import Console

    from regbench.cli.progress import ProgressLines

    todo = [SimpleNamespace(spec=SimpleNamespace(strategy=s)) for s in ["slow"] * 3 + ["fast"] * 3]
    lines = ProgressLines(todo, 2, Console(file=io.StringIO()))
    progress = SimpleNamespace(done=1, succeeded=1, failed=0, verdicts={"registered": 1})
    lines.add(SimpleNamespace(strategy="slow", wall_time_s=10.0), progress)
    lines.add(SimpleNamespace(strategy="fast", wall_time_s=1.0), progress)
    assert lines.eta_s() == (2 * 10.0 + 2 * 1.0) / 2
    assert "about 11 s left" in lines.line()
