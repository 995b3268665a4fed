"""Batch clusters through dask-jobqueue (``pip install 'regbench[cluster]'``): ``regbench run --cluster slurm``.

The run file's ``[cluster]`` table (:func:`cluster_spec`) says what each batch job asks for; :func:`start_cluster`
starts a Dask scheduler in this process, submits the jobs (each runs Dask workers that connect back to it) and
hands the cluster to :class:`regbench.runner.dask_executor.DaskExecutor`, which closes it (cancelling the jobs)
when the matrix ends. :func:`job_script` is the script each job runs, for ``--dry-run``: nothing is submitted.

Each Dask worker runs one run at a time (one Dask thread): a job of ``cores`` cores holds ``cores // threads``
workers, ``threads`` being the ITK threads per run.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from regbench.runner.isolation import RunnerError
from regbench.util.names import MatrixError

#: The batch systems: dask-jobqueue's cluster class, the command that submits a job, the name users know.
KINDS: dict[str, tuple[str, str, str]] = {
    "slurm": ("SLURMCluster", "sbatch", "SLURM"),
    "pbs": ("PBSCluster", "qsub", "PBS"),
    "sge": ("SGECluster", "qsub", "SGE"),
}
#: The ``[cluster]`` keys, in the order the docs list them.
CLUSTER_KEYS = (
    "type",
    "cores",
    "memory",
    "walltime",
    "queue",
    "account",
    "jobs",
    "minimum_jobs",
    "maximum_jobs",
    "job_extra_directives",
    "job_script_prologue",
    "python",
    "interface",
)
#: How long to wait for the first jobs' submission commands (sbatch, qsub) to answer.
SUBMIT_TIMEOUT_S = 60.0
#: What dask-jobqueue puts where the scheduler's address goes in a script shown before any scheduler runs.
ADDRESS_PLACEHOLDER = "tcp://<insert-scheduler-address-here>:8786"

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*([kmgtp]i?b?|b)?\s*$", re.IGNORECASE)
_WALLTIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")


@dataclass(frozen=True)
class ClusterSpec:
    """One batch job's request and how many jobs: ``jobs``, or adaptive between ``minimum_jobs`` and
    ``maximum_jobs``, or ``workers`` Dask workers (``--workers``) in as many jobs as they need. None: the batch
    system's (or dask-jobqueue's configuration's) default."""

    kind: str | None = None  # None: a [cluster] table used only with --cluster
    cores: int = 1
    memory: str = "2GB"
    walltime: str | None = None
    queue: str | None = None
    account: str | None = None
    jobs: int | None = None
    minimum_jobs: int | None = None
    maximum_jobs: int | None = None
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    python: str | None = None  # the jobs' Python [default: this one, sys.executable]
    interface: str | None = None  # the network interface the workers and the scheduler talk over, e.g. ib0
    threads: int = 1  # ITK threads per run (set by the runner's settings)
    workers: int | None = None  # --workers: Dask workers in all

    @property
    def label(self) -> str:
        return KINDS[self.kind or "slurm"][2]

    @property
    def processes(self) -> int:
        """Dask workers per job: one run at a time each, ``threads`` cores a run."""
        return max(1, self.cores // self.threads)

    @property
    def planned_workers(self) -> int:
        """The Dask workers asked for (at most, when adaptive)."""
        return self.workers or self.processes * (self.maximum_jobs or self.jobs or 1)

    @property
    def adaptive(self) -> bool:
        return self.maximum_jobs is not None

    def describe(self) -> str:
        """Where the runs go, for the plan and the progress line."""
        each = f"{_plural(self.cores, 'core')} and {self.memory}, {_plural(self.processes, 'Dask worker')}"
        if self.adaptive:
            return f"{self.label} jobs ({self.minimum_jobs or 0} to {self.maximum_jobs}, adaptive; each {each})"
        if self.workers:
            return f"{_plural(self.workers, 'Dask worker')} in {self.label} jobs (each {each})"
        return f"{_plural(self.jobs or 1, self.label + ' job')} (each {each})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cluster_spec(table: Mapping[str, Any], at: Callable[[str], str]) -> ClusterSpec:
    """The ``[cluster]`` table checked; ``at(key)`` is ``file:line`` of a key, for a :class:`MatrixError`."""
    unknown = sorted(set(table) - set(CLUSTER_KEYS))
    if unknown:
        raise MatrixError(f"{at(unknown[0])}: unknown [cluster] key {unknown[0]!r}; valid: {', '.join(CLUSTER_KEYS)}")

    def bad(key: str, what: str) -> MatrixError:
        return MatrixError(f"{at(key)}: [cluster] {key} must be {what}, not {table[key]!r}")

    def count(key: str, low: int = 1) -> int | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 100_000):
            raise bad(key, "a positive integer" if low else "an integer ≥ 0")
        return value

    def text(key: str, pattern: re.Pattern[str] | None = None, what: str = "a string") -> str | None:
        value = table.get(key)
        if value is not None and (
            not isinstance(value, str) or not value.strip() or (pattern and not pattern.match(value))
        ):
            raise bad(key, what)
        return value

    def lines(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise bad(key, "a list of strings (one line each)")
        return tuple(value)

    kind = table.get("type")
    if kind is not None and kind not in KINDS:
        raise bad("type", " or ".join(map(repr, KINDS)))
    spec = ClusterSpec(
        kind=kind,
        cores=count("cores") or 1,
        memory=text("memory", _MEMORY, "a size like '4GB' or '16GiB'") or "2GB",
        walltime=text("walltime", _WALLTIME, "a time like '01:30:00' (or '1-00:00:00', days first)"),
        queue=text("queue"),
        account=text("account"),
        jobs=count("jobs"),
        minimum_jobs=count("minimum_jobs", 0),
        maximum_jobs=count("maximum_jobs"),
        job_extra_directives=lines("job_extra_directives"),
        job_script_prologue=lines("job_script_prologue"),
        python=text("python", what="a path to the jobs' Python"),
        interface=text("interface", what="a network interface name like 'ib0'"),
    )
    if spec.jobs is not None and (spec.minimum_jobs is not None or spec.maximum_jobs is not None):
        raise MatrixError(f"{at('jobs')}: give [cluster] jobs (a fixed number) or minimum_jobs/maximum_jobs, not both")
    if spec.minimum_jobs is not None and spec.maximum_jobs is None:
        raise MatrixError(f"{at('minimum_jobs')}: [cluster] minimum_jobs needs maximum_jobs (adaptive bounds)")
    if spec.maximum_jobs is not None and (spec.minimum_jobs or 0) > spec.maximum_jobs:
        raise MatrixError(f"{at('minimum_jobs')}: [cluster] minimum_jobs is more than maximum_jobs")
    return spec


def with_kind(spec: ClusterSpec | None, kind: str | None) -> ClusterSpec | None:
    """``--cluster KIND`` over the run file's ``type``; None when neither names a batch system."""
    if kind is not None and kind not in KINDS:
        raise MatrixError(f"--cluster must be one of {', '.join(KINDS)}, not {kind!r}")
    spec = spec or ClusterSpec()
    kind = kind or spec.kind
    return dataclasses.replace(spec, kind=kind) if kind else None


def _jobqueue(spec: ClusterSpec) -> Any:
    """dask-jobqueue's cluster class for ``spec.kind``."""
    # Importing it sets SIGINT to a bare sys.exit() (dask_jobqueue.runner, for its own runner scripts): Ctrl-C
    # would end regbench with status 0 and without a word. regbench's handling of Ctrl-C is put back.
    sigint = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue
    except ModuleNotFoundError as exc:
        raise RunnerError(
            f"--cluster {spec.kind} needs dask-jobqueue, which is not installed: pip install 'regbench[cluster]'"
        ) from exc
    finally:
        if sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
    return getattr(dask_jobqueue, KINDS[spec.kind or "slurm"][0])


def _job_options(spec: ClusterSpec) -> dict[str, Any]:
    """dask-jobqueue's job keywords: None ones left to its configuration (``~/.config/dask/jobqueue.yaml``)."""
    options: dict[str, Any] = {
        "cores": spec.cores,
        "memory": spec.memory,
        "processes": spec.processes,
        "walltime": spec.walltime,
        "queue": spec.queue,
        "account": spec.account,
        "job_extra_directives": list(spec.job_extra_directives),
        "job_script_prologue": list(spec.job_script_prologue),
        "python": spec.python or sys.executable,
        "interface": spec.interface,
    }
    if spec.cores // spec.processes > 1:  # cores // threads workers: each still runs one run at a time
        options["worker_extra_args"] = ["--nthreads", "1"]
    return {key: value for key, value in options.items() if value is not None}


def job_script(spec: ClusterSpec) -> str:
    """The script each job runs, as ``cluster.job_script()`` prints it, without starting a scheduler: its address
    is dask-jobqueue's placeholder (:data:`ADDRESS_PLACEHOLDER`)."""
    cls = _jobqueue(spec)
    try:
        return str(cls.job_cls(ADDRESS_PLACEHOLDER, name="dummy-name", **_job_options(spec)).job_script())
    except ValueError as exc:  # a value dask-jobqueue refuses that the run file's checks let through
        raise MatrixError(f"[cluster]: {exc}") from exc


def start_cluster(spec: ClusterSpec) -> Any:
    """The dask-jobqueue cluster started and scaled, its first jobs submitted; a :class:`RunnerError` (the cluster
    closed) when the batch system's submission command is missing or refuses a job."""
    cls = _jobqueue(spec)
    submit = KINDS[spec.kind or "slurm"][1]
    if shutil.which(submit) is None:
        raise RunnerError(f"--cluster {spec.kind}: {submit} is not on PATH: run regbench where jobs are submitted")
    failures: list[str] = []
    options = _job_options(spec)
    # The scheduler's web server on a free port: a second regbench on the same login node must not clash on 8787.
    cluster = cls(job_cls=_recording(cls.job_cls, failures), scheduler_options={"dashboard_address": ":0"}, **options)
    try:
        if spec.adaptive:
            cluster.adapt(minimum_jobs=spec.minimum_jobs or 0, maximum_jobs=spec.maximum_jobs)
        elif spec.workers:
            cluster.scale(n=spec.workers)
        else:
            cluster.scale(jobs=spec.jobs or 1)
        _await_submissions(cluster, failures, spec)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _recording(job_cls: Any, failures: list[str]) -> Any:
    """``job_cls`` whose failed submission is noted in ``failures`` (dask-jobqueue only logs it, and the runs would
    wait for workers that never come); the job then counts as started, with no job id to cancel."""

    class Recording(job_cls):
        async def start(self) -> None:
            try:
                await super().start()
            except Exception as exc:
                failures.append(_said(exc))
                from distributed.core import Status

                self.status = Status.running

    Recording.__name__ = job_cls.__name__
    return Recording


def _said(exc: Exception) -> str:
    """What the submission command said on stderr (dask-jobqueue's message wraps it with the command and its exit
    code), else the whole message."""
    text = str(exc).strip()
    said = text.partition("\nstderr:\n")[2].strip()
    return said.replace("\n", "; ") if said else text


def _await_submissions(cluster: Any, failures: list[str], spec: ClusterSpec) -> None:
    """Until every job asked for has been submitted (has a job id) or refused (raises :class:`RunnerError`)."""
    deadline = time.monotonic() + SUBMIT_TIMEOUT_S
    while time.monotonic() < deadline:
        if failures:
            raise RunnerError(f"--cluster {spec.kind}: the batch system refused a job: {failures[0]}")
        jobs = list(cluster.workers.values())
        if len(jobs) >= len(cluster.worker_spec) and all(job.job_id for job in jobs):
            return
        time.sleep(0.1)
    raise RunnerError(f"--cluster {spec.kind}: the jobs' submission did not answer in {SUBMIT_TIMEOUT_S:g} s")
