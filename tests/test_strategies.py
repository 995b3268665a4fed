"""The built-in strategies: registration, parameter validation, and a complete record on both built-in cases."""

import json
import math

import pytest

import regbench
from regbench.strategy import ParameterError

BUILTIN = "regbench_plugins."

# Small budgets so every strategy runs in about a second per case; the behaviour tests use real budgets.
FAST = {
    "gd": {"number_of_iterations": 5},
    "gd-best": {"number_of_iterations": 5},
    "rsgd": {"number_of_iterations": 5},
    "gdls": {"number_of_iterations": 3, "line_search_maximum_iterations": 5},
    "cg": {"number_of_iterations": 3, "line_search_maximum_iterations": 5},
    "cg-ants": {"number_of_iterations": 3, "line_search_maximum_iterations": 5},
    "gd-once": {"number_of_iterations": 5},
    "gd-each-iteration": {"number_of_iterations": 5},
    "gd-level-schedule": {"number_of_iterations": 5},
    "gd-restarts": {"number_of_iterations": 3, "executions": 2},
    "gd-restarts-best": {"number_of_iterations": 3, "executions": 2},
    "lbfgs2": {"number_of_iterations": 3},
    "lbfgsb": {"number_of_iterations": 3},
    "lbfgsb-one-execution": {"number_of_iterations": 3},
    "powell": {"number_of_iterations": 1, "maximum_line_iterations": 2},
    "one-plus-one": {"number_of_iterations": 10},
    "amoeba": {"number_of_iterations": 20},
}
# Gradient-free methods sweep every one of a B-spline's 98 parameters: seconds even on a tiny budget.
SLOW_ON_BSPLINE = {"powell"}


@pytest.fixture(scope="module")
def builtin_pm():
    return regbench.make_plugin_manager(entrypoints=False)


def builtin_strategies(pm):
    # SimpleITK's: those of other engines have their own tests (tests/test_engine_elastix.py)
    return {
        n: s for n, s in pm.strategies().items() if s.provenance.plugin.startswith(BUILTIN) and s.engine == "SimpleITK"
    }


def test_at_least_fourteen_strategies_with_provenance_and_help(builtin_pm):
    strategies = builtin_strategies(builtin_pm)
    assert len(strategies) >= 14
    families = {s.provenance.plugin for s in strategies.values()}
    assert {
        "regbench_plugins.gradient_descent",
        "regbench_plugins.lbfgs",
        "regbench_plugins.lbfgsb",
        "regbench_plugins.learning_rate",
        "regbench_plugins.restarts",
        "regbench_plugins.gradient_free",
    } <= families
    for strategy in strategies.values():
        assert strategy.description
        assert strategy.provenance.distribution == "regbench"
        for spec in strategy.param_specs():
            assert spec.help, f"{strategy.name}.{spec.name} has no help text"


def test_every_builtin_strategy_has_a_fast_budget_here(builtin_pm):
    # A new built-in strategy must join the complete-record test below.
    assert set(builtin_strategies(builtin_pm)) == set(FAST)


def _param_cases():
    pm = regbench.make_plugin_manager(entrypoints=False)
    for name, strategy in builtin_strategies(pm).items():
        yield pytest.param(strategy, id=name)


@pytest.mark.parametrize("strategy", list(_param_cases()))
def test_unknown_names_are_refused_with_the_valid_ones(strategy):
    with pytest.raises(ParameterError) as info:
        strategy.parse_params({"learning_rat": 1})
    message = str(info.value)
    assert f"strategy {strategy.name!r}: unknown parameter 'learning_rat'" in message
    valid = message.split("valid: ", 1)[1]
    assert valid.split(", ") == [spec.name for spec in strategy.param_specs()]


def _out_of_range(spec):
    """A value that breaks the declared range of a parameter, or None when it has none."""
    if spec.range.startswith("one of"):
        return "not-a-choice"
    if spec.range.startswith(("≥", ">")):
        low = float(spec.range.split()[1])
        return low - 1 if spec.range.startswith("≥") else low
    return None


@pytest.mark.parametrize("strategy", list(_param_cases()))
def test_bad_values_are_refused_with_the_range(strategy):
    checked = 0
    for spec in strategy.param_specs():
        bad = _out_of_range(spec)
        if bad is None:
            continue
        if spec.type == "int":
            bad = math.floor(bad)
        with pytest.raises(ParameterError) as info:
            strategy.parse_params({spec.name: bad})
        message = str(info.value)
        assert spec.name in message
        assert spec.range.split(" and ")[0].replace("one of ", "") in message, message
        checked += 1
    assert checked >= 2  # every built-in strategy has ranged parameters


def test_a_non_number_is_refused_by_type(builtin_pm):
    with pytest.raises(ParameterError, match="number_of_iterations: expected an integer, got 'many'"):
        builtin_pm.get_strategy("gd").parse_params({"number_of_iterations": "many"})


def _runs():
    for name in sorted(FAST):
        for case_name in ("synth2d-affine", "synth2d-bspline"):
            slow = name in SLOW_ON_BSPLINE and case_name == "synth2d-bspline"
            yield pytest.param(name, case_name, id=f"{name}-{case_name}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize(("name", "case_name"), list(_runs()))
def test_every_strategy_gives_a_complete_record(builtin_pm, name, case_name):
    record = regbench.run_one(name, case_name, seed=2, params=FAST[name], threads=1, pm=builtin_pm)
    assert record.status == "ok", record.error
    assert record.segments and all(segment.levels for segment in record.segments)
    assert record.iterations == sum(segment.iterations for segment in record.segments) > 0
    assert record.stop_category not in (None, "unknown", "error"), record.stop_condition
    assert record.outcome is not None
    assert record.final_metric_dense is not None and record.initial_metric_dense is not None
    assert record.error_mean is not None and record.error_mean_fg is not None
    assert record.transform is not None
    assert record.wall_time_s > 0
    assert len(record.trace) > 0
    # strict JSON that round-trips
    text = record.to_json()
    assert regbench.RunRecord.from_json(text).to_json() == text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
