"""The runner: the runs a matrix still needs, run by an executor, each record committed to the store at once.

The pieces, each in its own module: :mod:`regbench.runner.matrix` (what to run, with keys),
:mod:`regbench.runner.executors` and :mod:`regbench.runner.dask_executor` (where), :mod:`regbench.runner.isolation` and
:mod:`regbench.runner.worker` (the worker processes), :mod:`regbench.store.sqlite` (what is done). Each run gets
:data:`DEFAULT_THREADS` (1) ITK thread unless asked otherwise, so the same key gives the same record; the cores are used
by running several runs side by side. From Python::

    from regbench.runner.matrix import Matrix
    from regbench.runner.run_matrix import run_matrix

    records = run_matrix(Matrix(strategies=["gd"], seeds=range(3)), "results.sqlite", workers=2)
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from regbench.evaluation.outcomes import succeeded, verdict
from regbench.plugin.manager import RegbenchPluginManager
from regbench.record import RunRecord
from regbench.run import DEFAULT_THREADS, default_threads
from regbench.runner.cluster import ClusterSpec
from regbench.runner.executors import Emit, Executor, InProcessExecutor, LocalExecutor, PlannedRun
from regbench.runner.isolation import RunnerError
from regbench.runner.matrix import Matrix, plan
from regbench.runner.schedule import CapOf, RuntimeModel, caps_from, no_caps
from regbench.runner.worker import RunSpec, WorkerState, plugin_manager
from regbench.store.pending import store_completed
from regbench.store.sqlite import Heartbeat, Store, lease_owner
from regbench.util.itk_text import without_addresses

EXECUTORS = ("local", "dask", "inprocess")

#: Seconds between looks at the store while every run left is in flight on another runner.
CLAIM_POLL_S = 1.0

#: Seconds a run may take before it is killed and recorded as ``timeout`` (None or 0: no limit). It ends runs
#: that hang (a deadlock, an optimizer that never stops), which would otherwise stall an unattended suite forever,
#: yet leaves ~10x the slowest gradient-based built-in run (a 3D B-spline with a line search: ~170 s), since a
#: timeout is a stored result that a rerun skips. docs/running.md gives the measurements.
DEFAULT_TIMEOUT_S = 1800.0

__all__ = [
    "DEFAULT_THREADS",
    "DEFAULT_TIMEOUT_S",
    "EXECUTORS",
    "Progress",
    "RunnerError",
    "default_workers",
    "make_executor",
    "pending",
    "record_runs",
    "run_matrix",
    "run_pending",
    "runtime_model",
    "started",
]


def default_workers(threads: int = DEFAULT_THREADS) -> int:
    """Worker processes by default: as many runs side by side as the cores hold at ``threads`` ITK threads each,
    so the machine is used but never oversubscribed."""
    return max(1, default_threads() // max(1, threads))


def pending(runs: Sequence[PlannedRun], store: Store, force: bool = False) -> list[PlannedRun]:
    """The runs whose key the store does not hold yet (all of them with ``force``)."""
    if force:
        return list(runs)
    done = store.keys()
    return [run for run in runs if run.spec.key not in done]


@dataclass
class Progress:
    """Counts while a matrix runs: ``succeeded`` (finished without a failure) and ``failed`` as
    :func:`regbench.evaluation.outcomes.succeeded` says, the definition every table uses (a failure outcome, or no
    outcome at all, is a failed run); ``verdicts`` splits them as :func:`regbench.evaluation.outcomes.verdict` does
    (registered, not registered, not judged, failed): what the progress bar prints."""

    total: int
    done: int = 0
    succeeded: int = 0
    failed: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    waiting: int = 0  # runs in flight on another runner, waited for

    def add(self, record: RunRecord) -> None:
        self.done += 1
        self.verdicts[verdict(record)] += 1
        if succeeded(record):
            self.succeeded += 1
        else:
            self.failed += 1


def normalise_error(record: RunRecord) -> None:
    """Drop object addresses from the error text (ITK writes ``MetaImageIO(0x5624e349ec00)``), so identical
    failures have identical texts and records."""
    if record.error:
        record.error = without_addresses(record.error)


def note_case_file(record: RunRecord, path: str) -> None:
    """Keep, in the record's provenance, the user case file its case comes from: ``case_file`` relative to the
    working directory (as a user would type it), so ``regbench show`` prints a command that repeats the run, and
    ``case_file_abs``, so a report made from another directory finds the file
    (:mod:`~regbench.report.load.case_of_run`)."""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        shown = path
    record.provenance = {
        **(record.provenance or {}),
        "case_file": Path(shown).as_posix(),
        "case_file_abs": Path(os.path.abspath(path)).as_posix(),
    }


def commit(record: RunRecord, spec: RunSpec, store: Store, *, replace: bool = False) -> bool:
    """Store the record of ``spec``'s run as every run's record is stored (its error text normalised, its case file
    noted); False when another runner stored the same run meanwhile (its record stays)."""
    normalise_error(record)
    if spec.case_file:
        note_case_file(record, spec.case_file)
    return store.add(record, replace=replace, exist_ok=not replace)


def runtime_model(store: Store, runs: Sequence[PlannedRun], pm: RegbenchPluginManager | None = None) -> RuntimeModel:
    """The run-time model the scheduler starts from: every stored run of the planned strategies, and with ``pm``
    their iteration caps."""
    strategies = {run.spec.strategy for run in runs}
    cap_of: CapOf = no_caps
    if pm is not None:
        known = pm.strategies()
        cap_of = caps_from({name: known[name].iteration_cap_param for name in strategies if name in known})
    model = RuntimeModel(cap_of)
    for strategy, case, params, seconds in store.timings(strategies):
        model.observe(strategy, case, params, seconds)
    return model


def record_runs(
    runs: Sequence[PlannedRun],
    store: Store,
    executor: Executor,
    *,
    replace: bool = False,
    on_record: Callable[[RunRecord, Progress], None] | None = None,
    model: RuntimeModel | None = None,
) -> Progress:
    """Run ``runs`` with ``executor``, committing each record to ``store`` the moment it arrives; they start
    longest expected first by ``model`` (default: learnt from the store's runs of the same strategies)."""
    progress = Progress(len(runs))
    model = model if model is not None else runtime_model(store, runs)
    specs = {run.spec.key: run.spec for run in runs}

    def emit(record: RunRecord) -> None:
        if not commit(record, specs[str(record.key)], store, replace=replace):
            return  # another runner stored the same run meanwhile: its record stays
        progress.add(record)
        if on_record is not None:
            on_record(record, progress)

    if replace:  # --force: every run is redone here, whoever else holds it
        executor.run(runs, emit, model=model)
        return progress
    owner = lease_owner()

    def claim(spec: RunSpec) -> bool:
        return store.claim(spec.key, owner)

    remaining = list(runs)
    with Heartbeat(store.path, owner):
        try:
            while remaining:
                executor.run(remaining, emit, claim, model)
                done = store.keys()
                before, remaining = len(remaining), [run for run in remaining if run.spec.key not in done]
                if (
                    remaining
                    and len(remaining) == before
                    and not store.claimed_elsewhere({r.spec.key for r in remaining}, owner)
                ):
                    break  # nothing stored and nothing to wait for: never loop on runs that produce no record
                if remaining:
                    # In flight on another runner: wait until it stores them, or its claims expire (it died).
                    progress.waiting = len(store.claimed_elsewhere({r.spec.key for r in remaining}, owner))
                    if progress.waiting == len(remaining):
                        time.sleep(CLAIM_POLL_S)
        finally:
            store.release(owner)
    return progress


def make_executor(
    name: str = "local",
    workers: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    plugins: Sequence[str] = (),
    scheduler: str | None = None,
    cluster: ClusterSpec | None = None,
) -> Executor:
    workers = workers or default_workers()
    timeout = timeout or None  # 0: no limit
    if cluster is not None and name != "dask":
        raise ValueError(f"a batch cluster runs on Dask workers: executor 'dask', not {name!r}")
    if name == "local":
        return LocalExecutor(workers, timeout, plugins)
    if name == "dask":
        from regbench.runner.dask_executor import DaskExecutor

        return DaskExecutor(scheduler, workers, timeout, plugins, cluster)
    if name == "inprocess":
        return InProcessExecutor(plugins)
    raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")


@contextmanager
def started(
    name: str = "local",
    workers: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    plugins: Sequence[str] = (),
    scheduler: str | None = None,
    cluster: ClusterSpec | None = None,
) -> Iterator[Executor]:
    """An executor with what it needs acquired: local workers starting (they import SimpleITK and the plugins
    while the caller goes on), a Dask scheduler connected. A :class:`RunnerError` here means nothing can run."""
    with make_executor(name, workers, timeout, plugins, scheduler, cluster) as executor:
        yield executor


def run_pending(
    todo: Sequence[PlannedRun],
    store: Store,
    executor: Executor,
    *,
    force: bool = False,
    pm: RegbenchPluginManager | None = None,
    on_record: Callable[[RunRecord, Progress], None] | None = None,
) -> Progress:
    """Run ``todo`` (what :func:`pending` found; with ``force``, replacing stored records), longest expected
    first by the store's timings and ``pm``'s iteration caps."""
    model = runtime_model(store, todo, pm)
    return record_runs(todo, store, executor, replace=force, on_record=on_record, model=model)


def complete_records(
    runs: Sequence[PlannedRun], store: Store, pm: RegbenchPluginManager | None = None
) -> list[RunRecord]:
    """The stored record of every run of ``runs``, each complete: one stored with its kept positions unevaluated
    (as workers store them) is evaluated here and stored complete, for callers that hand records on
    (:func:`run_matrix`, ``regbench run --json``). ``pm``: the plugin manager that planned them (default: a
    fresh one)."""
    found = {r.key: r for r in store.records(keys={run.spec.key for run in runs})}
    state = WorkerState(pm=pm)
    out = []
    for run in runs:
        record = found.get(run.spec.key)
        if record is None:
            continue
        if record.evaluation_plan is not None:
            record = state.complete(record, run.spec)
            store_completed(store, record)
        out.append(record)
    return out


def run_matrix(
    matrix: Matrix,
    store: Store | str | os.PathLike[str],
    *,
    executor: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    plugins: Sequence[str] = (),
    scheduler: str | None = None,
    cluster: ClusterSpec | None = None,
    force: bool = False,
    on_record: Emit | None = None,
) -> list[RunRecord]:
    """Run what the store lacks of ``matrix`` and return the record of every run of the matrix (every repeat),
    complete (:func:`complete_records`).

    ``threads`` (ITK threads per run) defaults to :data:`DEFAULT_THREADS`, 1, as ``regbench run`` and
    ``run_one``: then the same key gives a bit-identical record, Mattes MI included. Parallelism comes from
    ``workers`` runs side by side (default: the cores ÷ ``threads``), started only when the store lacks a run;
    the longest runs expected start first. ``timeout`` is in seconds per run (None or 0: no
    limit). ``plugins`` are module names imported in this process and in every worker. ``cluster`` (with
    ``executor="dask"``) starts a batch cluster's jobs for the runs and closes it after them. Raises ``MatrixError``
    for a bad selection and :class:`RunnerError` when the runner itself fails; records finished before either
    are kept.
    """
    threads = threads or DEFAULT_THREADS
    workers = workers or default_workers(threads)
    db = store if isinstance(store, Store) else Store(Path(store))
    try:
        pm = plugin_manager(plugins)
        runs = plan(matrix, pm, threads)
        todo = pending(runs, db, force)
        if todo:  # workers only when there is work
            with started(executor, workers, timeout, plugins, scheduler, cluster) as chosen:
                callback = (lambda record, _: on_record(record)) if on_record else None
                run_pending(todo, db, chosen, force=force, pm=pm, on_record=callback)
        return complete_records(runs, db, pm)
    finally:
        if db is not store:  # opened here
            db.close()
