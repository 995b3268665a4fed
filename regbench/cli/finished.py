"""What ``regbench run`` prints when a matrix ends: the summary table, notes, the failures, the repeats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from regbench.cli.common import echo_json, make_console
from regbench.evaluation.outcomes import MEANINGS, succeeded, tally, tally_text
from regbench.report.text.one_run import markup_safe
from regbench.report.text.table_fit import fit_table
from regbench.runner.executors import PlannedRun
from regbench.store.sqlite import Store

if TYPE_CHECKING:
    from regbench.plugin.manager import RegbenchPluginManager

SHOW_FAILURES = 10


def print_finished(
    runs: list[PlannedRun],
    skipped: int,
    store: Store,
    as_json: bool,
    ran: int,
    race: Sequence[str] = (),
    pm: RegbenchPluginManager | None = None,
) -> None:
    """The end of a matrix: ``skipped`` runs were in the store before it started, ``ran`` were run here; the rest
    were run by cooperating runners on the same store meanwhile (or not stored: the runner failed). ``race``: the
    lines of the race that made ``runs`` (``regbench run --race``), said with the answer."""
    if as_json:  # records handed on are complete: their kept positions evaluated now, if they waited
        from regbench.runner.run_matrix import complete_records

        echo_json([r.to_dict() for r in complete_records(runs, store, pm)])
        return
    found = {r.key: r for r in store.records(keys={run.spec.key for run in runs})}
    records = [found[run.spec.key] for run in runs if run.spec.key in found]
    from regbench.report.load.columns import from_records
    from regbench.report.load.instances import notes
    from regbench.report.stats.repeats import repeat_spreads
    from regbench.report.stats.summary import summary_table
    from regbench.report.text.repeats_table import repeats_table

    console = make_console()
    summary = from_records(records)
    console.print(fit_table(summary_table(summary), console.width))  # numbers and names whole at 80 columns
    for line in notes(summary):  # copies among the seeds, runs not known to be reproducible
        console.print(f"[yellow]note:[/] {markup_safe(line)}")
    failures = [r for r in records if not succeeded(r)]
    for r in failures[:SHOW_FAILURES]:
        why = _short(r.error or MEANINGS.get(r.outcome or "") or r.stop_condition)
        repeat = f", repeat {r.repeat}" if r.repeat else ""
        console.print(
            f"[red]{markup_safe(r.outcome or r.status)}[/] {markup_safe(r.strategy)} on {markup_safe(r.case)}, "
            f"seed {r.seed}{repeat}: {why}"
        )
    if len(failures) > SHOW_FAILURES:
        console.print(f"... and {len(failures) - SHOW_FAILURES} more (regbench export, or regbench report)")
    spreads = repeat_spreads(records)
    if spreads:
        console.print(fit_table(repeats_table(spreads), console.width))
    again = f", {skipped} already in the store (--force reruns them)" if skipped else ""
    others = len(records) - skipped - ran
    again = f", {others} run by another runner on the store meanwhile{again}" if others > 0 else again
    counts = Counter(r.outcome or r.status for r in failures)
    kinds = f" ({', '.join(f'{outcome} {n}' for outcome, n in counts.most_common())})" if failures else ""
    console.print(
        f"{len(records)} runs: {ran} new{again}; "
        f"{tally_text(tally(records))}{markup_safe(kinds)}; "
        f"stored in {markup_safe(Path(store.path))}"
    )
    from regbench.cli.answer import answer_lines

    case_files = sorted({r.spec.case_file for r in runs if r.spec.case_file})
    for line in answer_lines(records, store.path, case_files, race):
        console.print(line)


def _short(error: str | None, width: int = 200) -> str:
    """One line of an error message; ITK's own sentence rather than its file and line prefix."""
    text = " ".join((error or "").split())
    text = text[text.find("ITK ERROR:") :] if "ITK ERROR:" in text else text
    return markup_safe(text if len(text) <= width else text[: width - 1] + "…")
