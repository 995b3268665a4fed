"""``regbench run``: run strategies × cases × seeds (× parameter grids), each record stored as it finishes."""

from __future__ import annotations

import dataclasses
import math
import os
import sqlite3
import sys
from contextlib import ExitStack, contextmanager, nullcontext

import click

from regbench.cases.case import CaseError
from regbench.cli.common import cli_plugin_manager, echo_json, make_console, refuse_broken
from regbench.cli.finished import print_finished
from regbench.cli.plan import plural, print_plan, stored_keys
from regbench.cli.progress import ProgressLines, progress_bar, progress_line_s, verdicts_field
from regbench.cli.race import race_options, run_race
from regbench.cli.seed_option import SeedList, flat_seeds
from regbench.cli.signals import Terminated, sigterm_raises
from regbench.plugin.manager import PluginError
from regbench.record import RunRecord
from regbench.report.text.one_run import markup_safe, print_record
from regbench.runner.executors import Executor, PlannedRun
from regbench.runner.isolation import IsolatedWorker, Lost, lost_record, run_isolated
from regbench.runner.matrix import MatrixError, plan
from regbench.runner.run_matrix import (
    DEFAULT_THREADS,
    DEFAULT_TIMEOUT_S,
    RunnerError,
    commit,
    pending,
    run_pending,
    started,
)
from regbench.runner.settings import (
    MAX_REPEATS,
    MAX_SEEDS,
    MAX_THREADS,
    MAX_TIMEOUT_S,
    MAX_WORKERS,
    Settings,
    merge_settings,
)
from regbench.runner.worker import WorkerState
from regbench.store.leases import lease_s
from regbench.store.sqlite import DEFAULT_STORE, Store, StoreError, StoreFull, write_failure
from regbench.strategy import ParameterError
from regbench.util.memory_limit import MAX_MEMORY_ENV

USAGE_ERRORS = (MatrixError, ParameterError, PluginError, CaseError, StoreError)


def _finite(param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number of seconds (0: no limit)", param=param)
    return value


@click.command("run")
@click.option(
    "-s",
    "--strategy",
    "strategies",
    multiple=True,
    metavar="PATTERN",
    help="Strategy name or glob, e.g. 'gd*' (repeatable, or comma-separated: -s gd,lbfgs2) [default: all].",
)
@click.option(
    "-c",
    "--case",
    "cases",
    multiple=True,
    metavar="PATTERN",
    help="Case name or glob (repeatable, or comma-separated) [default: the default suite].",
)
@click.option("--cases", "case_files", multiple=True, metavar="FILE", help="A user case file, TOML (repeatable).")
@click.option(
    "--seed",
    "seed_list",
    multiple=True,
    type=SeedList(),
    callback=lambda ctx, param, value: flat_seeds(value),
    metavar="S[,S...]",
    help="Seeds ≥ 0 (repeatable, or comma-separated: --seed 0,1,2) [default: 0].",
)
@click.option("--seeds", type=click.IntRange(min=1, max=MAX_SEEDS), metavar="N", help="Seeds 0 to N-1.")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="[STRATEGY.]NAME=V[,V...]",
    help="Strategy parameter; several values make a grid (repeatable), e.g. gd.learning_rate=0.5,1,2.",
)
@click.option(
    "--repeat",
    "repeats",
    type=click.IntRange(min=1, max=MAX_REPEATS),
    metavar="K",
    help="Run every planned run K times (repeats 0 to K-1; repeat 0 is the plain run, so runs already stored count "
    "as it), store every repeat and print how far they are apart per strategy × case × seed [default: 1].",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="A TOML run file; options given on the command line win.",
)
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(min=1, max=MAX_WORKERS),
    help="Worker processes: runs side by side, where the speed comes from [default: the cores // --threads].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1, max=MAX_THREADS),
    help=f"ITK threads per run [default: {DEFAULT_THREADS}, so the same run gives a bit-identical record: Mattes MI "
    "is not reproducible with more threads, and the thread count changes every metric's last digits]. It is part "
    "of the run's key.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, max=MAX_TIMEOUT_S),
    callback=lambda ctx, param, value: _finite(param, value),
    metavar="SECONDS",
    help=f"Per run; a run past it is killed and recorded as 'timeout'. 0: no limit [default: {DEFAULT_TIMEOUT_S:g}].",
)
@click.option(
    "--max-memory",
    "max_memory",
    type=click.IntRange(min=0, max=2**40),
    metavar="MIB",
    help="Memory a run may allocate, in MiB; past it the run is recorded as 'memory'. 0: no limit [default: the "
    "machine's RAM ÷ the workers]. Local worker processes only (not --in-process, not Dask).",
)
@click.option("--executor", type=click.Choice(["local", "dask"]), help="Where runs execute [default: local].")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 [default: a local cluster].")
@click.option(
    "--cluster",
    type=click.Choice(["slurm", "pbs", "sge"]),
    help="Start Dask workers in batch jobs (dask-jobqueue), run on them, cancel the jobs after; the jobs' request "
    "is the run file's [cluster] table. With --dry-run: print the job script, submit nothing.",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Import this plugin module here and in every worker (repeatable).",
)
@click.option(
    "--in-process",
    is_flag=True,
    help="Run in this process instead of isolated worker processes: no timeout, and a run that crashes (a segfault "
    "in SimpleITK) or hangs takes regbench with it. For debugging a strategy (pdb, print) [default: every run, a "
    "single one too, runs in a worker process].",
)
@click.option("--store", type=click.Path(dir_okay=False), help=f"Result store [default: ./{DEFAULT_STORE}].")
@click.option("--force", is_flag=True, help="Rerun runs the store already holds (the old records are kept aside).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the planned runs (per strategy and case, those the store holds, workers, threads) and stop.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the records (or the --dry-run plan) as JSON.")
@race_options
def run_command(force: bool, dry_run: bool, as_json: bool, **options) -> None:
    """Run registrations and record what each optimizer really did.

    Every finished run is committed to the store at once; rerunning the same command skips what is done, so an
    interrupted run (Ctrl-C, kill -9) resumes where it stopped. Exit status: 0 when every run was executed and
    recorded (failed registrations are results), 1 when the runner itself failed (a worker cannot start, a Dask
    scheduler cannot be reached), 2 for usage errors, 130 after Ctrl-C.
    """
    max_memory = options.pop("max_memory")
    try:
        settings = merge_settings(**options)
        progress_line_s(), lease_s()  # a bad $REGBENCH_PROGRESS_S or $REGBENCH_LEASE_S: a usage error, here
    except (*USAGE_ERRORS, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    limit = 0
    if not settings.in_process and settings.executor == "local":
        limit = default_max_memory_mb(settings.run_workers) if max_memory is None else max_memory
    # The worker processes read the limit from their environment, inherited when they start.
    with ExitStack() as stack:
        stack.enter_context(_environment(MAX_MEMORY_ENV, str(limit)))
        try:
            pm = cli_plugin_manager(settings.plugins, settings.plugins_from)
            refuse_broken(pm)  # before the plan: a broken plugin's strategies are missing from it
            runs = plan(settings.matrix, pm, settings.run_threads)
            if dry_run:
                print_plan(runs, stored_keys(settings.store), settings, settings.run_threads, force, as_json)
                return
            store = stack.enter_context(Store(settings.store))
        except StoreFull as exc:  # not a usage error: the same command runs once there is space
            raise click.ClickException(f"the runner failed: {exc}\nnothing ran") from exc
        except RunnerError as exc:  # --dry-run --cluster without dask-jobqueue
            raise click.ClickException(str(exc)) from exc
        except USAGE_ERRORS as exc:
            raise click.UsageError(str(exc)) from exc
        if settings.single(runs):
            _run_single(runs[0], settings, store, force, as_json, pm)
        else:
            _run_matrix(runs, settings, store, force, as_json, pm)


def _run_single(run: PlannedRun, settings: Settings, store: Store, force: bool, as_json: bool, pm) -> None:
    """One run shown in full (the per-level table): in a worker process of its own, so that a crash or a hang
    becomes a ``crashed`` or ``timeout`` record like in a matrix; in this process with --in-process."""
    console = make_console()
    # shown in full, best or last included: its kept positions are evaluated at once
    run = dataclasses.replace(run, spec=dataclasses.replace(run.spec, evaluate_later=False))
    record = None if force else store.get(run.spec.key)
    unstored = None
    if record is None:
        err = make_console(stderr=True)
        try:
            with sigterm_raises():
                if settings.in_process:
                    record = WorkerState(settings.plugins).run(run.spec)
                else:
                    record = _isolated(run, settings, pm)
                if not commit(record, run.spec, store, replace=force):
                    record = store.get(run.spec.key)  # another runner stored it meanwhile: show the stored record
        except KeyboardInterrupt:
            err.print("interrupted: the run did not finish and nothing was recorded")
            sys.exit(130)
        except Terminated:
            err.print("terminated (SIGTERM): the run was stopped and nothing was recorded")
            sys.exit(143)
        except (StoreError, sqlite3.OperationalError) as exc:  # shown, then exit 1: the result is not lost from view
            unstored = (
                f"the runner failed: {write_failure(exc)}\nthe run finished (shown above) but is not in {store.path}"
            )
    elif not as_json:
        console.print(f"[dim]already in {markup_safe(store.path)} (key {record.key}); --force reruns it[/dim]")
    assert record is not None
    if as_json:
        echo_json(record.to_dict())
    else:
        print_record(record, console)
    if unstored:
        raise click.ClickException(unstored)


def _isolated(run: PlannedRun, settings: Settings, pm) -> RunRecord:
    """The record of ``run`` from a worker process started for it (timed inside it, as in a matrix)."""
    worker = IsolatedWorker(settings.plugins)
    try:
        result = run_isolated(worker, run.spec, settings.run_timeout)
    except RunnerError as exc:
        raise click.ClickException(f"the runner failed: {exc}\nnothing ran") from exc
    finally:
        worker.close()
    return lost_record(run.template, result, pm) if isinstance(result, Lost) else result


def _run_matrix(runs: list[PlannedRun], settings: Settings, store: Store, force: bool, as_json: bool, pm) -> None:
    todo, ran, race = pending(runs, store, force), 0, None
    if todo or settings.race:  # workers only when there is work: a rerun of a finished matrix starts none
        with ExitStack() as stack:
            executor = _connect(settings, stack)  # a race starts them to know what it needs: its first rounds

            def execute(new: list[PlannedRun]) -> int:
                return _execute(new, executor, settings, store, force, pm)

            if settings.race:  # the runs the race made or found, those of them it ran, its log
                runs, todo, race, ran = run_race(runs, settings, store, force, execute)
            else:
                ran = execute(todo)
    print_finished(runs, len(runs) - len(todo), store, as_json, ran, race.lines() if race else (), pm)


def _connect(settings: Settings, stack: ExitStack) -> Executor:
    """The executor with its workers acquired (entered on ``stack``), before any progress shows: an unreachable
    scheduler fails here."""
    from regbench.runner.dask_executor import SchedulerAddressError

    err = make_console(stderr=True)
    dask = settings.executor == "dask"
    where = settings.scheduler or "a local Dask cluster"
    doing = "connecting to"
    if settings.cluster is not None:
        where, doing = settings.cluster.describe(), "submitting"
    name = "inprocess" if settings.in_process else settings.executor
    try:
        with err.status(f"{doing} {markup_safe(where)}") if dask else nullcontext():
            executor = stack.enter_context(
                started(
                    name,
                    settings.run_workers,
                    settings.run_timeout,
                    settings.plugins,
                    settings.scheduler,
                    settings.cluster,
                )
            )
    except SchedulerAddressError as exc:
        raise click.BadParameter(str(exc), param_hint="--scheduler") from exc
    except RunnerError as exc:
        raise click.ClickException(f"{exc}\nnothing ran") from exc
    except KeyboardInterrupt:
        err.print(f"interrupted while {doing} {markup_safe(where)}: nothing ran")
        sys.exit(130)
    if settings.cluster is not None:
        err.print(f"submitted {markup_safe(where)}; the runs start as the jobs start and their workers join")
    elif dask and not executor.workers:
        err.print(f"[yellow]{markup_safe(where)} has no workers yet: runs start when some join[/]")
    return executor


@contextmanager
def _environment(name: str, value: str):
    """``os.environ[name] = value`` for the duration (worker processes started meanwhile inherit it)."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def default_max_memory_mb(workers: int) -> int:
    """The machine's physical memory shared among the workers (0 where it cannot be read: no limit)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
    return max(256, total // 2**20 // max(1, workers))


def _execute(todo: list[PlannedRun], executor: Executor, settings: Settings, store: Store, force: bool, pm) -> int:
    """Run ``todo``; how many of them this runner ran and stored (cooperating runners store the others)."""
    with sigterm_raises():
        return _execute_runs(todo, executor, settings, store, force, pm, make_console(stderr=True))


def _execute_runs(
    todo: list[PlannedRun], executor: Executor, settings: Settings, store: Store, force: bool, pm, err
) -> int:
    where = f" at {settings.scheduler}" if settings.scheduler else ""
    if settings.cluster is not None:
        where = f" in {settings.cluster.label} jobs"
    done = 0
    try:
        with progress_bar(err) as bar:
            description = f"{plural(len(todo), 'run')} on {plural(executor.workers, settings.executor + ' worker')}"
            task = bar.add_task(description + where, total=len(todo), verdicts=verdicts_field())

            lines = ProgressLines(todo, executor.workers, err) if not err.is_terminal else None

            def show(record: RunRecord, progress) -> None:
                nonlocal done
                done = progress.done
                bar.update(task, completed=progress.done, verdicts=verdicts_field(progress))
                if lines is not None:
                    lines.add(record, progress)

            with lines or nullcontext():
                return run_pending(todo, store, executor, force=force, pm=pm, on_record=show).done
    except KeyboardInterrupt:
        err.print(
            f"interrupted: {done} of {len(todo)} runs finished and are in {markup_safe(store.path)}; "
            "rerun the same command to resume"
        )
        sys.exit(130)
    except Terminated:
        err.print(
            f"terminated (SIGTERM): {done} of {len(todo)} runs finished and are in {markup_safe(store.path)}; the "
            "runs in flight were stopped and not recorded; rerun the same command to resume"
        )
        sys.exit(143)
    except (RunnerError, StoreError, sqlite3.OperationalError) as exc:
        raise click.ClickException(
            f"the runner failed: {write_failure(exc)}\n{done} of {len(todo)} runs finished and are committed in "
            f"{store.path}; rerun the same command to resume"
        ) from exc
