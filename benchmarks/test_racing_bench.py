"""Racing against the full matrix: ``pytest benchmarks/test_racing_bench.py -s``.

Over 10 race seeds, how often the raced recommendation (``regbench run --race``) names the strategy the full
matrix's recommendation names, and the share of the full matrix's ``Execute`` time (its runs' segments' wall
time) the race used. Target: equal on ≥ 9 of 10 race seeds at ≤ 40% of the time.

Runs are deterministic per key (1 ITK thread: the same key gives the same record), so the full matrix runs once
into a store (through the local runner, as ``regbench run`` does; a store that holds it already is reused) and
each race is replayed from it: a race seed permutes, per case, the order in which its seeds are revealed (round
*i* is each case's *i*-th seed in that order), the replayed race reads the stored record of each run it would
make, and adds its segments' wall time. The race itself is :func:`regbench.report.decide.race.race`, with the
decision ``regbench run --race`` uses; the raced answer is the recommendation over the runs the race made (what
``regbench recommend`` says of its store), the full answer the recommendation over every run of the matrix, both
over all cases.

The issue's measure is the default suite and the BrainWeb cases with 10 seeds; the full matrix of that takes
hours on 2 cores (synth2d-bspline alone is about 11 minutes a seed), so choose what runs with
``REGBENCH_RACE_CASES`` (comma-separated globs; default: :data:`CASES`), ``REGBENCH_RACE_SEEDS`` (default 10)
and ``REGBENCH_RACE_STORE`` (a store to fill or reuse; default: a temporary one). With ``CI`` set, a smoke
run: :data:`SMOKE_CASES` with 4 seeds. It prints what it measured.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from regbench.record import RunRecord
from regbench.report.decide.race import RaceLog, default_decide, race, solver_names
from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

#: The default suite but synth2d-bspline (about 11 minutes a seed on one core), and the BrainWeb cases
CASES = (
    "synth2d-translation,synth2d-rigid,synth2d-affine,synth2d-rigid-mi,synth2d-affine-mi,synth2d-translation-far,"
    "synth3d-affine,brainweb-pd-shift,brainweb-t1-pd,brainweb-pd-rigid,brainweb-pd-similarity"
)
SMOKE_CASES = "synth2d-translation,synth2d-rigid"
RACE_SEEDS = 10
TARGET_EQUAL, TARGET_SHARE = 9, 0.40


def execute_s(record: RunRecord) -> float:
    return sum(s.wall_time_s for s in record.segments)


def replay(records: Sequence[RunRecord], labels: dict[str, str], race_seed: int) -> tuple[list[RunRecord], RaceLog]:
    """The race of ``race_seed`` replayed on the stored ``records``: (the records it made, its log)."""
    rng = np.random.default_rng(race_seed)
    by_cell: dict[tuple[str, int], list[str]] = {}
    for r in records:
        by_cell.setdefault((r.case, r.seed), []).append(str(r.key))
    seeds = sorted({r.seed for r in records})
    order = {case: rng.permutation(seeds) for case in sorted({r.case for r in records})}
    rounds = [[k for case in order for k in by_cell.get((case, int(order[case][i])), [])] for i in range(len(seeds))]
    by_key = {str(r.key): r for r in records}
    made: list[RunRecord] = []

    def run(keys: list[str]) -> list[RunRecord]:
        made.extend(by_key[k] for k in keys)
        return [by_key[k] for k in keys]

    log = race(rounds, labels.__getitem__, run, lambda r: labels[str(r.key)], default_decide())
    return made, log


def test_a_race_recommends_what_the_full_matrix_does_in_a_fraction_of_its_time(tmp_path, capsys):
    smoke = bool(os.environ.get("CI"))
    cases = os.environ.get("REGBENCH_RACE_CASES") or (SMOKE_CASES if smoke else CASES)
    seeds = int(os.environ.get("REGBENCH_RACE_SEEDS") or (4 if smoke else 10))
    store = os.environ.get("REGBENCH_RACE_STORE") or tmp_path / "full.sqlite"
    records = run_matrix(Matrix(cases=cases.split(","), seeds=range(seeds)), store)
    labels = dict(
        zip(
            (str(r.key) for r in records),
            solver_names([(r.strategy, r.params) for r in records]),
            strict=True,
        )
    )
    decide = default_decide()
    full = decide(records, [labels[str(r.key)] for r in records], False)
    assert full is not None
    total = sum(execute_s(r) for r in records)
    equal, shares = 0, []
    with capsys.disabled():
        print(
            f"\n[regbench racing] {len(records)} runs ({len(set(labels.values()))} strategies, {cases.count(',') + 1} "
            f"cases, {seeds} seeds), Execute {total:.0f} s; full answer: {full.chosen}; load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        for race_seed in range(RACE_SEEDS):
            made, log = replay(records, labels, race_seed)
            raced = decide(made, [labels[str(r.key)] for r in made], False)
            same = raced is not None and raced.chosen == full.chosen
            equal += same
            shares.append(sum(execute_s(r) for r in made) / total)
            print(
                f"[regbench racing] race seed {race_seed}: {log.rounds_run} rounds, {len(log.drops)} dropped, "
                f"{len(log.remaining)} left; answer {raced.chosen if raced else None} "
                f"({'equal' if same else 'DIFFERENT'}); Execute {shares[-1]:.1%} of the full matrix's"
            )
        print(
            f"[regbench racing] equal on {equal} of {RACE_SEEDS} race seeds (target ≥ {TARGET_EQUAL}), Execute "
            f"{np.mean(shares):.1%} of the full matrix's on average, at most {max(shares):.1%} (target ≤ "
            f"{TARGET_SHARE:.0%}); load average {os.getloadavg()[0]:.2f}"
        )
    if not smoke:
        assert equal >= TARGET_EQUAL and max(shares) <= TARGET_SHARE
