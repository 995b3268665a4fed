"""A computed recommendation shown: its candidates and its win matrix as rich tables for the terminal, and the
whole recommendation as JSON.
"""

from __future__ import annotations

import numpy as np

from regbench.report.decide.answer import Recommendation, fmt, group_labels


def recommendation_table(rec: Recommendation):
    """The candidates of one recommendation as a rich table: numbers never wrap (the name column folds)."""
    from rich.table import Table

    from regbench.report.text.one_run import as_text, markup_safe

    unit = rec.error if rec.unit == "case units" else f"{rec.error}/tol"
    table = Table(title=f"Recommendation: {markup_safe(rec.scope)} ({rec.n_instances} instances)", title_justify="left")
    table.add_column("strategy", overflow="fold", ratio=1)
    table.add_column("", no_wrap=True)  # ✓ recommended, · within tolerance, D demonstration
    table.add_column(unit, justify="right", no_wrap=True)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("cd", no_wrap=True)
    table.add_column("P(eq)", justify="right", no_wrap=True)
    table.add_column("fail", justify="right", no_wrap=True)
    table.add_column("fold", justify="right", no_wrap=True)
    table.add_column("time s", justify="right", no_wrap=True)
    spreads = any(np.isfinite(c.spread) for c in rec.candidates)
    if spreads:
        table.add_column("spread", justify="right", no_wrap=True)
    consistency = any(np.isfinite(c.inverse_consistency) for c in rec.candidates)
    if consistency:
        table.add_column("inv.", justify="right", no_wrap=True)
    groups = group_labels(rec)
    for c in rec.candidates:
        mark = "✓" if c.recommended else ("D" if not c.eligible else ("·" if c.within_tolerance else ""))
        probs = rec.bayes.get(c.solver)
        table.add_row(
            as_text(c.solver, "bold" if c.recommended else ("dim" if not c.eligible else "")),
            mark,
            fmt(c.median_error),
            "–" if not np.isfinite(c.mean_rank) else f"{c.mean_rank:.1f}",
            groups.get(c.solver, ""),
            "best" if c.solver == rec.best else ("–" if probs is None else f"{probs[1]:.2f}"),
            "–" if not np.isfinite(c.failure_rate) else f"{100 * c.failure_rate:.0f}%",
            "–" if not np.isfinite(c.folding_max) else f"{100 * c.folding_max:.2g}%",
            fmt(c.median_time_s),
            *([fmt(c.spread)] if spreads else []),
            *([fmt(c.inverse_consistency)] if consistency else []),
        )
    table.caption = (
        "✓ recommended  · within tolerance  D demonstration (never recommended); rank: mean rank over instances; "
        "cd: critical-difference groups (same letter: no significant Wilcoxon–Holm difference); P(eq): Bayesian "
        "signed-rank P(practically equivalent to the best, ROPE ± tolerance); fail: failed runs; fold: largest "
        "folding fraction"
        + ("; spread: of the returned transforms over seeds on the foreground, physical units" if spreads else "")
        + ("; inv.: median inverse-consistency error ‖T_bwd ∘ T_fwd − id‖ on the foreground" if consistency else "")
    )
    table.caption_justify = "left"
    return table


def win_table(rec: Recommendation, limit: int = 8):
    """Wins by more than the tolerance, row over column, for the best-ranked ``limit`` solvers."""
    from rich.table import Table

    from regbench.report.text.one_run import as_text, markup_safe

    order = [c.solver for c in rec.candidates][:limit]
    solvers = sorted(c.solver for c in rec.candidates)
    index = {s: i for i, s in enumerate(solvers)}
    table = Table(
        title=f"Wins by more than the tolerance ({markup_safe(rec.scope)}): row beats column", title_justify="left"
    )
    table.add_column("", overflow="fold", ratio=1)
    for k in range(len(order)):
        table.add_column(str(k + 1), justify="right", no_wrap=True)
    for k, a in enumerate(order):
        row = ["–" if a == b else str(rec.wins[index[a], index[b]]) for b in order]
        table.add_row(as_text(f"{k + 1} {a}"), *row)
    return table


def to_jsonable(rec: Recommendation) -> dict:
    solvers = sorted(c.solver for c in rec.candidates)
    return {
        "scope": rec.scope,
        "cases": rec.cases,
        "error": rec.error,
        "unit": rec.unit,
        "tolerance": rec.tolerance,
        "evidence": rec.evidence,
        "decided_by": rec.decided_by,
        "spread_tolerance": rec.spread_tolerance,
        "best": rec.best,
        "recommended": rec.recommended,
        "groups": rec.groups,
        "verdict": rec.verdict,
        "candidates": [
            {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in vars(c).items()}
            for c in rec.candidates
        ],
        "bayes": {k: list(v) for k, v in rec.bayes.items()},
        "wins": {"solvers": solvers, "matrix": rec.wins.tolist()},
    }
