"""The runner side of process isolation: one persistent worker process, respawned when it dies.

A worker is a fresh interpreter (``python -m regbench.runner.worker``), not a fork: the runner has threads (the
progress display, Dask's event loop), and forking a threaded process that holds ITK's thread pool is how
deadlocks happen. Starting one costs ~0.3 s, once per worker and again only after a crash or a timeout; a run
then costs one message each way. The worker's stdout and stderr go to a log file whose tail is attached to the
record when it dies (``faulthandler`` writes the Python traceback of a segfault there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import IO, TYPE_CHECKING, Any

from regbench.evaluation.outcomes import judge_outcome
from regbench.record import RunRecord
from regbench.runner.worker import RunSpec
from regbench.util.strict_json import dumps

if TYPE_CHECKING:
    from regbench.plugin.manager import RegbenchPluginManager

STARTUP_TIMEOUT_S = 120.0
LOG_TAIL_BYTES = 2000


class RunnerError(Exception):
    """The runner itself failed (a worker cannot start, or cannot run a spec): no run result to record."""


@dataclass
class Lost:
    """A run whose process died or was killed: the runner turns it into a ``crashed``/``timeout`` record."""

    status: str
    error: str
    wall_time_s: float
    log_tail: str = ""
    instance: str | None = None  # the problem the run was solving, when the worker said before it was lost


def lost_record(template: RunRecord, lost: Lost, pm: RegbenchPluginManager | None = None) -> RunRecord:
    """The record of a lost run: its inputs from ``template``, the status and why. With ``pm``, its
    ``regbench_run_finished`` hooks see it here, in the runner (the worker that would have called them is gone)."""
    record = RunRecord.from_dict(template.to_dict())
    record.status, record.error, record.wall_time_s = lost.status, lost.error, lost.wall_time_s
    record.instance = lost.instance or record.instance
    record.outcome = judge_outcome(lost.status, None, None, None, None)
    if lost.log_tail:
        record.notes.append("worker log (tail): " + lost.log_tail)
    if pm is not None:
        pm.run_finished(record)
    return record


class Observers:
    """The plugin manager that tells plugins about lost runs, built on the first one (most matrices lose none)."""

    def __init__(self, plugins: Sequence[str] = ()) -> None:
        self.plugins = tuple(plugins)
        self._pm: RegbenchPluginManager | None = None

    def lost(self, template: RunRecord, lost: Lost) -> RunRecord:
        if self._pm is None:
            from regbench.runner.worker import plugin_manager

            self._pm = plugin_manager(self.plugins)
        return lost_record(template, lost, self._pm)


def death_message(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"worker died with signal {name}{hint}"
    return f"worker exited with code {returncode}"


class IsolatedWorker:
    """One worker process. ``submit`` a spec, ``wait`` on :attr:`conn`, then ``receive`` what came back."""

    def __init__(self, plugins: Sequence[str] = ()) -> None:
        self.plugins = tuple(plugins)
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self._outbox: Connection | None = None
        self._log: IO[bytes] | None = None
        self.ready = False
        self.spec: RunSpec | None = None
        self.instance: str | None = None  # the running spec's, once the worker has said
        self.started = 0.0
        self.runs = 0

    # -- lifetime ------------------------------------------------------------------------------------------

    def start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # O_APPEND (mode "ab"): the worker writes at the end even after the runner truncates the log.
        # The log outlives each process (respawns reuse it) and is closed by close().
        self._log = self._log or tempfile.TemporaryFile(mode="a+b", prefix="regbench-worker-")  # noqa: SIM115
        self._log.truncate(0)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "regbench.runner.worker", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._outbox = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.ready, self.spec, self.runs = False, None, 0
        self.started = time.monotonic()
        self._send({"sys_path": sys.path, "plugins": list(self.plugins)})

    def stop(self, kill: bool = True) -> None:
        """End the worker: close its pipes (an idle worker exits on EOF) and kill it unless told not to."""
        for conn in (self._outbox, self.conn):
            if conn is not None:
                conn.close()
        self._outbox = self.conn = None
        if self.proc is not None:
            if kill and self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.ready, self.spec = False, None

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- runs ----------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.spec is not None

    def submit(self, spec: RunSpec) -> None:
        assert self.ready and not self.busy and self._log is not None, "submit to a ready, idle worker only"
        self._log.truncate(0)
        self.spec, self.started, self.instance = spec, time.monotonic(), None
        self._send(spec.to_dict())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def receive(self) -> RunRecord | Lost | None:
        """Handle one message (call when :attr:`conn` is readable). Returns the finished run's record, a
        :class:`Lost` when the worker died during a run, or None (it became ready, or died idle and was
        replaced). A worker that cannot start, or cannot run a spec, raises :class:`RunnerError`."""
        try:
            if self.conn is None:
                raise EOFError("not started")
            message = json.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            return self._died()
        if "ready" in message:
            self.ready = True
            return None
        if "instance" in message:  # the running spec's instance, sent before its registration starts
            self.instance = message["instance"]
            return None
        spec, self.spec = self.spec, None
        self.runs += 1
        if "record" in message:
            return RunRecord.from_dict(message["record"])
        where = f"{spec.strategy} on {spec.case}, seed {spec.seed}" if spec else "worker start"
        raise RunnerError(f"{where}: {message.get('failure') or message.get('fatal')}")

    def _died(self) -> Lost | None:
        returncode = self.proc.wait() if self.proc is not None else None
        spec, was_ready, wall, tail = self.spec, self.ready, self.elapsed(), self.log_tail()
        self.stop()
        if spec is not None:
            return Lost("crashed", death_message(returncode), wall, tail, self.instance)
        if not was_ready:
            # Died while starting: respawning would die again.
            why = death_message(returncode)
            raise RunnerError(f"a worker died while starting ({why}); its log: {tail or '(empty)'}")
        self.start()  # died while idle (killed from outside): nothing was lost, replace it
        return None

    def timed_out(self, timeout: float) -> Lost:
        """Kill the worker running past ``timeout``; the caller respawns it."""
        wall, tail = self.elapsed(), self.log_tail()
        self.stop()
        why = f"run exceeded the timeout of {timeout:g} s; its worker was killed"
        return Lost("timeout", why, wall, tail, self.instance)

    def log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - LOG_TAIL_BYTES))
        return self._log.read().decode("utf-8", "replace").replace("\x00", "").strip()

    def _send(self, message: dict[str, Any]) -> None:
        assert self._outbox is not None, "send to a started worker only"
        self._outbox.send_bytes(dumps(message).encode())

    def readable(self) -> list[Connection]:
        """What to ``wait`` on for this worker's next message (nothing when it is not running)."""
        return [self.conn] if self.conn is not None else []


def run_isolated(worker: IsolatedWorker, spec: RunSpec, timeout: float | None) -> RunRecord | Lost:
    """Run one spec in ``worker`` synchronously (starting or respawning it as needed), within ``timeout``."""
    if worker.proc is None or worker.proc.poll() is not None:
        worker.restart()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not worker.ready:
        if not wait(worker.readable(), max(0.0, deadline - time.monotonic())):
            worker.stop()
            raise RunnerError(f"worker did not start within {STARTUP_TIMEOUT_S:g} s")
        worker.receive()
    worker.submit(spec)
    while True:
        left = None if timeout is None else max(0.0, timeout - worker.elapsed())
        if wait(worker.readable(), left):
            result = worker.receive()
            if result is not None:
                return result
        elif timeout is not None:
            return worker.timed_out(timeout)
