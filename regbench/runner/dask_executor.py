"""The Dask executor (``pip install 'regbench[dask]'``): runs on a Dask cluster, records written by the client.

Each Dask task runs its spec in an isolated worker process kept by the Dask worker (see
:mod:`regbench.runner.isolation`), so a segfault or a hang costs one ``crashed``/``timeout`` record, not the Dask
worker, and the records are the same as the local executor's. Without a scheduler address a ``LocalCluster`` on
loopback runs ``workers`` single-threaded worker processes; with a :class:`~regbench.runner.cluster.ClusterSpec`,
a batch cluster's jobs do (:mod:`regbench.runner.cluster`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from regbench.record import RunRecord
from regbench.runner.cluster import ClusterSpec, start_cluster
from regbench.runner.executors import Claim, Emit, PlannedRun, in_order
from regbench.runner.isolation import IsolatedWorker, Lost, Observers, RunnerError, run_isolated
from regbench.runner.schedule import RuntimeModel
from regbench.runner.worker import RunSpec
from regbench.util.periodic import Periodic

#: How long to try reaching a scheduler before giving up (Dask's own default is 30 s).
CONNECT_TIMEOUT_S = 10.0


def _distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError as exc:
        raise RunnerError(
            "--executor dask needs Dask's distributed scheduler, which is not installed: pip install 'regbench[dask]'"
        ) from exc
    return distributed


class SchedulerAddressError(ValueError):
    """The scheduler address is malformed (a usage error, unlike a scheduler that cannot be reached)."""


class DaskExecutor:
    """Runs on the cluster at ``scheduler`` (``tcp://host:8786``), or on a loopback ``LocalCluster``.

    Entering it (``with executor:``) connects, or starts the local cluster, and sets :attr:`workers` to the
    number of Dask workers there; ``run`` connects by itself when it was not entered.
    """

    def __init__(
        self,
        scheduler: str | None,
        workers: int,
        timeout: float | None = None,
        plugins: Sequence[str] = (),
        cluster: ClusterSpec | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.batch = cluster
        self.workers = workers
        self.timeout = timeout
        self.plugins = tuple(plugins)
        self._client: Any = None
        self._cluster: Any = None
        self._observers = Observers(self.plugins)  # regbench_run_finished of lost runs, on the client

    @property
    def where(self) -> str:
        if self.batch is not None:
            address = f" at {self._cluster.scheduler_address}" if self._cluster is not None else ""
            return f"the scheduler of the {self.batch.label} jobs{address}"
        return self.scheduler or "a local cluster"

    def __enter__(self) -> DaskExecutor:
        distributed = _distributed()
        try:
            if self.scheduler:
                self._client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            elif self.batch is not None:
                self._cluster = start_cluster(self.batch)
                self._client = distributed.Client(self._cluster)
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
                self._client = distributed.Client(self._cluster)
            self.workers = len(self._client.scheduler_info().get("workers", {}))
            if self.batch is not None:  # the workers asked for: their jobs may wait in the queue a while
                self.workers = self.batch.planned_workers
        except ValueError as exc:
            self.__exit__()
            if not self.scheduler:
                raise
            raise SchedulerAddressError(f"not a Dask scheduler address: {self.scheduler!r} ({exc})") from exc
        except OSError as exc:
            self.__exit__()
            raise RunnerError(f"cannot reach the Dask scheduler {self.where}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        with quiet_distributed():  # closing a client that lost its scheduler logs the cancelled reconnection
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        self._client = self._cluster = None

    def run(
        self, runs: Sequence[PlannedRun], emit: Emit, claim: Claim | None = None, model: RuntimeModel | None = None
    ) -> None:
        """Submit ``runs`` as one batch (claimed up front: a task cannot ask the runner's store before it starts),
        longest expected first by ``model`` (Dask's priority)."""
        runs = [run for run in in_order(runs, model) if claim is None or claim(run.spec)]
        if not runs:
            return
        if self._client is not None:
            self._run(self._client, _distributed(), runs, emit)
            return
        with self:
            self._run(self._client, _distributed(), runs, emit)

    def _run(self, client: Any, distributed: Any, runs: Sequence[PlannedRun], emit: Emit) -> None:
        futures = {}
        for index, run in enumerate(runs):  # in the order given (longest expected first): Dask's priority
            spec = run.spec
            future = client.submit(
                run_in_dask_worker,
                spec.to_dict(),
                self.plugins,
                self.timeout,
                key=f"regbench-{spec.strategy}-{spec.case}-{spec.seed}-r{spec.repeat}-{spec.key[:8]}-{uuid.uuid4().hex[:8]}",
                pure=False,
                priority=len(runs) - index,
            )
            futures[future] = run
        # ``futures`` holds the runs not stored yet: the watch counts them (len: it runs in another thread).
        watch = WorkerWatch(client, self.where, lambda: len(futures))
        try:
            with watch, quiet_distributed():
                for future in distributed.as_completed(futures):
                    emit(self._record(future, futures[future], distributed))
                    # Stored: a result still held would be recomputed if the worker holding it died.
                    del futures[future]
                    future.release()
        finally:
            client.cancel(list(futures))

    def _record(self, future: Any, run: PlannedRun, distributed: Any) -> RunRecord:
        try:
            result = future.result()
        except distributed.KilledWorker as exc:
            # The isolated process normally absorbs crashes: losing the Dask worker itself is rarer.
            return self._observers.lost(run.template, Lost("crashed", f"Dask worker died during the run: {exc}", 0.0))
        except RunnerError:
            raise
        except Exception as exc:
            if future.client.status != "running":  # the client gave up on the scheduler: every run is cancelled
                raise RunnerError(f"lost the connection to the Dask scheduler at {self.where}") from exc
            raise RunnerError(f"{run.spec.strategy} on {run.spec.case}: Dask task failed: {exc}") from exc
        if "lost" in result:
            return self._observers.lost(run.template, Lost(**result["lost"]))
        return RunRecord.from_dict(result["record"])


@contextlib.contextmanager
def quiet_distributed() -> Iterator[None]:
    """Mute ``distributed``'s loggers in this process (the client's): a lost scheduler logs dozens of traceback
    lines before the run fails with a clear :class:`RunnerError`, and the runner says itself what a user must know
    (no workers left, a lost scheduler). The workers' own logs, in their processes, are untouched."""
    known = list(logging.root.manager.loggerDict)  # a copy: another thread may create a logger meanwhile
    names = ["distributed", *(name for name in known if name.startswith("distributed."))]
    loggers = [logging.getLogger(name) for name in names]
    was = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, was, strict=True):
            logger.disabled = disabled


#: Seconds between looks at the cluster's worker count while runs are waiting.
WATCH_S = 10.0


class WorkerWatch(Periodic):
    """Says so (on stderr) when the cluster has lost its last worker while runs wait, and again when workers
    are back: without it the runner would wait silently for a worker that may never come."""

    def __init__(self, client: Any, where: str, waiting: Any, say: Any = None, every: float = WATCH_S) -> None:
        self.client, self.where, self.waiting, self.every = client, where, waiting, every
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.empty = False
        # Not joined on leaving: a check may be waiting on the scheduler, and the run has ended anyway.
        super().__init__(every, self.check, "regbench-dask-watch", join_s=0)

    def check(self) -> None:
        try:
            workers = len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # the scheduler itself is gone: as_completed reports that
            return
        waiting = self.waiting()
        if workers == 0 and waiting and not self.empty:
            self.empty = True
            self.say(
                f"the Dask cluster at {self.where} has no workers left: {waiting} runs wait until a worker joins "
                "(Ctrl-C stops; the finished runs are stored and a rerun resumes)"
            )
        elif workers and self.empty:
            self.empty = False
            self.say(f"the Dask cluster at {self.where} has {workers} worker(s) again: the runs go on")


# -- on the Dask worker --------------------------------------------------------------------------------------

_idle: dict[tuple[str, ...], list[IsolatedWorker]] = {}
_lock = threading.Lock()


def run_in_dask_worker(spec: dict[str, Any], plugins: tuple[str, ...], timeout: float | None) -> dict[str, Any]:
    """The Dask task: run one spec in an isolated process this Dask worker keeps between tasks."""
    with _lock:
        pool = _idle.setdefault(tuple(plugins), [])
        worker = pool.pop() if pool else IsolatedWorker(plugins)
    try:
        result = run_isolated(worker, RunSpec.from_dict(spec), timeout)
    except BaseException:
        worker.close()
        raise
    with _lock:
        _idle[tuple(plugins)].append(worker)
    if isinstance(result, Lost):
        return {"lost": dataclasses.asdict(result)}
    return {"record": result.to_dict()}
