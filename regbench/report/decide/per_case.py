"""The answer per case: each case's recommendation decided by the strongest evidence it has.

:func:`recommend_all` walks the evidence ladder of :mod:`regbench.report.decide.evidence` for every case (truth,
landmarks, labels, simulated instances, then truth-free evidence with the spread over seeds), hands the chosen values to
:func:`regbench.report.decide.recommend.recommend`, and says in the verdict which evidence decided. Over a case set each
case counts in its own tolerances; a real pair decided by its simulated companion is left out of the pool, since
the companion is in it already.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from regbench.cases.case import CaseData
from regbench.report.decide.answer import Recommendation, choose, verdict
from regbench.report.decide.evidence import SIMULATED_SUFFIX, Evidence, case_evidence
from regbench.report.decide.inputs import case_loader, case_tolerances, demonstrations
from regbench.report.decide.recommend import recommend
from regbench.report.load.columns import Runs
from regbench.report.stats.stability import solver_spreads


def recommend_all(
    runs: Runs,
    error: str = "error_mean",
    tolerance: float | None = None,
    cases: bool = True,
    load: Callable[[str], CaseData | None] | None = None,
    case_files: Sequence[str] = (),
    with_bayes: bool = True,
) -> list[Recommendation]:
    """A recommendation per case (``cases``) and one over all of them (when there are several), each decided by
    the strongest evidence its case has (:mod:`regbench.report.decide.evidence`). ``load`` gives a case's data for the
    spread over seeds, the truth-free evidence (default: the case each run recorded, or one of ``case_files``:
    :func:`regbench.report.decide.inputs.case_loader`; None where it cannot be loaded: no spread)."""
    names = sorted({str(c) for c in runs["case"].tolist()})
    tolerances = case_tolerances(names, tolerance, runs=runs, case_files=case_files, error=error)
    demonstrated = demonstrations()
    load = load if load is not None else case_loader(runs, case_files)
    found = {
        name: case_evidence(
            name,
            runs.subset(runs["case"] == name),
            runs,
            error,
            tolerances[name],
            tolerances.get(name + SIMULATED_SUFFIX),
        )
        for name in names
    }
    # a real pair and its simulated companion: one answer, by the stronger evidence, and one of them in the pool
    judged_by_companion = {found[n].companion for n in names if found[n].real_pair}
    other_half = {n + SIMULATED_SUFFIX for n in names if not found[n].real_pair and n + SIMULATED_SUFFIX in found} | {
        n for n in names if found[n].real_pair
    }
    out = []
    if cases:
        # a companion whose real pair is decided by it is answered there ("on N simulated deformations of ...")
        for name in names:
            if name in judged_by_companion:
                continue
            ev = found[name]
            own = {str(c) for c in ev.runs["case"].tolist()}
            rec = recommend(
                ev.runs,
                ev.column,
                {c: (ev.tolerance, ev.tolerance_note) for c in own},
                name,
                demonstrated,
                values=ev.values,
                initial_values=ev.initial,
                with_bayes=with_bayes,
                **_spread_gate(ev, name, tolerances[name][0], load),
            )
            _decided(rec, ev)
            out.append(rec)
    # over all cases: each case's own evidence, in its tolerances; of a real pair and its simulated companion only
    # the one that answers for both (never counted twice, never pooled with each other)
    pooled = [n for n in names if n not in other_half]
    columns = {found[n].column for n in pooled}
    if len(pooled) > 1:
        mask = np.isin(runs["case"].astype(str), pooled)
        values, starts = np.full(len(runs), np.nan), np.full(len(runs), np.nan)
        for name in pooled:
            values[runs["case"] == name] = found[name].values
            if found[name].initial is not None:
                starts[runs["case"] == name] = found[name].initial
        rec = recommend(
            runs.subset(mask),
            columns.pop() if len(columns) == 1 else "evidence",
            {n: (found[n].tolerance, found[n].tolerance_note) for n in pooled},
            "all cases",
            demonstrated,
            values=values[mask],
            initial_values=starts[mask],
            with_bayes=with_bayes,
        )
        kinds = Counter(found[n].kind for n in pooled)
        rec.evidence = kinds.most_common(1)[0][0] if len(kinds) == 1 else "mixed"
        rec.decided_by = "decided per case by its strongest evidence: " + ", ".join(
            f"{kind} ({count} case{'s' if count != 1 else ''})" for kind, count in kinds.most_common()
        )
        rec.registered = None
        choose(rec)  # again: whether it registered depends on the evidence
        rec.verdict = verdict(rec)
        out.append(rec)
    return out


def _spread_gate(ev: Evidence, case: str, spatial: float, load: Callable[[str], CaseData | None]) -> dict:
    """The spread over seeds of each solver, and the limit, where the truth-free evidence decides."""
    if not ev.weak:
        return {}
    return {"spreads": solver_spreads(ev.runs, load), "spread_tolerance": spatial}


def _decided(rec: Recommendation, ev: Evidence) -> None:
    ev.spread = any(np.isfinite(c.spread) for c in rec.candidates)
    rec.evidence = ev.kind
    rec.decided_by = ev.decided_by(rec.n_instances)
    rec.registered = None
    choose(rec)  # again: whether it registered depends on the evidence
    rec.verdict = verdict(rec)
