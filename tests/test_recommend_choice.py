"""The recommendation chooses: one strategy by a documented rule, equivalence only from enough instances, never a
best from fewer instances, never a strategy that made no progress."""

from __future__ import annotations

import numpy as np

from regbench.evaluation.tolerance import NO_PROGRESS_SHARE
from regbench.report.decide.answer import CHOICE_RULE, MIN_EQUIVALENCE_INSTANCES
from regbench.report.decide.recommend import recommend
from regbench.report.load.columns import from_dicts

TOL = {"c": (0.5, "test")}


def rows(per_strategy: dict[str, list[float]], start: float = 8.0, **extra) -> list[dict]:
    out = []
    for strategy, errors in per_strategy.items():
        for seed, e in enumerate(errors):
            out.append(
                {
                    "key": f"{strategy}-{seed}",
                    "strategy": strategy,
                    "case": "c",
                    "seed": seed,
                    "instance": f"c-{seed}",
                    "status": "ok",
                    "outcome": extra.get(f"outcome_{strategy}", {}).get(seed, "converged"),
                    "error_mean": e,
                    "initial_error_mean": start,
                    "wall_time_s": extra.get(f"time_{strategy}", 1.0),
                }
            )
    return out


def test_among_equivalent_strategies_the_lowest_failure_rate_then_the_shortest_time_is_chosen():
    n = MIN_EQUIVALENCE_INSTANCES + 2
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.2, n)
    runs = from_dicts(
        rows(
            {
                "accurate-slow": list(base),  # the lowest error, and slow
                "fast": list(base + 0.01),
                "faster-but-fails": list(base + 0.02),
            },
            **{"time_accurate-slow": 10.0, "time_fast": 2.0, "time_faster-but-fails": 1.0},
            **{"outcome_faster-but-fails": {0: "diverged"}},
        )
    )
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.best == "accurate-slow"
    assert set(rec.recommended) == {"accurate-slow", "fast"}  # fails more often than the best: not equivalent
    assert rec.chosen == "fast"
    assert CHOICE_RULE in rec.why_chosen
    assert rec.verdict[0].startswith("c: use fast (")
    text = " ".join(rec.verdict)
    assert "Practically equivalent (within the tolerance) (the lowest median error: accurate-slow)" in text
    assert "accurate-slow vs fast: " in text


def test_a_tie_in_failure_rate_goes_to_the_shorter_time():
    n = MIN_EQUIVALENCE_INSTANCES
    runs = from_dicts(rows({"a": [0.1] * n, "b": [0.1] * n}, **{"time_a": 3.0, "time_b": 2.0}))
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.chosen == "b"


def test_equivalence_is_withheld_below_the_minimum_number_of_instances():
    n = MIN_EQUIVALENCE_INSTANCES - 1
    runs = from_dicts(rows({"a": [0.10] * n, "b": [0.12] * n}, **{"time_b": 0.1}))
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.chosen == "a"  # the lowest error: b is faster, but not called equivalent
    text = " ".join(rec.verdict)
    assert "to call them equivalent" in text and "practically the same" not in text
    assert "Practically equivalent" not in text


def test_a_strategy_with_fewer_instances_is_never_the_best():
    runs = from_dicts(rows({"everywhere": [0.3] * 8, "once": [0.01]}))
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.best == "everywhere" and rec.chosen == "everywhere"
    assert rec.candidate("once").why_not == "ran 1 of the 8 instances the others ran"
    assert "once" not in rec.recommended


def test_a_strategy_that_barely_moved_from_the_start_is_never_recommended():
    # the start is 8 px; "stuck" removes 1% of it; with a tolerance of 10 px it would otherwise be "within" it
    runs = from_dicts(rows({"moves": [0.2] * 6, "stuck": [7.92] * 6}))
    rec = recommend(runs, tolerances={"c": (10.0, "huge")}, demonstrated={})
    assert rec.chosen == "moves"
    stuck = rec.candidate("stuck")
    assert not stuck.recommended and stuck.why_not.startswith("no progress")
    assert np.isclose(stuck.progress, 0.01) and stuck.progress < NO_PROGRESS_SHARE


def test_the_main_job_ends_with_the_answer_and_the_next_commands(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from regbench.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"COLUMNS": "100"}).invoke(
        main, ["run", "-s", "gd,rsgd", "-c", "synth2d-translation", "--seeds", "2", "--store", "s.sqlite"]
    )
    assert result.exit_code == 0, result.output
    tail = result.output.strip().splitlines()
    stored = next(i for i, line in enumerate(tail) if "stored in s.sqlite" in line)
    answer = " ".join(" ".join(tail[stored + 1 :]).split())  # lines rich wrapped, joined again
    assert len(tail) - stored - 1 <= 5
    assert "synth2d-translation: use " in answer and "decided by the error against the known truth" in answer
    assert "regbench recommend --store s.sqlite" in answer and "regbench report --store s.sqlite --html" in answer


def test_a_strategy_that_did_not_register_is_never_the_one_to_use():
    # every strategy stopped ~7 px from the truth (converged), the tolerance is 0.5 px
    runs = from_dicts(rows({"converged-far": [7.0] * 6, "worse": [7.4] * 6}, start=9.0))
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.registered is False
    assert rec.verdict[0].startswith("c: no strategy registered (none ended within the tolerance); the closest is")
    assert "use converged-far" not in " ".join(rec.verdict)
