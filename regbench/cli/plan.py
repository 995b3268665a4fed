"""What ``regbench run --dry-run`` prints: the planned runs per strategy and case, and where they would run."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from rich.console import JustifyMethod
from rich.table import Table

from regbench.cli.common import echo_json, make_console
from regbench.report.text.one_run import markup_safe
from regbench.report.text.table_fit import fit_table
from regbench.runner.cluster import KINDS, job_script
from regbench.runner.executors import PlannedRun
from regbench.runner.settings import Settings
from regbench.store.sqlite import Store


def stored_keys(path: str) -> set[str]:
    """The keys a store holds, read without creating or changing it (a dry run writes nothing)."""
    if not Path(path).exists():
        return set()
    with Store.read_only(path) as store:
        return store.keys()


def print_plan(
    runs: list[PlannedRun], stored: set[str], settings: Settings, threads: int, force: bool, as_json: bool
) -> None:
    skipped = 0 if force else sum(run.spec.key in stored for run in runs)
    here = settings.in_process
    workers = 1 if here or settings.single(runs) else settings.run_workers
    if settings.cluster:
        workers = settings.cluster.planned_workers
    repeats = settings.matrix.repeats
    where = (
        "in this process (--in-process: no isolation, no timeout)"
        if here
        else f"on {settings.cluster.describe()}"
        if settings.cluster
        else f"on the Dask cluster at {settings.scheduler}"
        if settings.scheduler
        else f"on {plural(workers, settings.executor + ' worker')}"
    )
    timeout = settings.run_timeout
    script = job_script(settings.cluster) if settings.cluster else None
    if as_json:
        echo_json(
            {
                "runs": [{**run.spec.to_dict(), "stored": run.spec.key in stored} for run in runs],
                "to_run": len(runs) - skipped,
                "executor": "in-process" if here else settings.executor,
                "workers": None if settings.scheduler else workers,
                "scheduler": settings.scheduler,
                "cluster": dataclasses.asdict(settings.cluster) if settings.cluster else None,
                "job_script": script,
                "threads": threads,
                "repeats": repeats,
                "timeout_s": timeout,
                "store": settings.store,
            }
        )
        return
    planned = Counter((run.spec.strategy, run.spec.case) for run in runs)
    held = Counter((run.spec.strategy, run.spec.case) for run in runs if run.spec.key in stored)
    of = f" ({len(runs) // repeats} × {repeats} repeats)" if repeats > 1 else ""
    table = Table(title=f"Planned: {plural(len(runs), 'run')}{of}", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [
        ("strategy", "left"),
        ("case", "left"),
        ("runs", "right"),
        ("in the store", "right"),
    ]
    if repeats > 1:
        columns.insert(2, ("repeats", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for (strategy, case), count in planned.items():
        cells = [markup_safe(strategy), markup_safe(case), str(count), str(held[strategy, case])]
        table.add_row(*cells[:2], *([str(repeats)] if repeats > 1 else []), *cells[2:])
    console = make_console()
    console.print(fit_table(table, console.width))
    again = "rerun by --force" if force else "skipped"
    each = f", each run {repeats} times (repeats 0–{repeats - 1})" if repeats > 1 else ""
    console.print(
        f"{plural(len(runs) - skipped, 'run')} to run {where}{each}, {plural(threads, 'ITK thread')} per run, "
        f"{f'timeout {timeout:g} s' if timeout else 'no timeout'} per run; "
        f"{sum(held.values())} already in {markup_safe(settings.store)} ({again})"
        + ("; raced: at most these, a strategy stops once it cannot be recommended" if settings.race else "")
        + ". Nothing was run (--dry-run).",
        highlight=False,
    )
    if script is not None:
        submit = KINDS[settings.cluster.kind or "slurm"][1] if settings.cluster else ""
        console.print(
            f"\nThe script of each job ({submit} would submit it; the scheduler's address is known once it starts):\n",
            highlight=False,
        )
        console.print(script, markup=False, highlight=False, soft_wrap=True)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
