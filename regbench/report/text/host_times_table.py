"""Host calibrations as a table (``regbench calibrate``), and run times normalised by them where the runs of a
report come from several hosts (:mod:`regbench.report.stats.host_times`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rich.console import Console, JustifyMethod
from rich.table import Table

from regbench.report.load.columns import Runs
from regbench.report.stats.host_times import HostTimes, host_times
from regbench.report.text.one_run import fmt
from regbench.store.calibration import Calibration
from regbench.util.console import markup_safe


def calibration_table(rows: Sequence[Calibration], title: str) -> Table:
    """One line per host and thread count: the reference registration's median Execute time and its spread."""
    reference = rows[0].reference if rows else ""
    table = Table(
        title=title,
        title_justify="left",
        caption=f"reference: {reference}; time: the median Execute time of its runs (min–max beside it), wall: "
        "the median whole run; load: the 1-minute load average when the runs started; measured: UTC.",
        caption_justify="left",
    )
    columns: list[tuple[str, JustifyMethod]] = [("host", "left"), ("threads", "right"), ("runs", "right")]
    columns += [
        ("time s", "right"),
        ("min–max s", "right"),
        ("wall s", "right"),
        ("load", "right"),
        ("measured", "left"),
    ]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in rows:
        spread = f"{min(row.times):.3f}–{max(row.times):.3f}" if row.times else "–"
        load = f"{row.load_average[0]:.2f}" if row.load_average else "–"
        table.add_row(
            markup_safe(row.host),
            str(row.threads),
            str(row.repeats),
            f"{row.seconds:.3f}",
            spread,
            fmt(row.wall_s, 3),
            load,
            (row.measured or "now").replace("T", " ").removesuffix("Z")[:16],
        )
    return table


def host_times_table(runs: Runs, times: HostTimes) -> Table:
    """Per solver: its runs, hosts, median wall time and median time ÷ reference (over the runs that have one)."""
    used = "; ".join(
        f"{c.host} {c.seconds:.3f} s ({c.threads} thread{'s' if c.threads > 1 else ''})" for c in times.used
    )
    caption = (
        "÷ ref: each run's wall time ÷ its host's reference time (`regbench calibrate` on that host, into this "
        f"store; 1-thread runs by the 1-thread figure, others by the all-threads one): {used or 'none'}."
    )
    if times.uncalibrated:
        caption += f" Not calibrated: {', '.join(times.uncalibrated)}; its runs are left out of ÷ ref."
    table = Table(
        title=f"Times across {len(times.hosts)} hosts, normalised by each host's calibration",
        title_justify="left",
        caption=markup_safe(caption),
        caption_justify="left",
    )
    columns: list[tuple[str, JustifyMethod]] = [("strategy", "left"), ("runs", "right"), ("hosts", "left")]
    columns += [("med. time s", "right"), ("med. ÷ ref", "right"), ("runs ÷ ref", "right")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    solvers, index = runs.codes("solver")
    hosts = runs["host"]
    for code, solver in enumerate(solvers):
        rows = index == code
        ratios = times.normalised[rows]
        ratios = ratios[np.isfinite(ratios)]
        walls = runs["wall_time_s"][rows]
        walls = walls[np.isfinite(walls)]
        table.add_row(
            markup_safe(solver),
            str(int(rows.sum())),
            markup_safe(", ".join(sorted({str(h) for h in hosts[rows].tolist() if h is not None}))),
            fmt(float(np.median(walls)), 3) if walls.size else "–",
            f"{float(np.median(ratios)):.2f}×" if ratios.size else "–",
            str(ratios.size),
        )
    return table


def show_host_times(source: str, runs: Runs, show: Callable[[Table], None], console: Console) -> None:
    """``regbench report``: where the runs come from several hosts, the normalised times (when some host is
    calibrated) or a note saying that seconds are not comparable and how to calibrate."""
    times = host_times(runs, source)
    if times is None:
        return
    if times.used:
        show(host_times_table(runs, times))
    else:
        note = (
            f"the runs come from {len(times.hosts)} hosts ({', '.join(times.hosts)}) and none is calibrated: their "
            f"seconds are not comparable; run `regbench calibrate --store {source}` on each host to compare times "
            "as multiples of a reference registration"
        )
        console.print(f"[yellow]note:[/] {markup_safe(note)}")
