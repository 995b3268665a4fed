"""Hand-made run summaries, as a report loads them from a store: the rows the statistics and recommendation tests
build their cases from."""

from __future__ import annotations

from typing import Any


def summary_row(strategy: str, case: str, seed: int, **fields: Any) -> dict[str, Any]:
    """One run of ``strategy`` on ``case`` with ``seed`` (its own instance ``case-seed``): finished, converged, in
    1 s, unless ``fields`` say otherwise."""
    return {
        "key": f"{strategy}-{case}-{seed}",
        "strategy": strategy,
        "case": case,
        "seed": seed,
        "instance": f"{case}-{seed}",
        "status": "ok",
        "outcome": "converged",
        "wall_time_s": 1.0,
        **fields,
    }
