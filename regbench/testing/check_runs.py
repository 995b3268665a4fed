"""The runs the strategy checks share: one cached record per strategy, case and plugin manager (seed 0, one
thread), on the tiny case unless a case is given, with the default manager made once.
"""

from __future__ import annotations

import functools
from typing import Any

from regbench.cases.case import Case
from regbench.cases.tiny import make_tiny_case
from regbench.plugin.manager import RegbenchPluginManager, make_plugin_manager
from regbench.record import RunRecord
from regbench.run import run_one
from regbench.strategy import Strategy

_default_pm: RegbenchPluginManager | None = None
_runs: dict[tuple[int, ...], tuple[Any, ...]] = {}


def manager(pm: RegbenchPluginManager | None) -> RegbenchPluginManager:
    global _default_pm
    if pm is not None:
        return pm
    if _default_pm is None:
        _default_pm = make_plugin_manager(entrypoints=False)
    return _default_pm


def run(strategy: Strategy, case: Case | None, pm: RegbenchPluginManager | None, *, fresh: bool = False) -> RunRecord:
    """The record of ``strategy`` on ``case`` (default: the tiny case), seed 0, one thread; cached so that the
    checks of one strategy share a run (the objects are kept alive, so their ids stay unique)."""
    case = run_case(case)
    pm = manager(pm)
    key = (id(strategy), id(case), id(pm))
    if fresh or key not in _runs:
        record = run_one(strategy, case, seed=0, threads=1, pm=pm)
        if fresh:
            return record
        if len(_runs) >= 32:
            _runs.pop(next(iter(_runs)))
        _runs[key] = (strategy, case, pm, record)
    return _runs[key][3]


@functools.cache
def _tiny_case_once() -> Case:
    return make_tiny_case()


def run_case(case: Case | None) -> Case:
    return _tiny_case_once() if case is None else case


def record_hint(record: RunRecord) -> str:
    tail = next((n for n in reversed(record.notes) if n.startswith("traceback")), "")
    return f"status {record.status!r}, error {record.error!r}" + (f"\n{tail}" if tail else "")
