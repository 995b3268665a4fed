"""One run for people: the per-level table and the summary lines; and how any text from data is printed.

Names, descriptions, stop texts, errors and notes come from plugins, user files and SimpleITK: they are printed as
text, never as rich markup (``[link=...]`` stays literal, ``[/bold]`` cannot break the output) and never as
terminal escapes (control characters are shown as ``\x1b``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from regbench.record import RunRecord
from regbench.report.text.verdict_words import registered_text, verdict_words
from regbench.util.console import make_console, visible
from regbench.util.console import markup_safe as markup_safe  # re-export: the report and CLI modules import it here


def as_text(value: Any, style: str = "") -> Text:
    """``value`` as a rich Text (never parsed as markup), control characters shown: for table cells."""
    return Text(visible(value), style=style)


#: How much of one free text (a note, a stop text, an error) ``show`` prints: a plugin can store megabytes.
CLIP_CHARS = 2000
CLIP_LINES = 40


def clipped(text: str, hint: str = "--json prints all of it") -> str:
    """``text`` cut to a readable length, with a line saying how much was cut and how to get all of it."""
    lines = text.count("\n", 0, CLIP_CHARS + 1)
    if len(text) <= CLIP_CHARS and lines < CLIP_LINES:
        return text
    cut = text[:CLIP_CHARS]
    if lines >= CLIP_LINES:
        cut = "\n".join(cut.split("\n")[:CLIP_LINES])
    return f"{cut}\n  [... {len(text) - len(cut):,} more characters cut; {hint}]"


#: A run that raised keeps its traceback as a note with this prefix (regbench.run); ``show`` prints its last
#: 30 lines, the innermost frames (where a plugin's code raised), each cut to TRACEBACK_WIDTH characters.
TRACEBACK_NOTE = "traceback: "
TRACEBACK_WIDTH = 500


def traceback_tail(record: RunRecord, hint: str) -> str | None:
    """The end of the traceback of a run that raised, with a line saying what was cut and how to get all of it;
    None when the record holds none."""
    text = next((n[len(TRACEBACK_NOTE) :] for n in record.notes if n.startswith(TRACEBACK_NOTE)), None)
    if text is None:
        return None
    lines = text.splitlines()
    kept = [line if len(line) <= TRACEBACK_WIDTH else line[: TRACEBACK_WIDTH - 1] + "…" for line in lines[-30:]]
    cuts = [f"{len(lines) - len(kept)} earlier lines cut"] if len(lines) > len(kept) else []
    cuts += ["long lines cut (…)"] if kept != lines[-30:] else []
    return "\n".join([f"[... {'; '.join(cuts)}; {hint}]"] * bool(cuts) + kept)


def fmt(value, digits: int = 5) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value >= 1e307:
            return "DBL_MAX (no overlap)"
        return f"{value:.{digits}g}"
    return str(value)


def _dense_text(record: Any, value: float | None) -> str:
    """A dense metric; None on a no-overlap run is SimpleITK's no-overlap value (DBL_MAX), which is not stored."""
    if value is None and record.outcome == "no_overlap":
        return "none (no overlap)"
    return fmt(value)


def fmt_share(value: float | None) -> str:
    """A fraction as a percentage with the digits that matter near 0 and 1 (1 of 56,797 is not "0%")."""
    if value is None:
        return "–"
    if 0 < value < 0.001 or 0.999 < value < 1:
        return f"{100 * value:.3g}%"
    return f"{100 * value:.1f}%"


def rate_cell(first: float | None, last: float | None) -> str:
    """The "first → last" cell, or "–" when the optimizer reports no learning rate (SimpleITK reads it as 0)."""
    if all(rate in (None, 0.0) for rate in (first, last)):
        return "–"
    return f"{fmt(first, 3)} → {fmt(last, 3)}"


def level_table(record: RunRecord) -> Table:
    title = f"{markup_safe(record.strategy)} on {markup_safe(record.case)}, seed {record.seed}"
    table = Table(title=title, title_justify="left")
    for column in (
        "exec",
        "level",
        "shrink",
        "iterations",
        "first\nmetric",  # headers break between words: fit_table never cuts a right-justified column
        "last\nmetric",
        "best metric\n(at)",
        "learning rate\n(first → last)",
    ):
        table.add_column(column, justify="right")
    for segment in record.segments:
        for level in segment.levels:
            best = f"{fmt(level.best_metric)} ({fmt(level.best_iteration)})"
            rate = rate_cell(level.learning_rate_first, level.learning_rate_last)
            table.add_row(
                # a rejected execution is a discarded attempt, not a level change: say so in its row
                f"{segment.index} rejected" if segment.rejected else str(segment.index),
                str(level.index),
                fmt(level.shrink_factor),
                str(level.iterations),
                fmt(level.first_metric),
                fmt(level.last_metric),
                best,
                rate,
            )
    return table


def ran_no_iteration(record: RunRecord) -> bool:
    """The run executed, but its last level ran no iteration: SimpleITK never evaluated the metric there."""
    kept = [s for s in record.segments if s.levels and not s.rejected] or [s for s in record.segments if s.levels]
    return bool(kept) and kept[-1].levels[-1].iterations == 0 and not kept[-1].error


def final_metric_text(record: RunRecord) -> str:
    """The reported final metric, or why there is none (0.0 after no iteration is SimpleITK's "never evaluated")."""
    if ran_no_iteration(record) and record.final_metric in (None, 0.0):
        return "not evaluated (the last level ran no iteration)"
    return fmt(record.final_metric)


def summary_lines(record: RunRecord) -> list[tuple[str, str]]:
    rows = [
        ("status", record.status + (f": {record.error}" if record.error else "")),
        ("stop condition", record.stop_condition or "–"),
        ("stop category", fmt(record.stop_category)),
        ("outcome", f"{fmt(record.outcome)} ({verdict_words(record)})"),
        ("registered", registered_text(record)),
        ("flags", ", ".join(record.flags) or "–"),
        ("rounding failure", fmt(record.rounding_failure)),
        ("hit iteration cap", fmt(record.hit_iteration_limit)),
        ("iterations", str(record.iterations)),
        ("final metric (reported)", final_metric_text(record)),
        (
            "dense metric (initial → final)",
            f"{_dense_text(record, record.initial_metric_dense)} → {_dense_text(record, record.final_metric_dense)}",
        ),
        ("returned best visited", fmt(record.returned_best)),
    ]
    if record.best_visited_metric_dense is not None:
        rows.append(
            (
                "best visited dense metric / regret",
                f"{fmt(record.best_visited_metric_dense)} / {fmt(record.regret_metric_dense)}",
            )
        )
    if record.overlap_fraction is not None:
        rows.append(
            (
                "overlap (initial → final)",
                f"{fmt_share(record.initial_overlap_fraction)} → {fmt_share(record.overlap_fraction)}",
            )
        )
    if record.error_mean is not None:
        rows.append(
            (
                "error vs truth, mean (initial → final)",
                f"{fmt(record.initial_error_mean)} → {fmt(record.error_mean)}",
            )
        )
        rows.append(("error vs truth, p95 / max", f"{fmt(record.error_p95)} / {fmt(record.error_max)}"))
    if record.error_mean_fg is not None:
        rows.append(("error vs truth, foreground mean", fmt(record.error_mean_fg)))
    measures = record.measures
    if measures.get("tre_mean") is not None:
        rows.append(
            (
                "landmark TRE, mean (initial → final)",
                f"{fmt(measures.get('initial_tre_mean'))} → {fmt(measures.get('tre_mean'))}",
            )
        )
        rows.append(("landmark TRE, p95 / max", f"{fmt(measures.get('tre_p95'))} / {fmt(measures.get('tre_max'))}"))
    if record.folding_fraction is not None:
        rows.append(
            (
                "Jacobian min / folding / SDlogJ",
                f"{fmt(record.jacobian_min)} / {fmt(record.folding_fraction)} / {fmt(record.sdlogj)}",
            )
        )
    rows.append(("time (wall / CPU)", f"{fmt(record.wall_time_s, 3)} s / {fmt(record.cpu_time_s, 3)} s"))
    rows.append(("threads / sampling seed", f"{record.threads} / {record.sampling_seed}"))
    rows.append(("deterministic", fmt(record.deterministic) if record.deterministic is not None else "not known"))
    return rows


def host_lines(host: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Where the run ran (``record.host``), as two labelled lines for ``show``: the machine and its load, then its
    software."""
    if not host:
        return [("host", "not recorded (a record written before regbench recorded its host)")]
    load = [(host.get(k) or [None])[0] for k in ("load_start", "load_end")]
    machine = (
        f"{host.get('name')}: {host.get('cpu') or 'CPU not known'}, {fmt(host.get('cores_usable'))} of "
        f"{fmt(host.get('cores'))} cores, {fmt(host.get('memory_gb'))} GB; load {fmt(load[0])} → {fmt(load[1])}"
    )
    software = (
        f"{host.get('os') or '–'}; Python {host.get('python') or '–'}; BLAS {blas_text(host.get('blas'))}; "
        f"thread variables: {threads_text(host.get('thread_env'))}"
    )
    return [("host", machine), ("host software", software)]


def blas_text(blas: Any) -> str:
    """``openblas 0.3.26 (2 threads)``, libraries joined by commas; "–" when none is recorded."""
    if not isinstance(blas, list) or not blas:
        return "–"
    parts = []
    for lib in blas:
        if isinstance(lib, dict):
            threads = f" ({lib['threads']} threads)" if lib.get("threads") is not None else ""
            parts.append(f"{lib.get('library') or '?'} {lib.get('version') or ''}".strip() + threads)
    return ", ".join(parts) or "–"


def threads_text(env: Any) -> str:
    """``OMP_NUM_THREADS=1 ...``; "none set" when no thread variable was set."""
    if not isinstance(env, dict) or not env:
        return "none set"
    return " ".join(f"{name}={value}" for name, value in sorted(env.items()))


def print_record(record: RunRecord, console: Console | None = None) -> None:
    """The per-level table (when the run executed) and the summary lines; ``console`` defaults to the CLI's."""
    if console is None:
        console = make_console()
    if any(segment.levels for segment in record.segments):
        from regbench.report.text.tables import fit_table  # here: tables loads the statistics (scipy)

        console.print(fit_table(level_table(record), console.width))  # numbers whole at any width
    width = max(len(label) for label, _ in summary_lines(record))
    hint = f"`regbench show {record.key or 'RUN'} --json` prints all of it"
    for label, value in summary_lines(record):
        console.print(as_text(clipped(f"  {label:<{width}}  {value}", hint)), highlight=False)
    for note in record.notes:
        if not note.startswith(TRACEBACK_NOTE):
            console.print(as_text(clipped(f"  note: {note}", hint), style="dim"), highlight=False)
    if (trace := traceback_tail(record, hint)) is not None:
        console.print(as_text(trace), highlight=False, soft_wrap=True)
