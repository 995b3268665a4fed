"""Executors: how planned runs get run. Each calls ``emit(record)`` once per run as it finishes.

- :class:`LocalExecutor`: N persistent isolated worker processes on this machine (the default).
- :class:`InProcessExecutor`: this process, no isolation (one quick run, tests, the isolation benchmark).
- ``regbench.runner.dask_executor.DaskExecutor``: a Dask cluster (optional extra).

A run that crashes its worker or outlives the timeout is emitted as a ``crashed``/``timeout`` record and its
worker respawned; the other runs go on. An executor raises :class:`RunnerError` only when it cannot run at all.
Entering an executor as a context manager acquires what it needs up front (the Dask executor connects to its
scheduler), so a caller can fail fast before it starts showing progress; ``run`` works without it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Protocol, TypeVar

from regbench.record import RunRecord
from regbench.runner.isolation import STARTUP_TIMEOUT_S, IsolatedWorker, Lost, Observers, RunnerError
from regbench.runner.schedule import RunQueue, RuntimeModel
from regbench.runner.worker import RunSpec, WorkerState

Emit = Callable[[RunRecord], None]
#: Asked just before a run starts: False skips it (another runner on the same store has it).
Claim = Callable[[RunSpec], bool]
E = TypeVar("E")


@dataclass
class PlannedRun:
    """A run to do: the spec a worker rebuilds it from, and the record it starts as (key, inputs, provenance)."""

    spec: RunSpec
    template: RunRecord


class Executor(Protocol):
    """Where runs execute: ``run`` calls ``emit(record)`` once per run of ``runs`` it runs. With ``claim``, a run is
    run only if ``claim(spec)`` says so (asked just before the run starts, or for the whole batch up front by an
    executor that submits one); ``model`` orders the runs, longest expected first."""

    workers: int

    def run(
        self, runs: Sequence[PlannedRun], emit: Emit, claim: Claim | None = None, model: RuntimeModel | None = None
    ) -> None: ...

    def __enter__(self: E) -> E: ...

    def __exit__(self, *exc: object) -> None: ...


class _NothingToAcquire:
    """The context manager of executors that start their workers in ``run``."""

    def __enter__(self: E) -> E:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class InProcessExecutor(_NothingToAcquire):
    """Runs in this process, one after the other: no isolation and no timeout, so a segfault ends it all."""

    workers = 1

    def __init__(self, plugins: Sequence[str] = ()) -> None:
        self.plugins = tuple(plugins)

    def run(
        self, runs: Sequence[PlannedRun], emit: Emit, claim: Claim | None = None, model: RuntimeModel | None = None
    ) -> None:
        state = WorkerState(self.plugins)
        for run in in_order(runs, model):
            if claim is None or claim(run.spec):
                emit(state.run(run.spec))


def in_order(runs: Sequence[PlannedRun], model: RuntimeModel | None) -> Sequence[PlannedRun]:
    """``runs`` longest expected first by ``model`` (as given without one)."""
    return runs if model is None else RunQueue(runs, model, lambda run: run.spec).ordered()


#: Signals that come from outside the run (``kill``, a batch system, the OOM killer): a run whose worker died of
#: one is retried once before it is recorded ``crashed``. A segfault or an abort is the run's own and is not.
OUTSIDE_SIGNALS = ("SIGKILL", "SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT")


def killed_from_outside(lost: Lost) -> bool:
    return lost.status == "crashed" and any(f"signal {name}" in lost.error for name in OUTSIDE_SIGNALS)


def _rest(lost: Lost) -> tuple:
    return (lost.wall_time_s, lost.log_tail, lost.instance)


class LocalExecutor:
    """``workers`` persistent worker processes; ``timeout`` seconds per run (None: no limit).

    Entering it starts the workers (they import SimpleITK and the plugins while the caller goes on) and keeps
    them across calls of ``run``, which starts them itself otherwise. Runs start longest expected first
    (:mod:`regbench.runner.schedule`), with ``model`` learning from each run that ends.
    """

    def __init__(self, workers: int, timeout: float | None = None, plugins: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, not {workers}")
        self.workers = workers
        self.timeout = timeout
        self.plugins = tuple(plugins)
        self._pool: list[IsolatedWorker] = []

    def __enter__(self) -> LocalExecutor:
        self._start(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _start(self, count: int) -> None:
        while len(self._pool) < count:
            worker = IsolatedWorker(self.plugins)
            worker.start()
            self._pool.append(worker)

    def _close(self) -> None:
        pool, self._pool = self._pool, []
        for worker in pool:
            worker.close()

    def run(
        self, runs: Sequence[PlannedRun], emit: Emit, claim: Claim | None = None, model: RuntimeModel | None = None
    ) -> None:
        """Run ``runs``; with ``claim``, each is claimed just before a worker takes it and skipped when refused."""
        if not runs:
            return
        entered = bool(self._pool)
        try:
            self._start(min(self.workers, len(runs)))
            self._run(runs, emit, claim, model or RuntimeModel())
        finally:
            if not entered:
                self._close()

    def _run(self, runs: Sequence[PlannedRun], emit: Emit, claim: Claim | None, model: RuntimeModel) -> None:
        templates = {run.spec.key: run.template for run in runs}
        observers = Observers(self.plugins)  # regbench_run_finished of crashed and timed-out runs
        queue = RunQueue((run.spec for run in runs), model, lambda spec: spec)
        retried: set[str] = set()
        pool = self._pool
        finished: list[RunRecord] = []
        try:
            while True:
                for worker in pool:
                    while worker.ready and not worker.busy and queue:
                        spec = queue.pop()
                        if claim is None or claim(spec):
                            worker.submit(spec)
                # Emitting commits to the store: done once the idle workers have their next run, not before.
                while finished:
                    emit(finished.pop(0))
                if not queue and not any(w.busy for w in pool):
                    return
                by_conn: dict[object, IsolatedWorker] = {w.conn: w for w in pool if w.conn is not None}
                for conn in wait(list(by_conn), self._wait_time(pool)):  # type: ignore[arg-type]
                    worker = by_conn[conn]
                    spec = worker.spec
                    result = worker.receive()
                    if isinstance(result, Lost):
                        assert spec is not None, "a worker is lost during a run only"
                        worker.start()
                        if killed_from_outside(result) and spec.key not in retried:
                            retried.add(spec.key)  # the machine's doing, not the run's: once more
                            queue.push_front(spec)
                            continue
                        if spec.key in retried:
                            result = Lost(result.status, result.error + " (again, after one retry)", *_rest(result))
                        model.observe_run(spec, result.wall_time_s)
                        finished.append(observers.lost(templates[spec.key], result))
                    elif result is not None:
                        assert spec is not None, "a record answers a run"
                        model.observe_run(spec, result.wall_time_s)
                        finished.append(result)
                self._enforce_deadlines(pool, templates, finished.append, observers, model)
        except BaseException:
            while finished:  # runs that ended before the failure (or the Ctrl-C) are still committed
                with contextlib.suppress(Exception):
                    emit(finished.pop(0))
            raise

    def _wait_time(self, pool: list[IsolatedWorker]) -> float:
        limits = [STARTUP_TIMEOUT_S - w.elapsed() for w in pool if not w.ready]
        if self.timeout is not None:
            limits += [self.timeout - w.elapsed() for w in pool if w.busy]
        return max(0.0, min(limits)) if limits else STARTUP_TIMEOUT_S

    def _enforce_deadlines(
        self,
        pool: list[IsolatedWorker],
        templates: dict[str, RunRecord],
        emit: Emit,
        observers: Observers,
        model: RuntimeModel,
    ) -> None:
        for worker in pool:
            if not worker.ready and worker.elapsed() > STARTUP_TIMEOUT_S:
                tail = worker.log_tail()
                raise RunnerError(f"a worker did not start within {STARTUP_TIMEOUT_S:g} s; its log: {tail}")
            spec = worker.spec
            if self.timeout is not None and spec is not None and worker.elapsed() > self.timeout:
                lost = worker.timed_out(self.timeout)
                worker.start()
                model.observe_run(spec, lost.wall_time_s)
                emit(observers.lost(templates[spec.key], lost))
