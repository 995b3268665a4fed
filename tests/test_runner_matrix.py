"""The matrix: selection by glob, parameter grids, keys, the run file. No run executes here."""

from __future__ import annotations

import fnmatch
import textwrap

import pytest
import runner_plugin

from regbench.plugin.manager import make_plugin_manager
from regbench.run import new_record
from regbench.runner.matrix import Matrix, MatrixError, ParamEntry, parse_param_option, plan, split_patterns
from regbench.runner.settings import load_run_file


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager(entrypoints=False, plugins=[runner_plugin])


def cli(*texts):
    return [parse_param_option(t) for t in texts]


def test_default_suite_is_every_strategy_times_the_runnable_default_cases(pm):
    runs = plan(Matrix(), pm, threads=1)
    defaults = [n for n, c in pm.cases().items() if c.default and not c.unavailable]
    assert defaults and "test-unavailable" not in defaults
    assert [(r.spec.strategy, r.spec.case, r.spec.seed) for r in runs] == [
        (s, c, 0) for s in pm.strategies() for c in defaults
    ]
    assert all(r.spec.threads == 1 and r.template.key == r.spec.key for r in runs)


def test_glob_patterns_and_seeds(pm):
    runs = plan(Matrix(strategies=["gd*", "lbfgs2"], cases=["synth2d-trans*"], seeds=[3, 7]), pm, threads=2)
    strategies = [n for n in pm.strategies() if fnmatch.fnmatchcase(n, "gd*") or n == "lbfgs2"]
    cases = [n for n in pm.cases() if n.startswith("synth2d-trans")]
    assert len(runs) == len(strategies) * len(cases) * 2
    assert {r.spec.strategy for r in runs} == set(strategies)
    assert {r.spec.seed for r in runs} == {3, 7}


def test_keys_are_the_core_run_keys(pm):
    (run,) = plan(Matrix(strategies=["gd"], cases=["synth2d-translation"], seeds=[4]), pm, threads=3)
    record, _ = new_record(pm.get_strategy("gd"), pm.get_case("synth2d-translation"), 4, None, 3)
    assert run.spec.key == record.key
    assert run.spec.params == record.params


def test_repeats_are_planned_next_to_each_other_and_repeat_0_is_the_plain_key(pm):
    base = {"strategies": ["gd"], "cases": ["synth2d-translation"], "seeds": [0, 1]}
    plain = plan(Matrix(**base), pm, threads=1)
    runs = plan(Matrix(**base, repeats=3), pm, threads=1)
    assert [(r.spec.seed, r.spec.repeat) for r in runs] == [(s, k) for s in (0, 1) for k in range(3)]
    assert [r.spec.key for r in runs if r.spec.repeat == 0] == [r.spec.key for r in plain]
    assert len({r.spec.key for r in runs}) == 6, "every repeat is its own key"
    assert all(r.template.repeat == r.spec.repeat and r.template.key == r.spec.key for r in runs)
    record, _ = new_record(pm.get_strategy("gd"), pm.get_case("synth2d-translation"), 1, None, 1, 2)
    assert runs[-1].spec.key == record.key


@pytest.mark.parametrize("repeats", [0, -1, True, 1.5])
def test_the_matrix_refuses_bad_repeats(pm, repeats):
    with pytest.raises(MatrixError, match=r"repeats must be an integer ≥ 1"):
        plan(Matrix(strategies=["gd"], cases=["synth2d-translation"], repeats=repeats), pm, threads=1)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (Matrix(strategies=["nope*"]), r"no strategy matches 'nope\*'; valid: .*gd"),
        (Matrix(cases=["nope"]), r"no case matches 'nope'; valid: .*synth2d-translation"),
        (Matrix(cases=["test-unavailable"]), r"every matching case is unavailable here.*nobody has"),
    ],
)
def test_bad_selections_name_the_pattern_and_the_choices(pm, matrix, message):
    with pytest.raises(MatrixError, match=message):
        plan(matrix, pm, threads=1)


def test_a_grid_is_a_cartesian_product_per_strategy(pm):
    params = cli("gd.learning_rate=0.5,1,2", "number_of_iterations=5,7", "lbfgs2.solution_accuracy=1e-4")
    runs = plan(Matrix(strategies=["gd", "lbfgs2"], cases=["synth2d-translation"], params=params), pm, 1)
    gd = sorted(
        (r.spec.params["learning_rate"], r.spec.params["number_of_iterations"]) for r in runs if r.spec.strategy == "gd"
    )
    assert gd == sorted((lr, n) for lr in (0.5, 1.0, 2.0) for n in (5, 7))
    lbfgs2 = sorted(
        (r.spec.params["solution_accuracy"], r.spec.params["number_of_iterations"])
        for r in runs
        if r.spec.strategy == "lbfgs2"
    )
    assert lbfgs2 == [(1e-4, 5), (1e-4, 7)]
    # an unqualified name applies to every selected strategy: test-sleep has no number_of_iterations
    with pytest.raises(MatrixError, match=r"unknown parameter 'number_of_iterations'.*valid: seconds"):
        plan(
            Matrix(strategies=["test-sleep"], cases=["synth2d-translation"], params=cli("number_of_iterations=5")),
            pm,
            1,
        )


def test_qualified_parameters_win_and_equal_points_run_once(pm):
    params = cli("learning_rate=4", "gd.learning_rate=1,1.0,2")
    runs = plan(Matrix(strategies=["gd"], cases=["synth2d-translation"], params=params), pm, 1)
    assert sorted(r.spec.params["learning_rate"] for r in runs) == [1.0, 2.0]


def test_a_sequence_parameter_is_one_value_on_the_command_line_and_a_grid_of_lists_in_a_file(pm):
    one = plan(Matrix(strategies=["test-sleep"], cases=["synth2d-translation"], params=cli("schedule=1,0.5")), pm, 1)
    assert [r.spec.params["schedule"] for r in one] == [[1.0, 0.5]]
    grid = [ParamEntry("test-sleep", "schedule", [[1, 0.5], [2]], "file")]
    two = plan(Matrix(strategies=["test-sleep"], cases=["synth2d-translation"], params=grid), pm, 1)
    assert [r.spec.params["schedule"] for r in two] == [[1.0, 0.5], [2.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate", "expected \\[STRATEGY.\\]NAME=VALUE"),
        ("=3", "expected"),
        (".lr=3", "expected"),
        ("gd.learning_rate=", "expected"),
    ],
)
def test_malformed_param_options(text, message):
    with pytest.raises(MatrixError, match=message):
        parse_param_option(text)


def test_bad_param_values_and_qualifiers_are_usage_errors(pm):
    base = {"strategies": ["gd"], "cases": ["synth2d-translation"]}
    with pytest.raises(MatrixError, match=r"learning_rate.*from --param gd.learning_rate"):
        plan(Matrix(**base, params=cli("gd.learning_rate=-1")), pm, 1)
    with pytest.raises(MatrixError, match=r"no selected strategy matches 'lbfgs2'; selected: gd"):
        plan(Matrix(**base, params=cli("lbfgs2.solution_accuracy=1e-3")), pm, 1)
    with pytest.raises(MatrixError, match=r"empty value"):
        plan(Matrix(**base, params=cli("gd.learning_rate=1,,2")), pm, 1)


def test_the_run_file(tmp_path, pm):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "run.toml"
    path.write_text(
        textwrap.dedent(
            """
            strategies = "gd"
            cases = ["synth2d-translation"]
            seed = [1, 5]
            repeat = 3
            workers = 2
            timeout = 30
            store = "out.sqlite"
            plugins = ["runner_plugin"]

            [params]
            number_of_iterations = 5
            [params.gd]
            learning_rate = [0.5, 2.0]
            """
        )
    )
    run = load_run_file(path)
    assert (run.strategies, run.cases, run.seeds, run.workers, run.timeout) == (
        ["gd"],
        ["synth2d-translation"],
        [1, 5],
        2,
        30,
    )
    assert run.store == str(tmp_path / "sub" / "out.sqlite") and run.repeat == 3
    runs = plan(Matrix(strategies=run.strategies, cases=run.cases, seeds=run.seeds, params=run.params), pm, 1)
    assert sorted((r.spec.params["learning_rate"], r.spec.seed) for r in runs) == [
        (0.5, 1),
        (0.5, 5),
        (2.0, 1),
        (2.0, 5),
    ]
    assert {r.spec.params["number_of_iterations"] for r in runs} == {5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategy = 'gd'", r"run.toml:1: unknown key 'strategy'; valid: strategies"),
        ("seeds = 2\nseed = 1", "run.toml:2: give seeds .* or seed .*not both"),
        ("seeds = 0", "seeds must be positive"),
        ("workers = 2\nseed = [-5]", r"run.toml:2: seed must be ≥ 0, not -5"),
        ("seed = -1", r"run.toml:1: seed must be ≥ 0, not -1"),
        ("timeout = -1", r"run.toml:1: timeout must be ≥ 0"),
        ("workers = 'two'", "workers must be a positive integer"),
        ("seed = [1, 'x']", "seed must be an integer or a list"),
        ("strategies = [1]", "strategies must be a string or a list of strings"),
        ("strategies = [", "run.toml: not valid TOML"),
        ("seeds = 2\nrepeat = 0", r"run.toml:2: repeat must be positive, not 0"),
        ("repeat = '3'", r"run.toml:1: repeat must be a positive integer"),
    ],
)
def test_run_file_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(MatrixError, match=message):
        load_run_file(path)


def test_a_missing_case_file_names_the_run_file_and_line(tmp_path):
    (tmp_path / "here.toml").write_text("")
    path = tmp_path / "run.toml"
    path.write_text('strategies = ["gd"]\ncase_files = [\n  "here.toml",\n  "gone.toml",\n]\n')
    with pytest.raises(MatrixError, match=r"run.toml:4: case_files entry 'gone.toml': no such file \(.*gone.toml\)"):
        load_run_file(path)


def test_a_zero_timeout_in_a_run_file_means_no_limit(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("timeout = 0\n")
    assert load_run_file(path).timeout == 0


@pytest.mark.parametrize("seeds", [[-1], [0, -3], [True], [], [2**31], [10**20]])
def test_the_matrix_refuses_negative_missing_or_too_large_seeds(pm, seeds):
    with pytest.raises(MatrixError, match=r"seeds must be integers from 0 to 2147483647|no seeds"):
        plan(Matrix(strategies=["gd"], cases=["synth2d-translation"], seeds=seeds), pm, threads=1)


def test_patterns_may_be_repeated_or_comma_separated():
    assert split_patterns(["gd,lbfgs2", " gd* ", "a,,b,"]) == ["gd", "lbfgs2", "gd*", "a", "b"]


def test_a_missing_run_file(tmp_path):
    with pytest.raises(MatrixError, match=r"cannot read the run file"):
        load_run_file(tmp_path / "nope.toml")
