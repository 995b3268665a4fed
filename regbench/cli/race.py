"""``regbench run --race``: the matrix in rounds, one more seed of every case a round, dropping the strategies that
cannot be recommended (:mod:`regbench.report.decide.race`); and the race's words in ``regbench recommend``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from regbench.runner.executors import PlannedRun
from regbench.runner.run_matrix import pending
from regbench.runner.settings import Settings
from regbench.store.sqlite import Store

if TYPE_CHECKING:
    from regbench.record import RunRecord
    from regbench.report.decide.race import RaceLog


def race_options(command: Callable) -> Callable:
    """``--race`` and ``--race-alpha`` for ``regbench run``."""
    command = click.option(
        "--race-alpha",
        type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
        metavar="LEVEL",
        help="The level of the race's paired tests (Holm-adjusted Wilcoxon, as the recommendation's) [default: 0.05].",
    )(command)
    return click.option(
        "--race",
        is_flag=True,
        help="Run the seeds in rounds (one more seed of every case a round) and stop running a strategy once it "
        "cannot be recommended: worse than the best by the recommendation's paired test at --race-alpha and not "
        "recommended, slower than the answer by the same test on wall times, failing "
        "3 more runs than the best, or a demonstration after its first instance. The store keeps every run made.",
    )(command)


def rounds_of(runs: Sequence[PlannedRun], seeds: Sequence[int]) -> list[list[PlannedRun]]:
    """The runs by round: round *i* holds every case's seed ``seeds[i]`` (all its repeats) for every strategy."""
    return [[r for r in runs if r.spec.seed == seed] for seed in seeds if any(r.spec.seed == seed for r in runs)]


def run_race(
    runs: Sequence[PlannedRun],
    settings: Settings,
    store: Store,
    force: bool,
    execute: Callable[[list[PlannedRun]], int],
) -> tuple[list[PlannedRun], list[PlannedRun], RaceLog, int]:
    """Race ``runs``: (the runs it made or found in the store, those of them the store did not hold, its log, how
    many it ran here). ``execute`` runs the runs the store does not hold yet; the log is recorded in the store."""
    from regbench.report.decide.race import ALPHA, default_decide, race, solver_names
    from regbench.store.races import add_race

    labels = dict(
        zip((r.spec.key for r in runs), solver_names([(r.spec.strategy, r.spec.params) for r in runs]), strict=True)
    )
    covered: list[PlannedRun] = []
    todo: list[PlannedRun] = []
    ran = 0

    def run_round(planned: list[PlannedRun]) -> list[RunRecord]:
        nonlocal ran
        covered.extend(planned)
        new = pending(planned, store, force)
        todo.extend(new)
        if new:
            ran += execute(new)
        return list(store.records(keys={r.spec.key for r in planned}))

    log = race(
        rounds_of(runs, settings.matrix.seeds),
        lambda run: labels[run.spec.key],
        run_round,
        lambda record: labels.get(str(record.key), record.strategy),
        default_decide(case_files=settings.matrix.case_files),
        alpha=settings.race_alpha or ALPHA,
    )
    add_race(store, log.to_dict(), [r.spec.key for r in covered])
    return covered, todo, log, ran


def print_race(source: str | Path, keys: Sequence[str]) -> None:
    """The race's lines under a recommendation whose runs a race made (nothing for a store that never raced)."""
    from regbench.report.text.one_run import as_text
    from regbench.util.console import make_console

    console = make_console()  # wraps between words at the terminal's width, text from data printed as text
    from regbench.report.decide.race import race_lines

    for line in race_lines(source, set(keys)):
        console.print(as_text(line), highlight=False)
