"""The first screen of the HTML report: which strategy to use, per case and over all cases, and the case × strategy
matrix laid out to fit a laptop window (1366 px); and the strategies the pooled figures draw in colour.

Everything here reads the :class:`regbench.report.decide.answer.Recommendation` objects of
:func:`regbench.report.decide.per_case.recommend_all`. Fields the answer may not have yet (``chosen``,
``equivalent``) are read with ``getattr`` and fall back on ``best`` and ``recommended``; the verdict's words are
shown as they come, its first line as the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from regbench.report.figures.common import MAX_COLOURED

#: Value columns of the case × strategy matrix that fit beside the row names in a 1366 px window (about 60 px a
#: column under a rotated head); past it the matrix is transposed, or shows the highlighted strategies only.
MATRIX_COLUMNS = 16
#: A rotated column head longer than this is cut with an ellipsis; the full name is in its tooltip.
HEAD_CHARS = 20
#: The width the matrix may take (px: the page's 1200 px less its padding), and an estimate of a column's width
#: with its head written across (characters at 0.85 em, a number at least); wider matrices rotate their heads.
PAGE_WIDTH = 1150
_CHAR_PX, _CELL_PX, _ROW_HEAD_PX = 7.5, 16, 240
#: Rows of the answer shown at once (over all cases, then the first cases); the others are folded beneath.
ANSWER_ROWS = 16
#: Strategies named in the answer's "also within the tolerance" cell, after their count.
ALSO_SHOWN = 3
#: The pooled figures' contrast: strategies that are not recommended, drawn in colour beside the recommended.
CONTRASTS = 2

OVERALL = "all cases"
_PAIR_LINE = re.compile(r"^\S+ vs \S+: ")


def anchor(text: str) -> str:
    """An HTML id made of safe characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def chosen(rec) -> str | None:
    """The one strategy the answer names (``chosen`` where the recommendation has it, else the best)."""
    return getattr(rec, "chosen", None) or rec.best


def also(rec) -> list[str]:
    """The other strategies within the tolerance of the chosen one (its equivalents where named)."""
    names = getattr(rec, "equivalent", None)
    names = rec.recommended if names is None else names
    return [s for s in names if s != chosen(rec)]


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else ""


def verdict_parts(rec) -> tuple[list[str], list[str]]:
    """The verdict after its first line: (lines shown, per-pair lines folded away). The sentence naming the
    evidence is left out where ``decided_by`` is shown on its own."""
    decided = sentence(rec.decided_by).rstrip(".")
    rest = [line for line in rec.verdict[1:] if not decided or line.rstrip(".") != decided]
    return [x for x in rest if not _PAIR_LINE.match(x)], [x for x in rest if _PAIR_LINE.match(x)]


def use_text(rec) -> str:
    """What the answer tells to do: "use X", or, where no strategy registered, that none did and which came
    closest (never "use" a strategy that did not register)."""
    pick = chosen(rec)
    if pick is None:
        return "none"
    if getattr(rec, "registered", None) is False:
        return f"none registered (closest: {pick})"
    return f"use {pick}"


def answers(recs: Sequence, fmt: Callable[[float], str]) -> list[dict]:
    """One row per scope, the answer over all cases first: the strategy to use, its median of the deciding value,
    the evidence that decided, the others within the tolerance, and the verdict's first line in full."""
    rows = []
    for rec in sorted(recs, key=lambda r: r.scope != OVERALL):
        pick, others = chosen(rec), also(rec)
        mine = next((c for c in rec.candidates if c.solver == pick), None)
        unit = " tol." if rec.unit == "tolerances" else ""
        rows.append(
            {
                "scope": rec.scope,
                "anchor": anchor(rec.scope),
                "overall": rec.scope == OVERALL,
                "chosen": pick,
                "use": use_text(rec),
                "registered": getattr(rec, "registered", None) is not False,
                "value": "" if mine is None else fmt(mine.median_error) + unit,
                "value_name": rec.error + (" in tolerances" if unit else ""),
                "also": _counted(others),
                "also_all": ", ".join(others),
                "verdict": rec.verdict[0] if rec.verdict else "",
                "decided_by": sentence(rec.decided_by),
                "evidence": _without(rec.decided_by, "decided by "),
            }
        )
    return rows


def _counted(names: Sequence[str]) -> str:
    """``3: a, b, c`` (the first :data:`ALSO_SHOWN`): the count first, so a cut-off cell still says how many."""
    if not names:
        return "none"
    return f"{len(names)}: {', '.join(names[:ALSO_SHOWN])}" + (", …" if len(names) > ALSO_SHOWN else "")


def _without(text: str, prefix: str) -> str:
    """``text`` without a leading ``prefix`` (any case), as a sentence; unchanged where it does not start so."""
    return sentence(text[len(prefix) :] if text.lower().startswith(prefix) else text)


def highlighted(recs: Sequence, limit: int = MAX_COLOURED) -> list[str]:
    """The strategies the pooled figures colour, most important first: the one chosen over all cases, each
    case's chosen one, the others recommended; then, as contrast, the best-ranked strategy not recommended and
    the worst-ranked one (:data:`CONTRASTS`)."""
    if not recs:
        return []
    overall = next((r for r in recs if r.scope == OVERALL), recs[0])
    picks = [chosen(overall)] + [chosen(r) for r in recs if r is not overall]
    picks += also(overall) + [s for r in recs for s in also(r)]
    ranked = [c.solver for c in overall.candidates]
    taken = set(picks)
    rest = [s for s in ranked if s not in taken]
    contrast = list(dict.fromkeys(rest[:1] + rest[-1:]))[:CONTRASTS]
    head = [s for s in dict.fromkeys(picks) if s is not None][: max(1, limit - len(contrast))]
    return list(dict.fromkeys(head + contrast))[:limit]


def short(name: str, limit: int = HEAD_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def case_matrix(recs: Sequence, solvers: Sequence[str], fmt: Callable[[float], str]) -> dict:
    """The case × strategy matrix of the value that decides each case, laid out to fit: strategies as columns
    up to :data:`MATRIX_COLUMNS`, transposed (cases as columns) when there are more strategies than that but
    few cases, else only the highlighted strategies as columns with the whole matrix folded away (``full``)."""
    per_case = [r for r in recs if r.scope != OVERALL]
    cases = [r.scope for r in per_case]
    cells: dict[tuple[str, str], dict] = {}
    demos = set()
    for rec in per_case:
        pick = chosen(rec)
        for c in rec.candidates:
            if not c.eligible:
                demos.add(c.solver)
            css = "chosen" if c.solver == pick else "rec" if c.recommended else ("demo" if not c.eligible else "")
            text = fmt(c.median_error)
            tip = f"{c.solver} on {rec.scope}: median {rec.error} {text}" + (f"; {c.why_not}" if c.why_not else "")
            cells[(rec.scope, c.solver)] = {"text": text, "css": css, "title": tip}

    def grid(columns: list[str], transposed: bool) -> dict:
        heads, rows = (cases, columns) if transposed else (columns, cases)
        unit = {r.scope: r.error for r in per_case}
        across = _ROW_HEAD_PX + sum(max(len(h) + 4 * (h in demos), 7) * _CHAR_PX + _CELL_PX for h in heads)
        return {
            "transposed": transposed,
            "rotate": across > PAGE_WIDTH,
            "corner": "strategy \\ case" if transposed else "case \\ strategy",
            "columns": [
                {
                    "name": h,
                    "short": (short(h) if across > PAGE_WIDTH else h) + (" (D)" if h in demos else ""),
                    "title": f"{h}: {unit[h]}" if transposed else h,
                    "link": f"#rec-{anchor(h)}" if transposed else None,
                }
                for h in heads
            ],
            "rows": [
                {
                    "name": r + (" (D)" if r in demos else ""),
                    "link": None if transposed else f"#rec-{anchor(r)}",
                    "unit": "" if transposed else unit[r],
                    "cells": [
                        cells.get((h, r) if transposed else (r, h), {"text": "", "css": "", "title": ""}) for h in heads
                    ],
                }
                for r in rows
            ],
        }

    solvers = list(solvers)
    if len(solvers) <= MATRIX_COLUMNS:
        return {**grid(solvers, False), "full": None, "note": ""}
    if len(cases) <= MATRIX_COLUMNS:
        return {**grid(solvers, True), "full": None, "note": "Transposed: more strategies than fit as columns."}
    shown = highlighted(recs, MATRIX_COLUMNS)
    shown += [s for s in solvers if s not in shown][: MATRIX_COLUMNS - len(shown)]
    note = (
        f"Columns: {len(shown)} of the {len(solvers)} strategies, those chosen or recommended somewhere and two "
        "contrasts first; the whole matrix is folded below."
    )
    return {**grid([s for s in solvers if s in shown], False), "full": grid(solvers, False), "note": note}
