"""``regbench compare A B``: per strategy × case deltas of time and quality, and ``--fail-on`` regression gates.

A gate is checked on every strategy × case present in both result sets (medians), or, for a category gate, on
every strategy × case of B (a group new in B counts as having had none of that category). A plugin's measure is
gated as ``measures.NAME`` (its numeric values; other values count as missing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from regbench.evaluation.outcomes import FAILURE_OUTCOMES, STATUSES
from regbench.evaluation.stops import CATEGORIES
from regbench.report.load.columns import FLOAT_FIELDS, MEASURE_FIELDS, Runs
from regbench.report.stats.across_instances import STAND_INS, median
from regbench.report.stats.summary import fmt_number
from regbench.report.text.one_run import markup_safe
from regbench.store.sqlite import Store, StoreError

CATEGORY_FIELDS = ("outcome", "status", "stop_category")
NUMERIC_FIELDS = FLOAT_FIELDS + MEASURE_FIELDS
# The values a category gate may name; a value a plugin's stop classifier produced is valid where it occurs.
CATEGORY_VALUES = {
    "status": STATUSES,
    "stop_category": CATEGORIES,
    "outcome": tuple(dict.fromkeys((*FAILURE_OUTCOMES, *CATEGORIES))),
}
# The columns the comparison table shows, in order; the landmark TRE too when either side has it.
SHOWN = ("wall_time_s", "iterations", "final_metric_dense", "error_mean")
SHOWN_IF_PRESENT = ("tre_mean",)
GATE_SYNTAX = (
    "FIELD:+N% or FIELD:-N% (relative change of the median per strategy × case, e.g. 'error_mean:+10%', "
    "'wall_time_s:+20%'), FIELD:+N or FIELD:-N (absolute change, e.g. 'iterations:+5'), or CATEGORY:VALUE "
    "(a larger share of runs with that value, e.g. 'outcome:diverged'); "
    f"numeric fields: {', '.join(NUMERIC_FIELDS)}, and measures.NAME for a plugin's measure NAME "
    f"(e.g. 'measures.dice_liver:-2%'); categories: {', '.join(CATEGORY_FIELDS)}"
)
MEASURE_PREFIX = "measures."


class GateError(ValueError):
    """A gate that cannot be evaluated: a ``--fail-on`` expression that does not parse (the message gives the valid
    syntax), an unreadable store, or (switch-check) a strategy, case or evidence the store does not hold."""


@dataclass(frozen=True)
class Gate:
    text: str
    field: str
    amount: float | None = None  # signed: +10 trips on an increase of more than 10
    relative: bool = False
    category: str | None = None


_NUMERIC = re.compile(
    r"^(?P<field>[a-z_0-9]+|measures\.[A-Za-z0-9_.+-]+):(?P<sign>[+-])(?P<amount>\d+(?:\.\d*)?|\.\d+)(?P<pct>%?)$"
)


def parse_gate(text: str) -> Gate:
    text = text.strip()
    match = _NUMERIC.match(text)
    if match:
        name = match["field"]
        if name not in NUMERIC_FIELDS and not name.startswith(MEASURE_PREFIX):
            raise GateError(f"--fail-on {text!r}: {name!r} is not a numeric field. Valid: {GATE_SYNTAX}")
        amount = float(match["amount"]) * (1 if match["sign"] == "+" else -1)
        return Gate(text, name, amount, relative=bool(match["pct"]))
    name, sep, value = text.partition(":")
    if sep and name in CATEGORY_FIELDS and re.fullmatch(r"[A-Za-z_][\w.-]*", value):
        return Gate(text, name, category=value)
    raise GateError(f"--fail-on {text!r} is not a valid gate. Valid: {GATE_SYNTAX}")


def measure_names(gates: Sequence[Gate]) -> list[str]:
    """The ``measures.NAME`` fields the gates need, in order."""
    return list(dict.fromkeys(g.field for g in gates if g.field.startswith(MEASURE_PREFIX)))


def add_measures(runs: Runs, path: str | Path, names: Sequence[str]) -> None:
    """Add a ``measures.NAME`` column per name to ``runs`` (loaded from ``path``), read from the same source in the
    same order: a result store, a JSON (lines) record file, or a pytest-benchmark file's extra_info."""
    rows = _measures_of(Path(path))
    if len(rows) != len(runs):
        raise GateError(f"{path}: read {len(rows)} runs' measures for {len(runs)} runs")
    for name in names:
        key = name[len(MEASURE_PREFIX) :]
        runs.columns[name] = np.array([_number(m.get(key)) for m in rows], dtype=float)


def _measures_of(path: Path) -> list[dict[str, Any]]:
    from regbench.record import RunRecord
    from regbench.report.load.sources import SQLITE_MAGIC

    with path.open("rb") as handle:
        is_store = handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    if is_store:
        others = tuple(f for f in RunRecord.__dataclass_fields__ if f != "measures")
        try:
            with Store.read_only(path) as store:
                return [row.get("measures") or {} for row in store.summaries(without=others)]
        except StoreError as exc:
            raise GateError(str(exc)) from exc
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict) and "benchmarks" in data:
        return [((b.get("extra_info") or {}).get("measures") or {}) for b in data.get("benchmarks") or []]
    return [(item.get("measures") or {}) for item in (data if isinstance(data, list) else [data])]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return float(value)


def check_values(gates: list[Gate], *sources: Runs) -> None:
    """Refuse a category gate whose value no run can have: it would pass without checking anything.

    Valid: :data:`CATEGORY_VALUES`, and any value that occurs in the sources. Raises :class:`GateError`.
    """
    for gate in gates:
        if gate.category is None:
            continue
        seen = {str(v) for runs in sources for v in runs[gate.field].tolist() if v is not None}
        valid = [*CATEGORY_VALUES[gate.field], *sorted(seen - set(CATEGORY_VALUES[gate.field]))]
        if gate.category not in valid:
            raise GateError(
                f"--fail-on {gate.text!r}: no run can have {gate.field} {gate.category!r}. Valid {gate.field} "
                f"values: {', '.join(valid)}"
            )


def unchecked(gate: Gate, deltas: list[Delta]) -> str | None:
    """Why ``gate`` checks nothing on these deltas (a gate that checks nothing must not pass), or None."""
    common = [d for d in deltas if d.a is not None and d.b is not None]
    if not common:
        return f"{gate.text}: A and B share no strategy × case, so the gate checks nothing"
    if gate.category is None and not _checkable(gate.field, common):
        other = STAND_INS.get(gate.field)
        hint = f" (they have {other}: gate on that)" if other and _checkable(other, common) else ""
        return f"{gate.text}: no strategy × case has {gate.field} in both A and B{hint}, so the gate checks nothing"
    return None


def _checkable(name: str, common: list[Delta]) -> bool:
    return any(not np.isnan(d.change(name)[0]) for d in common)


@dataclass
class Group:
    """One strategy × case in one result set."""

    n: int
    medians: dict[str, float]
    shares: dict[str, dict[str, float]]  # category field -> value -> fraction of runs


@dataclass
class Delta:
    solver: str
    case: str
    a: Group | None
    b: Group | None
    notes: list[str] = field(default_factory=list)

    def change(self, name: str) -> tuple[float, float]:
        """(absolute, relative) change of the median from A to B; NaN when either is missing."""
        if self.a is None or self.b is None:
            return float("nan"), float("nan")
        old, new = self.a.medians.get(name, float("nan")), self.b.medians.get(name, float("nan"))
        diff = new - old
        if old != 0:
            return diff, diff / abs(old)
        return diff, 0.0 if diff == 0 else math.copysign(math.inf, diff)


def groups(runs: Runs) -> dict[tuple[str, str], Group]:
    out = {}
    keys = list(zip(runs.solver.astype(str).tolist(), runs["case"].astype(str).tolist(), strict=True))
    for key in sorted(set(keys)):
        rows = (runs.solver == key[0]) & (runs["case"] == key[1])
        shares = {}
        for name in CATEGORY_FIELDS:
            values, counts = np.unique(runs[name][rows].astype(str), return_counts=True)
            shares[name] = {v: c / rows.sum() for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
        extra = [name for name in runs.columns if name.startswith(MEASURE_PREFIX)]
        medians = {name: median(runs[name][rows]) for name in (*NUMERIC_FIELDS, *extra)}
        out[key] = Group(int(rows.sum()), medians, shares)
    return out


def compare(a: Runs, b: Runs) -> list[Delta]:
    ga, gb = groups(a), groups(b)
    return [Delta(solver, case, ga.get((solver, case)), gb.get((solver, case))) for solver, case in sorted({*ga, *gb})]


def check(gate: Gate, deltas: list[Delta]) -> list[str]:
    """Messages for every strategy × case that trips ``gate`` (empty: the gate passes)."""
    tripped = []
    for d in deltas:
        where = f"{d.solver} on {d.case}"
        if gate.category is not None:
            if d.b is None:
                continue
            old = d.a.shares[gate.field].get(gate.category, 0.0) if d.a else 0.0
            new = d.b.shares[gate.field].get(gate.category, 0.0)
            if new > old:
                tripped.append(
                    f"{gate.text}: {where}: {gate.field} {gate.category} in {new:.0%} of runs "
                    f"(was {old:.0%}{'' if d.a else ', not in A'})"
                )
            continue
        amount = gate.amount
        assert amount is not None, "parse_gate gives every gate without a category an amount"
        if d.a is None or d.b is None:  # nothing to compare (the change is NaN)
            continue
        diff, rel = d.change(gate.field)
        change = rel * 100 if gate.relative else diff
        if np.isnan(change):
            continue
        if (amount >= 0 and change > amount) or (amount < 0 and change < amount):
            unit = "%" if gate.relative else ""
            tripped.append(
                f"{gate.text}: {where}: median {gate.field} {fmt_number(d.a.medians[gate.field])} → "
                f"{fmt_number(d.b.medians[gate.field])} ({change:+.4g}{unit})"
            )
    return tripped


def compare_table(deltas: list[Delta], label_a: str, label_b: str, extra: Sequence[str] = ()) -> Table:
    table = Table(
        title=f"A = {markup_safe(label_a)}\nB = {markup_safe(label_b)}",
        title_justify="left",
        caption="medians per strategy × case; change in % of |A|",
        caption_justify="left",
    )
    table.add_column("strategy", no_wrap=True)
    table.add_column("case", no_wrap=True)
    table.add_column("runs A/B", justify="right")
    shown = [*SHOWN, *(name for name in SHOWN_IF_PRESENT if _present(name, deltas)), *extra]
    for name in shown:
        table.add_column(f"{name}\nA → B (Δ)", justify="right")
    table.add_column("outcomes A → B")
    for d in deltas:
        cells = [f"{d.a.n if d.a else 0}/{d.b.n if d.b else 0}"]
        for name in shown:
            if d.a is None or d.b is None:
                cells.append("only in " + ("B" if d.a is None else "A"))
                continue
            _, rel = d.change(name)
            shift = "" if np.isnan(rel) else f" ({rel:+.1%})"
            cells.append(f"{fmt_number(d.a.medians[name], 3)} → {fmt_number(d.b.medians[name], 3)}{shift}")
        cells.append(_outcome_change(d))
        table.add_row(*(markup_safe(c) for c in [d.solver, d.case, *cells]))
    return table


def _present(name: str, deltas: list[Delta]) -> bool:
    groups = [g for d in deltas for g in (d.a, d.b) if g is not None]
    return any(not np.isnan(g.medians.get(name, float("nan"))) for g in groups)


def _outcome_change(d: Delta) -> str:
    old = d.a.shares["outcome"] if d.a else {}
    new = d.b.shares["outcome"] if d.b else {}
    n_old, n_new = (d.a.n if d.a else 0), (d.b.n if d.b else 0)
    parts = []
    for name in sorted({*old, *new}):
        x, y = round(old.get(name, 0) * n_old), round(new.get(name, 0) * n_new)
        parts.append(f"{name} {x}" if x == y and n_old == n_new else f"{name} {x}→{y}")
    return ", ".join(parts)


def to_jsonable(deltas: list[Delta]) -> list[dict]:
    from regbench.record import to_jsonable as strict

    return [
        strict(
            {
                "strategy": d.solver,
                "case": d.case,
                "a": d.a.__dict__ if d.a else None,
                "b": d.b.__dict__ if d.b else None,
            }
        )
        for d in deltas
    ]
