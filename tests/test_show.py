"""``regbench show RUN``: one run explained; the facts a user needs must be in the output."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.console import Console

import regbench
from regbench.cli import main
from regbench.evaluation.outcomes import MEANINGS, STATUSES
from regbench.evaluation.stops import CATEGORIES
from regbench.record import Level, Segment, Trace
from regbench.report.text.explain import STATUS_EXPLANATIONS, STOP_EXPLANATIONS, print_explanation
from regbench.report.text.explain_metric import reported_vs_dense, reported_vs_last_iteration
from regbench.report.text.explain_reproduce import reproduce_command
from regbench.report.text.one_run import level_table, print_record, rate_cell, summary_lines
from regbench.runner.isolation import Lost, lost_record
from regbench.store.sqlite import Store


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    pm = regbench.make_plugin_manager(entrypoints=False)
    gd = regbench.run_one("gd", "synth2d-affine", seed=0, params={"number_of_iterations": 10}, threads=1, pm=pm)
    lbfgs = regbench.run_one("lbfgs2", "synth2d-translation", seed=1, params={"number_of_iterations": 5}, pm=pm)
    path = tmp_path_factory.mktemp("show") / "runs.sqlite"
    store = Store(path)
    store.add(gd)
    store.add(lbfgs)
    store.close()
    return path, gd, lbfgs


def text_of(record) -> str:
    console = Console(width=200, record=True)
    print_explanation(record, console)
    return console.export_text()


def test_every_stop_category_is_explained():
    assert set(STOP_EXPLANATIONS) == set(CATEGORIES)


def test_every_status_but_ok_is_explained_in_the_vocabulary_s_words():
    assert set(STATUS_EXPLANATIONS) == set(STATUSES) - {"ok"}
    assert all(text.startswith(MEANINGS[status]) for status, text in STATUS_EXPLANATIONS.items())


def test_show_by_key_prefix(runs):
    path, gd, _ = runs
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["show", gd.key[:8], "--store", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert gd.stop_condition in out
    assert "iteration cap hit: Yes" in out and "could have improved" in out  # gd with a 10-iteration cap
    assert "before* the last step" in out  # the reported value lags one step at the cap
    assert "returned transform is the best visited" in out
    assert f"seed {gd.seed}, metric sampling seed {gd.sampling_seed}, 1 ITK thread:" in out
    assert "Per level (first → last iteration)" in out  # the effective learning rate
    assert "regbench run -s gd -c synth2d-affine --seed 0 --threads 1" in out


def test_show_a_json_record_file(runs, tmp_path):
    _, _, lbfgs = runs
    path = tmp_path / "run.json"
    path.write_text(lbfgs.to_json())
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "stop category: converged" in result.output
    assert "Not reported" in result.output  # this optimizer exposes no learning rate


def test_show_errors_are_usage_errors(runs, tmp_path):
    path, _, _ = runs
    runner = CliRunner(env={"COLUMNS": "250"})
    unknown = runner.invoke(main, ["show", "zzzz", "--store", str(path)])
    assert unknown.exit_code == 2 and "no run with a key starting with 'zzzz'" in unknown.output
    ambiguous = runner.invoke(main, ["show", "", "--store", str(path)])
    assert ambiguous.exit_code == 2 and "matches several runs" in ambiguous.output
    missing = runner.invoke(main, ["show", "abc", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "none.sqlite" in missing.output


def record_with(last_level: Level, stop_category: str, final: float, dense: float, trace_metrics, **fields):
    n = len(trace_metrics)
    trace = Trace(
        segment=[0] * n,
        level=[last_level.index] * n,
        iteration=list(range(n)),
        metric=list(trace_metrics),
        learning_rate=[0.0] * n,
        convergence=[0.0] * n,
    )
    segment = Segment(index=0, levels=[last_level], stop_category=stop_category, final_metric=final)
    return regbench.RunRecord(
        strategy="s",
        case="c",
        seed=3,
        segments=[segment],
        trace=trace,
        stop_category=stop_category,
        final_metric=final,
        final_metric_dense=dense,
        **fields,
    )


def test_a_line_search_failure_reports_a_rejected_trial_value():
    level = Level(index=0, iterations=3, shrink_factor=1, smoothing_sigma=0.0)
    record = record_with(
        level,
        "line_search",
        20.84745,
        20.848,
        [30.0, 25.0, 20.9],
        rounding_failure=True,
        stop_condition="A rounding error occurred or line-search steps have an insufficient reduction",
    )
    assert "rejected trial point" in reported_vs_last_iteration(record)
    assert "belongs to another position" in reported_vs_dense(record)
    text = text_of(record)
    assert "rounding failure: yes" in text and "usually a successful stop" in text


def test_a_sampled_shrunk_last_level_explains_the_dense_difference():
    level = Level(index=2, iterations=4, shrink_factor=2, smoothing_sigma=1.0, sampling_percentage=0.1)
    record = record_with(level, "converged", 0.103, 0.405, [0.2, 0.15, 0.11, 0.104])
    text = reported_vs_dense(record)
    assert "shrunk ×2" in text and "smoothed (σ = 1)" in text and "sampled (10% of the points)" in text
    assert "extra" not in text
    assert "evaluates the returned position once more" in reported_vs_last_iteration(record)


def test_no_overlap_and_diverged_are_explained():
    level = Level(index=0, iterations=2, shrink_factor=1, smoothing_sigma=0.0)
    record = record_with(level, "converged", 1.7976931348623157e308, None, [5.0, 9.0], outcome="no_overlap")
    text = text_of(record)
    assert "no-valid-points value" in text and "outcome: no_overlap" in text


def test_no_learning_rate_shows_a_dash_not_zero_to_zero(runs):
    _, gd, lbfgs = runs
    console = Console(width=200, record=True)
    console.print(level_table(lbfgs))
    rate_column = [line.split("│")[-2].strip() for line in console.export_text().splitlines() if line.count("│") > 5]
    assert rate_column and set(rate_column) == {"–"}  # lbfgs2 reports no learning rate
    console.print(level_table(gd))
    assert "→" in console.export_text()  # gd does
    assert rate_cell(0.0, 0.0) == "–" and rate_cell(None, None) == "–"
    assert rate_cell(2.0, 0.5) == "2 → 0.5" and rate_cell(0.0, 1.0) == "0 → 1"


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("timeout", "run exceeded the timeout of 5 s; its worker was killed", "took longer than its time limit"),
        ("crashed", "worker died with signal SIGSEGV", "the worker process died"),
        ("memory", "the worker used more than 100 MB", "more memory than its limit"),
    ],
)
def test_a_lost_run_explains_its_status_instead_of_a_stop(status, error, expected):
    template = regbench.RunRecord(strategy="gd", case="c", seed=1, key="k", threads=1)
    record = lost_record(template, Lost(status, error, 5.0, "last words"))
    text = " ".join(text_of(record).split())
    assert expected in text and f"({error})" in text
    assert "stop category" not in text and "not one regbench knows" not in text
    assert "iteration cap" not in text and "every level stopped" not in text
    assert "first metric" not in text and "┃" not in text  # no empty per-level table
    assert "command: regbench run -s gd -c c --seed 1" in text and "note: worker log (tail): last words" in text


def provenance(plugin, distribution=None):
    return {"plugin": plugin, "distribution": distribution, "version": "1" if distribution else None}


def test_the_command_names_plugin_modules_and_user_case_files():
    builtin = regbench.RunRecord(
        strategy="gd",
        case="synth2d-affine",
        seed=0,
        provenance={
            "strategy": provenance("regbench_plugins.gradient_descent", "regbench"),
            "case": provenance("regbench_plugins.synthetic_cases", "regbench"),
        },
    )
    assert reproduce_command(builtin) == ("regbench run -s gd -c synth2d-affine --seed 0", [])
    # a strategy from a --plugin module (no distribution) on a case from a TOML file (no plugin)
    user = regbench.RunRecord(
        strategy="myopt",
        case="mine",
        seed=2,
        threads=1,
        provenance={"strategy": provenance("my_plugins.opt"), "case": None},
    )
    command, needs = reproduce_command(user)
    assert command == "regbench run -s myopt -c mine --seed 2 --plugin my_plugins.opt --cases FILE --threads 1"
    (need,) = needs
    assert "FILE: the TOML case file that defines case 'mine'" in need
    # an installed plugin (an entry point with a distribution) needs no --plugin
    installed = regbench.RunRecord(
        strategy="x", case="mine", seed=0, provenance={"strategy": provenance("regbench_x", "regbench-x")}
    )
    assert reproduce_command(installed) == ("regbench run -s x -c mine --seed 0", [])
    text = text_of(user)
    assert "--plugin my_plugins.opt --cases FILE" in text and "needs FILE: the TOML case file" in text


def test_show_prints_the_landmark_tre():
    level = Level(index=0, iterations=2, shrink_factor=1, smoothing_sigma=0.0)
    measures = {"tre_mean": 0.125, "tre_p95": 0.25, "tre_max": 0.5, "initial_tre_mean": 3.5, "landmarks": 4}
    record = record_with(level, "converged", 0.1, 0.1, [0.3, 0.1], measures=measures)
    assert "landmark TRE, mean: 3.5 → 0.125 (p95 0.25, max 0.5; 4 landmarks" in text_of(record)
    lines = dict(summary_lines(record))
    assert lines["landmark TRE, mean (initial → final)"] == "3.5 → 0.125"
    assert lines["landmark TRE, p95 / max"] == "0.25 / 0.5"


def test_show_piped_keeps_long_lines(runs):
    path, gd, _ = runs
    result = CliRunner(env={"COLUMNS": None}).invoke(main, ["show", gd.key, "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) > 100  # not folded to rich's default 80


def test_values_that_differ_beyond_five_digits_are_shown_different():
    from regbench.report.text.explain_metric import distinct

    assert distinct(-1.19912345, -1.19914) == ("-1.19912", "-1.19914")  # 5 digits would print -1.1991 twice
    assert distinct(-1.1991234512, -1.1991234599) == ("-1.19912345", "-1.19912346")
    assert distinct(2.0, 3.0) == ("2", "3")


def test_show_claims_reproducibility_only_where_it_holds():
    """Held out: a 2-thread Mattes run (errors 6.5 … 24.8 px over 11 executions) was shown as reproducible."""
    pm = regbench.make_plugin_manager(entrypoints=False)
    params = {"number_of_iterations": 5}
    two = regbench.run_one("lbfgs2", "synth2d-rigid-mi", seed=0, params=params, threads=2, pm=pm)
    assert two.deterministic is False and "nondeterministic" in two.flags
    text = text_of(two)
    assert "same threads and same software versions give the same record" not in text
    assert "NOT reproducible bit for bit" in text and "--repeat" in text
    one = regbench.run_one("lbfgs2", "synth2d-rigid-mi", seed=0, params=params, pm=pm)
    assert one.threads == 1 and one.deterministic is True
    assert "give the same record" in text_of(one)


def test_show_explains_overlap_folding_flags_and_rejected_executions():
    level = Level(index=0, iterations=2, shrink_factor=1, smoothing_sigma=0.0)
    record = record_with(level, "max_iterations", 0.5, 0.4, [5.0, 0.5], outcome="folded")
    record.folding_fraction, record.jacobian_min = 0.26, -0.8
    record.overlap_fraction, record.initial_overlap_fraction = 0.9, 1.0
    record.flags = ["worse_than_start", "folded", "folding"]
    record.segments.append(Segment(index=1, levels=[Level(index=0, iterations=3)], rejected=True))
    text = text_of(record)
    assert "outcome: folded (failed)" in text
    assert "26.0% of voxels have a Jacobian determinant ≤ 0" in text
    assert "also: worse_than_start" in text
    assert "100.0% at the start → 90.0%" in text
    assert "1 rejected" in text


class _ZeroIterations(regbench.SingleRunStrategy):
    """gradient descent with a cap of 0"""

    def configure(self, method, params):
        method.SetOptimizerAsGradientDescent(1.0, 0)


def test_show_does_not_call_the_never_evaluated_metric_a_value():
    pm = regbench.make_plugin_manager(entrypoints=False)
    record = regbench.run_one(_ZeroIterations("zero-iterations"), "synth2d-translation", threads=1, pm=pm)
    assert record.status == "ok" and record.iterations == 0
    assert record.final_metric is None  # SimpleITK's 0.0 is "never evaluated", not a perfect value
    assert any("never evaluated the metric" in n for n in record.notes)
    text = " ".join(text_of(record).split())
    assert "No final metric: the last level ran no iteration, so SimpleITK never evaluated the metric" in text
    assert "differs from the dense value" not in text and "still moving" not in text
    assert dict(summary_lines(record))["final metric (reported)"] == "not evaluated (the last level ran no iteration)"


def test_show_at_80_columns_keeps_every_number_whole(runs):
    _, gd, _ = runs
    console = Console(width=80, record=True)
    print_explanation(gd, console)
    text = console.export_text()
    table = text.split("Why it stopped")[0]
    assert "…" not in table
    first = gd.segments[0].levels[0]
    assert f"{first.first_metric:.5g}" in table  # the first metric of level 0, whole on one line
    assert "not shown at 80 columns" in table  # what did not fit is named, not cut


def test_show_cuts_a_huge_note_error_and_stop_text_and_says_how_to_get_all(tmp_path):
    # a plugin stored megabytes: show printed every character (minutes in a terminal)
    big = regbench.RunRecord(strategy="gd", case="c", seed=1, key="k1", status="error", error="E" * 100_000)
    big.notes.append("x" * 1_000_000)
    path = tmp_path / "big.json"
    path.write_text(big.to_json())
    result = CliRunner(env={"COLUMNS": "100"}).invoke(main, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert len(result.output) < 20_000
    assert (
        "998,0" in result.output and "more characters cut; `regbench show k1 --json` prints all of it" in result.output
    )
    whole = CliRunner().invoke(main, ["show", str(path), "--json"])
    assert "x" * 1_000_000 in whole.output
    executed = record_with(Level(index=0, iterations=1, shrink_factor=1, smoothing_sigma=0.0), "unknown", 1, 1, [1])
    executed.stop_condition = "S" * 50_000
    assert "48,0" in text_of(executed) and "S" * 50_000 not in text_of(executed)
    console = Console(width=200, record=True)
    print_record(big, console)  # what `regbench run` prints after a single run
    printed = console.export_text()
    assert len(printed) < 20_000 and "`regbench show k1 --json` prints all of it" in printed


def _raise_deep(key: str) -> None:
    {"present": 1}[key]


class RaisesInAHelper(regbench.SingleRunStrategy):
    """raises a KeyError two frames into the plugin's code"""

    def configure(self, method, params):
        _raise_deep("absent")


def test_show_prints_the_traceback_of_an_error_run(tmp_path):
    """A plugin author needs where the run raised; show and the single-run summary hid the stored traceback."""
    pm = regbench.make_plugin_manager(entrypoints=False)
    record = regbench.run_one(RaisesInAHelper("raises-in-a-helper"), "synth2d-translation", threads=1, pm=pm)
    assert record.status == "error"
    console = Console(width=200, record=True)
    print_record(record, console)  # what `regbench run` prints after a single run
    for text in (text_of(record), console.export_text()):
        assert "Traceback (most recent call last):" in text
        assert 'in _raise_deep\n    {"present": 1}[key]' in text and "KeyError: 'absent'" in text
    # a long one: its last lines, the innermost frames, and how to get all of it
    record.notes = [
        n if not n.startswith("traceback: ") else n + "\n" + "\n".join(map(str, range(100))) for n in record.notes
    ]
    text = text_of(record)
    assert "99" in text.splitlines()[-1] and "\n70\n" in text and "\n69\n" not in text
    assert "earlier lines cut; `regbench show" in text and "--json` prints all of it" in text
