"""Racing (regbench run --race): which strategies a race drops after which round and why, on hand-made records,
and what the store and the recommendation say of it."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RunRecord
from regbench.report.decide.answer import MIN_EQUIVALENCE_INSTANCES
from regbench.report.decide.race import FAILURE_MARGIN, RaceLog, default_decide, race
from regbench.report.stats.pairs import MIN_PAIRS
from regbench.store.races import add_race, last_race, races
from regbench.store.sqlite import Store

CASE = "mine"
SEEDS = 10


def record(strategy: str, seed: int, error: float, outcome: str = "converged") -> RunRecord:
    r = RunRecord(strategy, CASE, seed, key=f"{strategy}-{seed}", outcome=outcome)
    r.instance = f"{CASE}-{seed}"
    r.error_mean = error if outcome == "converged" else None
    r.initial_error_mean = 10.0
    r.wall_time_s = 1.0
    return r


def matrix(errors: dict[str, list[float]], failing: dict[str, set[int]] | None = None) -> dict[str, RunRecord]:
    """Every run of the matrix by key: strategy → its error per seed; ``failing``: the seeds where it failed."""
    out = {}
    for strategy, values in errors.items():
        for seed, error in enumerate(values):
            bad = seed in (failing or {}).get(strategy, set())
            r = record(strategy, seed, error, "diverged" if bad else "converged")
            out[r.key] = r
    return out


def run_race(stored: dict[str, RunRecord], alpha: float = 0.05) -> tuple[RaceLog, list[str]]:
    """Race the matrix of ``stored`` by seed; (the log, the keys of the runs it made)."""
    strategies = sorted({r.strategy for r in stored.values()})
    rounds = [[f"{s}-{seed}" for s in strategies] for seed in range(SEEDS)]
    made: list[str] = []

    def run(keys: list[str]) -> list[RunRecord]:
        made.extend(keys)
        return [stored[k] for k in keys]

    log = race(rounds, lambda k: k.rsplit("-", 1)[0], run, lambda r: r.strategy, default_decide(0.5), alpha=alpha)
    return log, made


rng = np.random.default_rng(0)
NOISE = list(rng.uniform(0.0, 0.1, SEEDS))


def test_a_clearly_worse_strategy_is_dropped_once_the_test_can_say_so_and_not_before():
    stored = matrix({"lbfgs2": NOISE, "gd": [e + 2.0 for e in NOISE], "rsgd": [e + 0.01 for e in NOISE[::-1]]})
    log, made = run_race(stored)
    (drop,) = [d for d in log.drops if d.solver == "gd"]
    first = first_significant(3)  # dropped on the first round its test can say so, not before
    assert first == 7 and drop.round == first
    assert "worse than lbfgs2" in drop.reason and "Wilcoxon" in drop.reason
    assert sum(k.startswith("gd-") for k in made) == first
    assert "rsgd" in log.remaining and "lbfgs2" in log.remaining


def test_a_strategy_significantly_worse_but_within_the_tolerance_stays():
    stored = matrix({"lbfgs2": NOISE, "gd": [e + 0.2 for e in NOISE]})  # worse on every instance, by < 0.5
    log, made = run_race(stored)
    assert log.drops == [] and len(made) == 2 * log.rounds_run


def test_a_recommended_strategy_slower_than_the_answer_is_dropped_but_never_the_best():
    stored = matrix({"lbfgs2": NOISE, "gd": [e + 0.1 for e in NOISE], "rsgd": [e + 0.2 for e in NOISE]})
    for r in stored.values():
        r.wall_time_s = {"lbfgs2": 3.0, "gd": 1.0, "rsgd": 2.0}[r.strategy] + 0.01 * r.seed
    log, _ = run_race(stored)
    (drop,) = log.drops
    # equal differences: the normal approximation, already significant on the first round a test runs
    assert drop.solver == "rsgd" and drop.reason.startswith("slower than gd") and drop.round == MIN_PAIRS
    assert log.remaining == ["gd", "lbfgs2"]  # lbfgs2, the best, is slower than gd but stays


def first_significant(pairs: int) -> int:
    """The first round where one solver worse on every instance is significant: the exact signed-rank p on n
    instances is 2 / 2**n, Holm-adjusted over the pairs; no test below MIN_PAIRS instances."""
    return next(n for n in range(MIN_PAIRS, SEEDS) if pairs * 2 / 2**n < 0.05)


def test_a_demonstration_is_dropped_after_its_first_instance():
    stored = matrix({"lbfgs2": NOISE, "gd-once": [e + 5 for e in NOISE], "rsgd": NOISE[::-1]})
    log, made = run_race(stored)
    (drop,) = [d for d in log.drops if d.solver == "gd-once"]
    assert drop.round == 1 and "demonstration" in drop.reason
    assert [k for k in made if k.startswith("gd-once")] == ["gd-once-0"]


def test_equivalent_strategies_are_kept_to_the_end_or_until_settled():
    stored = matrix({"lbfgs2": NOISE, "rsgd": [e + 0.001 for e in NOISE[::-1]], "cg": list(np.roll(NOISE, 3))})
    log, _ = run_race(stored)
    assert log.drops == []
    assert log.remaining == ["cg", "lbfgs2", "rsgd"]
    # within a hundredth of the tolerance of each other: practically equivalent once that can be claimed
    assert log.stopped == f"the 3 left are practically equivalent after round {MIN_EQUIVALENCE_INSTANCES}"


def test_a_strategy_that_fails_more_often_is_dropped_by_the_margin():
    stored = matrix({"lbfgs2": NOISE, "gd": NOISE[::-1]}, failing={"gd": {0, 1, 2}})
    log, _ = run_race(stored)
    (drop,) = log.drops
    assert drop.solver == "gd" and drop.round == FAILURE_MARGIN and "failed 3 more runs" in drop.reason
    assert log.stopped == f"one strategy left after round {FAILURE_MARGIN}"


def test_the_store_keeps_the_race_and_the_recommendation_says_it_was_raced(tmp_path):
    stored = matrix({"lbfgs2": NOISE, "gd": [e + 2.0 for e in NOISE], "gd-once": [e + 5 for e in NOISE]})
    log, made = run_race(stored)
    path = tmp_path / "raced.sqlite"
    with Store(path) as store:
        assert races(store) == []  # a store that never raced has no log (and no table)
        for key in made:
            store.add(stored[key])
        add_race(store, log.to_dict(), made)
        (saved, keys) = races(store)[0]
        assert RaceLog.from_dict(saved) == log and keys == set(made)
        assert last_race(store, set(made)) == saved
        assert last_race(store, set(stored)) is None  # a full matrix stored later is not a raced answer
        json.dumps(saved)
    result = CliRunner().invoke(main, ["recommend", "--store", str(path), "--tolerance", "0.5"])
    assert result.exit_code == 0, result.output
    assert f"raced: {log.rounds_run} of {SEEDS} rounds" in result.output
    assert "dropped gd-once after round 1: a demonstration" in result.output
    assert "dropped gd after round 6: worse than lbfgs2" in result.output  # one pair left: 2/2**6 < 0.05


def test_the_run_file_races_and_a_bad_level_is_refused(tmp_path):
    from regbench.runner.matrix import MatrixError
    from regbench.runner.settings import load_run_file

    path = tmp_path / "run.toml"
    path.write_text("race = true\nrace_alpha = 0.01\n")
    file = load_run_file(path)
    assert file.race is True and file.race_alpha == 0.01
    for bad in ("race = 1", "race_alpha = 1.5"):
        path.write_text(bad + "\n")
        try:
            load_run_file(path)
        except MatrixError as exc:
            assert "run.toml:1" in str(exc)
        else:
            raise AssertionError(bad)


def test_regbench_run_race_runs_a_demonstration_once_and_stops_with_one_strategy_left(tmp_path):
    store = tmp_path / "raced.sqlite"
    args = ["run", "--race", "--in-process", "-s", "lbfgs2,gd-once", "-c", "synth2d-translation", "--seeds", "3"]
    result = CliRunner().invoke(main, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "raced: 1 of 3 rounds" in text and "one strategy left after round 1" in text
    assert "dropped gd-once after round 1: a demonstration" in text
    with Store(store) as opened:
        assert sorted((r.strategy, r.seed) for r in opened.records()) == [("gd-once", 0), ("lbfgs2", 0)]
        assert len(races(opened)) == 1
    # the HTML report says so under its answer too (seen missing in the last look)
    html = CliRunner().invoke(main, ["report", "--store", str(store), "--html", str(tmp_path / "html")])
    assert html.exit_code == 0, html.output
    page = " ".join((tmp_path / "html" / "index.html").read_text().split())
    assert "raced: 1 of 3 rounds" in page and "dropped gd-once after round 1: a demonstration" in page


def test_a_race_level_without_a_race_is_a_usage_error(tmp_path):
    """Seen in the last look: --race-alpha (or race_alpha in a run file) without --race was silently ignored."""
    from click.testing import CliRunner

    from regbench.cli import main

    store = str(tmp_path / "s.sqlite")
    result = CliRunner().invoke(
        main, ["run", "-s", "gd", "-c", "synth2d-translation", "--race-alpha", "0.1", "--store", store, "--dry-run"]
    )
    assert result.exit_code == 2 and "give --race too" in result.output, result.output
    config = tmp_path / "run.toml"
    config.write_text('strategies = ["gd"]\ncases = ["synth2d-translation"]\nrace_alpha = 0.1\n')
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--store", store, "--dry-run"])
    assert result.exit_code == 2 and "race_alpha sets the level of a race" in result.output, result.output
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--race", "--store", store, "--dry-run"])
    assert result.exit_code == 0 and "raced: at most these" in result.output, result.output
