"""Racing: run instances in rounds and stop running a strategy once the evidence says it cannot be recommended.

A round is one more seed of every case for every strategy still in the race. After each round the recommendation
itself (:func:`regbench.report.decide.per_case.recommend_all`, over all cases when there are several) is computed on
the runs of the strategies still racing, and a strategy is dropped when

- it is a demonstration of a failure (never recommended): after its first instance;
- it is worse than the best by the recommendation's own paired test (Wilcoxon signed-rank, Holm-corrected over
  the pairs still racing, :mod:`regbench.report.stats.pairs`) at the race's level ``alpha``, and the
  recommendation does not recommend it (beyond the tolerance of the best, ...): a strategy significantly worse but
  within the tolerance stays, since the answer is the fastest of the practically equivalent ones;
- it is recommended but slower than the answer (the recommended strategy failing least, then fastest) by the same
  paired test on the runs' wall times, and not the best: it cannot be the answer beside it (it leaves the
  recommended list);
- it failed at least :data:`FAILURE_MARGIN` more runs than the best (the recommendation never recommends
  a strategy that fails more often than the best).

The race stops when one strategy remains, when every strategy left is recommended and practically equivalent to the
best (the Bayesian P(equivalent) ≥ :data:`~regbench.report.decide.answer.EQUIVALENT`, from
:data:`~regbench.report.decide.answer.MIN_EQUIVALENCE_INSTANCES` instances on), or when the rounds run out. The
store keeps every run made; :class:`RaceLog` says which strategies were dropped after which round and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from regbench.evaluation.outcomes import succeeded
from regbench.record import RunRecord
from regbench.report.decide.answer import EQUIVALENT, MIN_EQUIVALENCE_INSTANCES, Recommendation
from regbench.report.load.columns import from_records
from regbench.report.stats.pairs import paired_tests
from regbench.store.sqlite import Store, StoreError

ALPHA = 0.05
#: A strategy that failed on this many more instances than the best is dropped: one or two failures more can be
#: bad luck of a few seeds; three more already make it fail more often than the best on any number of rounds left.
FAILURE_MARGIN = 3

T = TypeVar("T")


@dataclass
class Drop:
    solver: str
    round: int  # 1-based: dropped after this round
    reason: str


@dataclass
class RaceLog:
    """What a race did: its settings, the rounds it ran of those planned, what it dropped and why it stopped."""

    alpha: float = ALPHA
    failure_margin: int = FAILURE_MARGIN
    rounds_planned: int = 0
    rounds_run: int = 0
    solvers: list[str] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RaceLog:
        data = dict(data)
        data["drops"] = [Drop(**d) for d in data.get("drops", [])]
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def lines(self) -> list[str]:
        """The race in words, for the recommendation (plain text)."""
        head = (
            f"raced: {self.rounds_run} of {self.rounds_planned} rounds (a round: one more seed of every case), "
            f"dropping at Holm-adjusted Wilcoxon p < {self.alpha:g} against the best or {self.failure_margin} more "
            f"failed runs; {self.stopped}"
        )
        return [head] + [f"  dropped {d.solver} after round {d.round}: {d.reason}" for d in self.drops]


#: The recommendation over some records, each of a solver given beside it (the race's own labels: the report's
#: labels of a grid point change when other points of its grid leave the race); with the Bayesian test or without.
Decide = Callable[[list[RunRecord], list[str], bool], Recommendation | None]


def default_decide(tolerance: float | None = None, case_files: Sequence[str] = ()) -> Decide:
    """The recommendation over ``records``: over all cases when there are several, else the case's own."""

    def decide(records: list[RunRecord], labels: list[str], with_bayes: bool = True) -> Recommendation | None:
        from regbench.report.decide.per_case import recommend_all

        runs = from_records(records)
        runs.columns["solver"] = np.array(labels, dtype=object)
        single = len({r.case for r in records}) == 1
        recs = recommend_all(runs, tolerance=tolerance, cases=single, case_files=case_files, with_bayes=with_bayes)
        pooled = [r for r in recs if r.scope == "all cases"]
        found = pooled or recs
        return found[0] if found else None

    return decide


def drops_after(
    rec: Recommendation,
    records: Sequence[RunRecord],
    solver_of: Callable[[RunRecord], str],
    alpha: float,
    margin: int,
    round_no: int,
) -> list[Drop]:
    """The strategies of ``rec`` that cannot be recommended by the evidence of ``records`` so far."""
    out = []
    failed: dict[str, int] = {}
    for r in records:
        failed[solver_of(r)] = failed.get(solver_of(r), 0) + (0 if succeeded(r) else 1)
    best = rec.best
    for c in rec.candidates:
        if c.solver == best:
            continue
        if not c.eligible:
            out.append(Drop(c.solver, round_no, f"a demonstration ({c.demonstrates}): shown on its first instance"))
            continue
        if best is None:
            continue
        extra = failed.get(c.solver, 0) - failed.get(best, 0)
        p = rec.pvalues.get((best, c.solver))
        if extra >= margin:
            out.append(Drop(c.solver, round_no, f"failed {extra} more runs than {best}"))
        elif p is not None and p < alpha and not c.recommended and c.median_error > rec.candidate(best).median_error:
            # significantly worse, and not recommended now (beyond the tolerance, failing or folding more...): one
            # worse within the tolerance may still be the answer (the fastest of the practically equivalent)
            why = f"Holm-adjusted Wilcoxon p = {p:.3g} on {rec.n_instances} instances"
            out.append(Drop(c.solver, round_no, f"worse than {best} ({why}) and not recommended: {c.why_not}"))
    return out


def slower_drops(
    rec: Recommendation, records: Sequence[RunRecord], labels: Sequence[str], alpha: float, round_no: int
) -> list[Drop]:
    """The recommended strategies that cannot be the answer: the answer is the recommended one failing least, then
    fastest (:data:`~regbench.report.decide.answer.CHOICE_RULE`), and these are slower than it by the same paired
    test on the runs' wall times."""
    chosen = rec.candidate(rec.chosen) if rec.chosen is not None and len(rec.recommended) > 1 else None
    if chosen is None or rec.n_instances < MIN_EQUIVALENCE_INSTANCES:
        return []
    runs = from_records(list(records))
    runs.columns["solver"] = np.array(labels, dtype=object)
    tests = {frozenset((t.a, t.b)): t for t in paired_tests(runs, "wall_time_s")}
    out = []
    for c in rec.candidates:
        test = tests.get(frozenset((chosen.solver, c.solver)))
        # the best stays: the tolerance is measured from it, and the other tests against it
        if (
            c is chosen
            or c.solver == rec.best
            or not c.recommended
            or test is None
            or test.p_holm is None
            or test.p_holm >= alpha
        ):
            continue
        if c.median_time_s > chosen.median_time_s:
            why = f"Holm-adjusted Wilcoxon p = {test.p_holm:.3g} on the wall times of {test.n} instances"
            out.append(Drop(c.solver, round_no, f"slower than {chosen.solver} ({why}): never the answer beside it"))
    return out


def _settled(rec: Recommendation, alive: set[str], with_bayes: Callable[[], Recommendation | None]) -> bool:
    """Every strategy left is recommended and practically equivalent to the best (by the Bayesian test, asked for
    only then: it takes most of a recommendation's time)."""
    if rec.best is None or rec.n_instances < MIN_EQUIVALENCE_INSTANCES or not alive <= set(rec.recommended):
        return False
    full = with_bayes()
    return full is not None and all(full.bayes.get(s, (0.0, 0.0, 0.0))[1] >= EQUIVALENT for s in alive - {full.best})


def race(
    rounds: Sequence[Sequence[T]],
    solver_of_run: Callable[[T], str],
    run: Callable[[list[T]], list[RunRecord]],
    solver_of: Callable[[RunRecord], str],
    decide: Decide,
    alpha: float = ALPHA,
    margin: int = FAILURE_MARGIN,
) -> RaceLog:
    """Race the planned runs of ``rounds`` (each a list of runs: one more seed of every case), running each round's
    runs of the strategies still racing with ``run`` (their records, in any order)."""
    solvers = sorted({solver_of_run(r) for rnd in rounds for r in rnd})
    log = RaceLog(alpha, margin, len(rounds), 0, solvers, [], [], "the rounds ran out")
    alive, records = set(solvers), []
    for number, planned in enumerate(rounds, start=1):
        records += run([r for r in planned if solver_of_run(r) in alive])
        log.rounds_run = number
        racing = [r for r in records if solver_of(r) in alive]
        labels = [solver_of(r) for r in racing]
        rec = decide(racing, labels, False) if racing else None
        if rec is None:
            continue
        dropped = drops_after(rec, racing, solver_of, alpha, margin, number)
        dropped += slower_drops(rec, racing, labels, alpha, number)
        log.drops += dropped
        alive -= {d.solver for d in dropped}
        eligible = {s for s in alive if s in {c.solver for c in rec.candidates if c.eligible}}
        if len(eligible) <= 1:
            log.stopped = f"one strategy left after round {number}" if eligible else f"none left after round {number}"
            break
        if _settled(rec, alive, partial(decide, racing, labels, True)):
            log.stopped = f"the {len(alive)} left are practically equivalent after round {number}"
            break
    log.remaining = sorted(alive)
    return log


def solver_names(runs: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """The solver label of each (strategy, params), as the report names it (a grid point is a solver)."""
    from regbench.report.load.columns import solver_labels

    return [str(s) for s in solver_labels(np.array([s for s, _ in runs], dtype=object), [p for _, p in runs])]


def race_lines(source: str | Path, keys: set[str]) -> list[str]:
    """The newest race that covers every run of ``keys``, in words; none when there is none (or no store)."""
    from regbench.store.races import last_race

    try:
        with Store.read_only(source) as store:
            log = last_race(store, keys)
    except StoreError:  # a record file, not a store: no race log
        return []
    return RaceLog.from_dict(log).lines() if log else []
