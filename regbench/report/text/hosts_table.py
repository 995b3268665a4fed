"""The hosts of a store and the "same key, different host" table (:func:`host_tables`), from
:mod:`regbench.report.stats.hosts`; printed by ``regbench report`` only where the runs come from several hosts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import JustifyMethod
from rich.table import Table

from regbench.report.load.columns import Runs
from regbench.report.stats.hosts import Drift, Host, host_drift, host_names, hosts
from regbench.report.text.one_run import blas_text, fmt, threads_text
from regbench.util.console import markup_safe


def host_tables(runs: Runs) -> list[Table]:
    """The hosts table and the drift table of ``runs``; none when its runs name fewer than two hosts."""
    if len(host_names(runs)) < 2:
        return []
    return [hosts_table(hosts(runs)), drift_table(host_drift(runs))]


def show_hosts(runs: Runs, show: Callable[[Table], None]) -> None:
    """Pass each of :func:`host_tables` to ``show`` (``regbench report``'s printer)."""
    for table in host_tables(runs):
        show(table)


def _table(title: str, caption: str, columns: Sequence[tuple[str, JustifyMethod]]) -> Table:
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    return table


def hosts_table(rows: Sequence[Host]) -> Table:
    """One line per host: its runs, machine, software and load."""
    table = _table(
        f"Hosts: the runs come from {len(rows)} machines",
        "cores: usable / all; load: the median 1-minute load average when its runs started (a loaded host runs "
        "slower: compare times across hosts with care). BLAS: the library numpy uses (threadpoolctl's view where "
        "installed); threads: the thread variables set (OMP_NUM_THREADS...).",
        [
            ("host", "left"),
            ("runs", "right"),
            ("CPU", "left"),
            ("cores", "right"),
            ("memory", "right"),
            ("OS", "left"),
            ("Python", "left"),
            ("BLAS", "left"),
            ("threads", "left"),
            ("load", "right"),
        ],
    )
    for row in rows:
        facts = row.facts
        cores = f"{fmt(facts.get('cores_usable'))} / {fmt(facts.get('cores'))}"
        memory = f"{fmt(facts.get('memory_gb'))} GB" if facts.get("memory_gb") is not None else "–"
        table.add_row(
            markup_safe(row.name),
            str(row.runs),
            markup_safe(str(facts.get("cpu") or "–")),
            cores,
            memory,
            markup_safe(str(facts.get("os") or "–")),
            markup_safe(str(facts.get("python") or "–")),
            markup_safe(blas_text(facts.get("blas"))),
            markup_safe(threads_text(facts.get("thread_env"))),
            fmt(row.load_start, 3),
        )
    return table


def drift_table(rows: Sequence[Drift]) -> Table:
    """One line per run key whose records differ between hosts, with how far apart they are (none: one sentence,
    not an empty table)."""
    if not rows:
        table = Table(show_header=False, box=None, padding=0)
        table.add_column("same key, different host")
        table.add_row("Same key, different host: no run key gave different records on different hosts.")
        return table
    table = _table(
        f"Same key, different host: {len(rows)} run key{'' if len(rows) == 1 else 's'} gave different records",
        "Same key: same strategy, parameters, case, seed, threads and software. Δ: max − min over the key's "
        "records; transform: the largest difference of any parameter. Keys run on several hosts with the same "
        "result are not listed (regbench merge stores them once)."
        if rows
        else "No run key gave different records on different hosts.",
        [
            ("run key", "left"),
            ("strategy", "left"),
            ("case", "left"),
            ("seed", "right"),
            ("hosts", "left"),
            ("status", "left"),
            ("Δ transform", "right"),
            ("Δ error", "right"),
            ("Δ metric", "right"),
        ],
    )
    for row in rows:
        table.add_row(
            row.run_key[:12],
            markup_safe(row.strategy),
            markup_safe(row.case),
            str(row.seed),
            markup_safe(", ".join(row.hosts)),
            markup_safe(" / ".join(dict.fromkeys(row.statuses))),
            row.transform_note or fmt(row.transform_diff, 3),
            f"{fmt(row.error_diff, 3)} ({row.error})" if row.error else "–",
            f"{fmt(row.metric_diff, 3)} ({'dense' if row.metric == 'final_metric_dense' else 'reported'})"
            if row.metric
            else "–",
        )
    return table
