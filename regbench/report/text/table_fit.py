"""Fitting a rich table to the terminal's width (80 columns and up) without splitting a number or a word and with
every row still identifiable: the one mechanism every printed table goes through (:func:`fit_table`).

Rich, left alone, shares a narrow width out among the columns and folds whatever does not fit: ``0.00``/``534``,
``stra``/``tegy``. Here each column is given at least the width of what it must show whole, and when the columns
do not all fit, the least important are left out (the caption names them) rather than any being cut. Imports only
rich, so that the run's end summary does not load the statistics to print a table.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

# A name or a word longer than a third of the width (and than this) may fold: it must not hide every other column.
MIN_TEXT_WIDTH = 10
# Header words of the columns a reader compares (errors, times, the spread of repeats): left out last.
MEASURE_WORDS = frozenset({"error", "err.", "time", "min", "max", "spread"})


def _plain(cell: object) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)  # a rich Text, or markup


def _longest(texts: list[str], words: bool) -> int:
    parts = [p for t in texts for p in (t.split() if words else t.splitlines())]
    return max((len(p) for p in parts), default=1)


def _identity_count(table: Table) -> int:
    """How many leading columns name a row (strategy, case): left-justified, every cell one word; at least one."""
    count = 0
    for column in table.columns:
        if column.justify == "right" or any(len(_plain(c).split()) > 1 for c in column._cells):
            break
        count += 1
    return max(count, 1)


def _one_line(header: str) -> str:
    """A header broken over lines as one line: "regis-\ntered" is "registered"."""
    return " ".join(header.split()).replace("- ", "")


def _is_measure(column: Column) -> bool:
    return bool(MEASURE_WORDS & set(_plain(column.header).lower().split()))


#: How close to the width a table's estimate must come before it is laid out to check (cheap tables only pay it).
NEAR_EDGE = 8


def _laid_out_width(table: Table, width: int) -> int:
    """The widest line of ``table`` laid out for a terminal of ``width`` columns, before the terminal crops it."""
    console = Console(width=width, file=None, color_system=None)
    widest = line = 0
    for segment in console.render(table, console.options):
        if segment.text == "\n":
            widest, line = max(widest, line), 0
        else:
            line += cell_len(segment.text)
    return max(widest, line)


def fit_table(table: Table, width: int) -> Table:
    """``table`` made to fit ``width`` columns: the leading columns that name a row (:func:`_identity_count`) and
    the right-justified (numeric) ones never wrap and get the width of their widest cell (unless that is over a
    third of ``width``: then they wrap between words); header words and the words of text columns stay whole.
    When that is too wide, columns are left out from the right, the measures (:data:`MEASURE_WORDS`) last and the
    identifying columns never, then those that fit again are put back; the caption names what is not shown."""
    columns = table.columns
    if not columns:
        return table
    identity = _identity_count(table)
    for i, column in enumerate(columns):
        cells = [_plain(c) for c in column._cells]
        whole = max(_longest([_plain(column.header), *cells], words=False), 1)
        if (i < identity or column.justify == "right") and whole <= max(width // 3, MIN_TEXT_WIDTH):
            column.no_wrap = True  # a number or a name on one line, never folded (its header neither: by lines)
            need = whole
        else:  # text, or a long reason among the numbers: wraps between words, each word whole
            header = _longest([_plain(column.header)], words=True)
            need = max(header, min(_longest(cells, words=True), max(width // 3, MIN_TEXT_WIDTH)))
        column.min_width = max(column.min_width or 0, need)
    edges = 1 if table.show_edge else -1
    probe = Console(width=max(width, 1) * 4, file=None, color_system=None)

    def too_wide() -> bool:
        estimate = sum((c.min_width or 0) + 3 for c in table.columns) + edges
        if estimate > width:
            return True  # no need to measure every cell (the cost of a table of many rows)
        try:  # rich's own minimum width of the table as it stands (what it cannot shrink below)
            measured = Measurement.get(probe, probe.options, table).minimum
        except Exception:
            measured = 0
        if max(estimate, measured) > width:
            return True
        # Near the edge, rich's layout can still end a few columns wider than its minimum (a column it widens back
        # for a word that must stay whole) and the terminal crops the right edge: lay it out and look.
        return max(estimate, measured) > width - NEAR_EDGE and _laid_out_width(table, width) > width

    original = list(columns)
    dropped: list[Column] = []
    for keep_measures in (True, False):
        for column in list(reversed(table.columns[identity:])):
            if not too_wide():
                break
            if keep_measures and _is_measure(column):
                continue
            table.columns.remove(column)
            dropped.append(column)
    for column in sorted(dropped, key=original.index):  # a narrower one left out before a wide one may fit again
        table.columns = [c for c in original if c not in dropped or c is column]
        if not too_wide():
            dropped.remove(column)
    table.columns = [c for c in original if c not in dropped]
    if dropped:
        names = ", ".join(_one_line(_plain(c.header)) for c in sorted(dropped, key=original.index))
        note = f"not shown at {width} columns (widen the terminal to see them): {names}"
        caption = str(table.caption or "").rstrip()
        table.caption = f"{caption} N{note[1:]}" if caption.endswith(".") else f"{caption}; {note}" if caption else note
    return table
