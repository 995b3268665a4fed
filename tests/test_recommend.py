"""The recommendation: best within a tolerance, paired statistics, demonstrations never recommended."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from run_summaries import summary_row

from regbench.cli import main
from regbench.evaluation.tolerance import registration_tolerance
from regbench.report.decide.inputs import case_tolerances
from regbench.report.decide.per_case import recommend_all
from regbench.report.decide.recommend import recommend
from regbench.report.load.columns import from_dicts
from regbench.report.text.recommend_tables import recommendation_table

TOL = {"c1": (0.5, "test"), "c2": (0.1, "test")}


def rows(errors: dict[str, list[float]], case="c1", outcome="converged", time=1.0, **extra):
    return [
        summary_row(
            strategy,
            case,
            seed,
            outcome=extra.get(f"outcome_{strategy}", outcome),
            error_mean=e,
            wall_time_s=extra.get(f"time_{strategy}", time),
            folding_fraction=extra.get(f"fold_{strategy}"),
        )
        for strategy, values in errors.items()
        for seed, e in enumerate(values)
    ]


def test_two_indistinguishable_strategies_are_both_recommended_and_said_to_be():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.4, 12)
    runs = from_dicts(
        rows(
            {
                "a": list(base + rng.normal(0, 0.005, 12)),
                "b": list(base + rng.normal(0, 0.005, 12)),
                "slow-bad": list(base + 3.0),
                "gd-once": list(base - 0.1),  # a demonstration: best error, never recommended
            }
        )
    )
    rec = recommend(runs, tolerances=TOL, demonstrated={"gd-once": "a failure"})
    assert set(rec.recommended) == {"a", "b"}
    assert rec.best in {"a", "b"}
    assert "gd-once" not in rec.recommended
    assert not rec.candidate("gd-once").eligible
    assert not rec.candidate("slow-bad").within_tolerance
    text = " ".join(rec.verdict)
    assert "statistically indistinguishable" in text
    assert "practically the same" in text
    assert "never recommended" in text and "gd-once" in text
    other = "b" if rec.best == "a" else "a"
    assert rec.bayes[other][1] > 0.95
    assert rec.pvalues[("a", "b")] >= 0.05
    # a and b in one critical-difference group, slow-bad in none with them
    assert any({"a", "b"} <= set(g) and "slow-bad" not in g for g in rec.groups)
    # the win matrix counts wins by more than the tolerance: a never beats b by 0.5, always beats slow-bad
    solvers = sorted(c.solver for c in rec.candidates)
    ia, ib, ibad = solvers.index("a"), solvers.index("b"), solvers.index("slow-bad")
    assert rec.wins[ia, ib] == 0 and rec.wins[ia, ibad] == 12


def test_a_clear_winner_and_failures_and_folding():
    base = np.linspace(0.1, 0.3, 10)
    runs = from_dicts(
        rows(
            {"good": list(base), "worse": list(base + 2), "folds": list(base), "fails": list(base)},
            outcome_fails="diverged",
            fold_folds=0.05,
        )
    )
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    assert rec.recommended == ["good"]
    assert rec.candidate("folds").why_not == "folds"
    assert rec.candidate("fails").failure_rate == 1.0
    assert rec.verdict[0].startswith("c1: use good")
    assert rec.pvalues[("good", "worse")] < 0.05


def test_over_a_case_set_errors_are_in_tolerances():
    base = np.linspace(0.0, 0.05, 8)
    data = rows({"a": list(base), "b": list(base + 0.3)}, case="c1") + rows(
        {"a": list(base), "b": list(base + 0.3)}, case="c2"
    )
    runs = from_dicts(data)
    per = {
        r.scope: r for r in [recommend(runs.subset(runs["case"] == c), tolerances=TOL, demonstrated={}) for c in TOL]
    }
    assert set(per["c1"].recommended) == {"a", "b"}  # 0.3 < 0.5
    assert per["c2"].recommended == ["a"]  # 0.3 > 0.1
    both = recommend(runs, tolerances=TOL, demonstrated={}, scope="all cases")
    assert both.unit == "tolerances" and both.best == "a"


def test_default_tolerance_is_half_the_smallest_spacing():
    assert registration_tolerance((1.0, 0.5, 2.0), None)[0] == 0.25
    tol = case_tolerances(["synth2d-bspline", "no-such-case"])
    assert tol["synth2d-bspline"][0] > 0
    assert "default" in tol["no-such-case"][1]
    assert case_tolerances(["x"], 0.3)["x"] == (0.3, "--tolerance")


def test_table_fits_80_columns_without_splitting_numbers():
    from rich.console import Console

    base = np.linspace(0.1, 0.3, 8)
    runs = from_dicts(
        rows({"a-very-long-strategy-name-with-parameters[x=1,y=2]": list(base), "b": list(base + 0.01234567)})
    )
    rec = recommend(runs, tolerances=TOL, demonstrated={})
    console = Console(width=80, record=True, force_terminal=False)
    console.print(recommendation_table(rec))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for c in rec.candidates:
        assert f"{c.median_error:.3g}" in text


def test_demonstrations_come_from_the_registered_strategies():
    from regbench.report.decide.inputs import demonstrations

    demos = demonstrations()
    assert {"gd-once", "gd-each-iteration", "lbfgsb-one-execution"} <= set(demos)
    assert "gd" not in demos and "lbfgsb" not in demos


def test_recommend_command_json(tmp_path):
    import json

    path = tmp_path / "runs.json"
    base = np.linspace(0.1, 0.3, 8)
    path.write_text(json.dumps(rows({"a": list(base), "b": list(base + 5)})))
    result = CliRunner().invoke(main, ["recommend", "--store", str(path), "--tolerance", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data[0]["recommended"] == ["a"]
    result = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["recommend", "--store", str(path), "-s", "b"])
    assert result.exit_code == 0, result.output
    # b alone ends 5 from the truth with a tolerance of 0.5: the closest, never "use b"
    text = " ".join(result.output.split())
    assert "no strategy registered" in text and "the closest is b" in text and "use b" not in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "strategies", "seeds"),
    [
        ("brainweb-pd-shift", ("lbfgsb", "lbfgs2", "rsgd", "gd-once"), (0, 1, 2)),
        ("synth2d-bspline", ("lbfgsb", "lbfgs2", "gd-once"), (0, 1)),
    ],
)
def test_real_cases_recommend_strategies_within_tolerance_of_the_best(pm, case, strategies, seeds):
    import regbench
    from regbench.report.load.columns import from_records

    brainweb = pytest.importorskip("regbench_plugins.brainweb_cases")
    if case.startswith("brainweb") and not all(
        (brainweb.data_dir() / f).is_file() for c in brainweb.CASES for f in (c.fixed, c.moving)
    ):
        pytest.skip("ITK example images missing")
    records = [regbench.run_one(s, case, seed=seed, threads=1, pm=pm) for s in strategies for seed in seeds]
    runs = from_records(records)
    (rec,) = recommend_all(runs)
    spacing = pm.get_case(case).load().fixed.GetSpacing()
    assert rec.tolerance == pytest.approx(0.5 * min(spacing))
    assert rec.recommended and rec.best in rec.recommended
    assert "gd-once" not in rec.recommended and not rec.candidate("gd-once").eligible
    best = rec.candidate(rec.best).median_error
    for name in rec.recommended:
        assert rec.candidate(name).median_error <= best + rec.tolerance
    for c in rec.candidates:
        if c.eligible and c.failure_rate == 0 and c.median_error <= best + rec.tolerance:
            assert c.recommended or c.why_not
    assert any("never recommended" in line and "gd-once" in line for line in rec.verdict)
