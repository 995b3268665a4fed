"""The answer at the end of ``regbench run``: which strategy to use, by what evidence, and where to look next.

At most :data:`MAX_LINES` lines: one per case when there are few, else the answer over the suite; then the
commands that show the evidence (``regbench recommend``) and the pictures (``regbench report --html``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from regbench.record import RunRecord
from regbench.report.text.one_run import markup_safe
from regbench.store.sqlite import DEFAULT_STORE

if TYPE_CHECKING:
    from regbench.report.decide.answer import Recommendation

MAX_LINES = 5


def answer_lines(
    records: Sequence[RunRecord], store: str | Path, case_files: Sequence[str] = (), race: Sequence[str] = ()
) -> list[str]:
    """The lines (rich markup, data escaped) that end a matrix's output; none when nothing finished. ``race``: how
    the runs were raced (said after the answer, beyond :data:`MAX_LINES`)."""
    from regbench.report.decide.per_case import recommend_all
    from regbench.report.load.columns import from_records

    if not records:
        return []
    recs = recommend_all(from_records(records), case_files=case_files, with_bayes=False)  # it shows no P(eq)
    per_case = [r for r in recs if r.scope != "all cases"]
    overall = [r for r in recs if r.scope == "all cases"]
    shown = per_case if len(per_case) <= MAX_LINES - 2 else overall[:1]
    lines = [_line(rec) for rec in shown]
    if len(shown) < len(per_case):
        lines.append(f"{len(per_case)} cases: the answer per case is in regbench recommend")
    where = "" if str(store) == DEFAULT_STORE else f" --store {markup_safe(store)}"
    lines.append(
        f"next: [bold]regbench recommend{where}[/] (the evidence) · [bold]regbench report{where} --html report[/] "
        "(tables, figures, pictures)"
    )
    return lines[:MAX_LINES] + [markup_safe(line) for line in race]


def _line(rec: Recommendation) -> str:
    if rec.chosen is None:
        return f"{markup_safe(rec.scope)}: nothing to recommend (no eligible run finished)"
    from regbench.report.decide.answer import MIN_EQUIVALENCE_INSTANCES

    also = [s for s in rec.recommended if s != rec.chosen]
    word = "equivalent" if rec.n_instances >= MIN_EQUIVALENCE_INSTANCES else "also within the tolerance"
    names = markup_safe(", ".join(also[:3]) + (", ..." if len(also) > 3 else ""))
    equivalent = f" ({word}: {names})" if also else ""
    if rec.registered is False:
        return (
            f"[bold]{markup_safe(rec.scope)}: no strategy registered[/] (the closest, {markup_safe(rec.chosen)}, "
            f"ended beyond the tolerance); {markup_safe(rec.decided_by or 'decided by ' + rec.error)}"
        )
    return (
        f"[bold]{markup_safe(rec.scope)}: use {markup_safe(rec.chosen)}[/]{equivalent}; "
        f"{markup_safe(rec.decided_by or 'decided by ' + rec.error)}"
    )
