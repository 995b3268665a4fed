"""Progress of a matrix on stderr: a bar on a terminal, a line every :data:`PROGRESS_LINE_S` seconds elsewhere."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column

from regbench.evaluation.outcomes import tally_text
from regbench.record import RunRecord
from regbench.runner.executors import PlannedRun
from regbench.util.env_vars import seconds
from regbench.util.periodic import Periodic

if TYPE_CHECKING:
    from regbench.runner import run_matrix

#: Seconds between progress lines when stderr is not a terminal (a CI log, `2> log`): there the bar is not drawn.
PROGRESS_ENV, PROGRESS_LINE_S = "REGBENCH_PROGRESS_S", 30.0


def progress_line_s() -> float:
    """Seconds between progress lines: ``$REGBENCH_PROGRESS_S`` or :data:`PROGRESS_LINE_S` (ValueError when the
    variable holds no positive number)."""
    return seconds(PROGRESS_ENV, PROGRESS_LINE_S)


class ProgressLines(Periodic):
    """On a non-terminal, a line every :func:`progress_line_s` seconds: runs done, their verdicts (registered, not
    registered, not judged, failed: :func:`regbench.evaluation.outcomes.verdict`), and an ETA
    that learns from the finished runs' wall times per strategy (the overall mean for a strategy not seen yet),
    for the runs left, spread over the workers."""

    def __init__(self, todo: list[PlannedRun], workers: int, console: Console) -> None:
        self.left = Counter(run.spec.strategy for run in todo)
        self.total, self.workers, self.console = len(todo), max(1, workers), console
        self.times: dict[str, list[float]] = {}
        self.counts: tuple[int, dict[str, int]] = (0, {})
        self.started = time.monotonic()
        self._lock = threading.Lock()
        super().__init__(progress_line_s(), self._print, "regbench-progress-lines")

    def add(self, record: RunRecord, progress: run_matrix.Progress) -> None:
        with self._lock:
            self.left[record.strategy] -= 1
            if record.wall_time_s is not None:
                self.times.setdefault(record.strategy, []).append(float(record.wall_time_s))
            self.counts = (progress.done, dict(progress.verdicts))

    def eta_s(self) -> float | None:
        everything = [t for times in self.times.values() for t in times]
        if not everything:
            return None
        overall = sum(everything) / len(everything)
        work = sum(
            n * (sum(self.times[s]) / len(self.times[s]) if self.times.get(s) else overall)
            for s, n in self.left.items()
            if n > 0
        )
        return work / self.workers

    def line(self) -> str:
        with self._lock:
            done, verdicts = self.counts
            eta = self.eta_s()
        elapsed = time.monotonic() - self.started
        left = f", about {_duration(eta)} left" if eta is not None else ""
        counts = f"{done} of {self.total} runs done ({tally_text(verdicts)})"
        return f"progress: {counts}, {_duration(elapsed)} elapsed{left}"

    def _print(self) -> None:
        self.console.print(self.line(), markup=False, highlight=False)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_bar(console: Console) -> Progress:
    """The bar of a matrix: runs done of all, their verdicts (the task's ``verdicts`` field, :func:`verdicts_field`),
    time elapsed and left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        # By verdict (regbench.evaluation.outcomes.verdict), as every table counts: failed = a failure outcome;
        # registered apart from finishing without one
        TextColumn("{task.fields[verdicts]}"),
        # the times never cut to "0:00:…" at 80 columns (nor "12/…" above): the bar and the texts give way
        TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
        TextColumn("left"),
        TimeRemainingColumn(table_column=Column(no_wrap=True, min_width=7)),
        console=console,
    )


def verdicts_field(progress: run_matrix.Progress | None = None) -> str:
    """The bar's verdict counts of ``progress`` (a :class:`regbench.runner.run_matrix.Progress`; none yet without one),
    as rich markup: "registered 5 · not registered 2 · failed 1"."""
    return tally_text(progress.verdicts if progress is not None else {}, markup=True)
