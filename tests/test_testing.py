"""regbench.testing: the opt-in, the fixtures, each contract check against a strategy that breaks it, and the
pytest-benchmark suite's JSON."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import SimpleITK as sitk

import regbench
from regbench import ExecutionFailed, PluginError, param
from regbench.plugin.manager import BUILTIN_PLUGINS

# The kit's fixtures for this module only (a plugin's suite opts in with pytest_plugins = ["regbench.testing"]).
from regbench.testing import (
    StrategyCheckFailed,
    StrategyCheckWarning,
    check_failure_recorded,
    check_iteration_cap,
    check_name,
    check_params_dataclass,
    check_params_help,
    check_params_rejects_unknown,
    check_params_round_trip,
    check_record_complete,
    check_record_strict_json,
    check_reproducible,
    check_runs_through_execute,
    check_stop_classified,
    check_strategy,
    check_transform_rebuildable,
    make_tiny_case,
    parametrize_with_checks,
)
from regbench.testing.fixtures import (  # noqa: F401
    fixture_regbench_pm,
    fixture_register_plugin,
    fixture_tiny_case,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

# -- opt-in ------------------------------------------------------------------------------------------------------


def test_importing_regbench_loads_neither_the_kit_nor_pytest():
    code = "import sys, regbench; print('regbench.testing' in sys.modules, 'pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", check=True).stdout
    assert out.split() == ["False", "False"]


def test_installing_regbench_registers_no_pytest_plugin():
    regbench_eps = importlib.metadata.distribution("regbench").entry_points
    assert [ep for ep in regbench_eps if ep.group == "pytest11"] == []
    assert not [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.value.startswith("regbench")]


def test_fixtures_exist_only_after_opting_in(pytester):
    pytester.makepyfile("def test_uses_kit(regbench_pm, tiny_case):\n    assert regbench_pm.get_strategy('gd')\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(errors=1)
    pytester.runpytest("-p", "no:cacheprovider", "-p", "regbench.testing").assert_outcomes(passed=1)


# -- fixtures ----------------------------------------------------------------------------------------------------


class Extra:
    @regbench.hookimpl
    def regbench_register_strategies(self, register):
        register(make_gd("extra-gd"))


def test_regbench_pm_holds_the_builtins_and_nothing_else(regbench_pm):
    names = {name for name, _ in regbench_pm.list_name_plugin()}
    assert names == set(BUILTIN_PLUGINS)


def test_register_plugin_adds_a_plugin_even_after_listing(regbench_pm, register_plugin):
    assert "extra-gd" not in regbench_pm.strategies()
    register_plugin(Extra(), name="extra")
    assert regbench_pm.get_strategy("extra-gd").provenance.plugin == "extra"


def test_register_plugin_refuses_a_misspelled_hook(register_plugin):
    class Typo:
        @regbench.hookimpl
        def regbench_register_stratgies(self, register):
            pass

    with pytest.raises(PluginError, match="regbench_register_stratgies"):
        register_plugin(Typo())


def test_register_plugin_can_add_cases(regbench_pm, register_plugin):
    class Cases:
        @regbench.hookimpl
        def regbench_register_cases(self, register):
            register(make_tiny_case("rigid"))

    register_plugin(Cases())
    assert regbench_pm.get_case("tiny-rigid").setup.transform == "rigid"


def test_tiny_case_is_small_known_and_repeatable(tiny_case):
    data = tiny_case.load()
    assert data.fixed.GetSize() == (64, 64)
    assert data.truth.GetParameters() == (2.5, -1.5)
    other = make_tiny_case().load()
    assert sitk.GetArrayFromImage(other.fixed).tolist() == sitk.GetArrayFromImage(data.fixed).tolist()
    with pytest.raises(ValueError, match="translation, rigid, affine"):
        make_tiny_case("bspline-ish")


def test_observer_hooks_see_a_tiny_case_run(regbench_pm, register_plugin, tiny_case):
    seen = {"events": 0, "finished": []}

    class Observer:
        @regbench.hookimpl
        def regbench_record_iteration(self, event):
            seen["events"] += 1

        @regbench.hookimpl
        def regbench_run_finished(self, record):
            seen["finished"].append(record.key)

    register_plugin(Observer())
    record = regbench.run_one("lbfgs2", tiny_case, threads=1, pm=regbench_pm)
    assert record.status == "ok", record.error
    assert seen == {"events": record.iterations, "finished": [record.key]}


# -- every built-in strategy meets the contract ------------------------------------------------------------------


@parametrize_with_checks(  # those that can run here: an engine may be missing (listed unavailable)
    [s for s in regbench.make_plugin_manager(entrypoints=False).strategies().values() if not s.unavailable]
)
def test_builtin_strategies_meet_the_contract(strategy, check):
    check(strategy)


# -- each check fails on the strategy that breaks its rule -------------------------------------------------------


@dataclass(frozen=True)
class GDParams:
    learning_rate: float = param(0.5, "step multiplier", min=0, min_exclusive=True)
    number_of_iterations: int = param(20, "iterations per level", min=1)


class GD(regbench.SingleRunStrategy):
    Params = GDParams

    def configure(self, method, params):
        method.SetOptimizerAsGradientDescent(params.learning_rate, params.number_of_iterations)
        method.SetOptimizerScalesFromPhysicalShift()


def make_gd(name="good-gd", params_cls=GDParams, **methods):
    cls = type("Custom", (GD,), {"Params": params_cls, **methods})
    return cls(name)


@dataclass
class Mutable:
    learning_rate: float = param(0.5, "step multiplier")


@dataclass(frozen=True)
class Undocumented:
    learning_rate: float = 0.5


@dataclass(frozen=True)
class OutOfRange:
    learning_rate: float = param(-1.0, "step multiplier", min=0)


def execute_directly(self, ctx, params):
    method = ctx.new_method()
    self.configure(method, params)
    return method.Execute(ctx.fixed, ctx.moving)


def configure_raises(self, method, params):
    raise RuntimeError("configure broke on purpose")


def wall_clock_sampling(self, method, params):
    GD.configure(self, method, params)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.2, sitk.sitkWallClock)


def swallow_failure(self, ctx, params):
    method = ctx.new_method()
    self.configure(method, params)
    try:
        return ctx.execute(method).transform
    except ExecutionFailed:
        return sitk.TranslationTransform(2)


class Unclassified:
    @regbench.hookimpl(tryfirst=True)
    def regbench_classify_stop(self, text):
        return "unknown"


class SetMeasure:
    @regbench.hookimpl
    def regbench_evaluate(self, record):
        return {"labels": {1, 2}}


BROKEN = {
    "name with a space": (make_gd("my gd"), None, check_name, "is not allowed: use letters, digits"),
    "mutable params": (make_gd(params_cls=Mutable), None, check_params_dataclass, "frozen=True"),
    "param without help": (make_gd(params_cls=Undocumented), None, check_params_help, "no help text"),
    "default out of range": (make_gd(params_cls=OutOfRange), None, check_params_round_trip, "out of range"),
    "unknown names ignored": (
        make_gd(parse_params=lambda self, values=None: self.defaults),
        None,
        check_params_rejects_unknown,
        "accepted an unknown",
    ),
    "method.Execute() called": (make_gd(run=execute_directly), None, check_runs_through_execute, "ctx.execute"),
    "configure raises": (
        make_gd(configure=configure_raises),
        None,
        check_record_complete,
        "configure broke on purpose",
    ),
    "stop text unclassified": (make_gd(), Unclassified(), check_stop_classified, "not classified"),
    "a measure is a set": (make_gd(), SetMeasure(), check_record_strict_json, "not strict JSON"),
    "wall-clock sampling": (make_gd(configure=wall_clock_sampling), None, check_reproducible, "differ in"),
    "failure swallowed": (make_gd(run=swallow_failure), None, check_failure_recorded, "status 'ok'"),
}


PARAM_CHECKS = {check_name, check_params_dataclass, check_params_help, check_params_round_trip}
PARAM_CHECKS |= {check_params_rejects_unknown}


@pytest.mark.parametrize(("strategy", "plugin", "check", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_each_check_catches_its_breakage(strategy, plugin, check, message):
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[plugin] if plugin else [])
    kwargs = {} if check in PARAM_CHECKS else {"pm": pm}
    with pytest.raises(StrategyCheckFailed, match=message) as failure:
        check(strategy, **kwargs)
    assert f"fails {check.__name__}" in str(failure.value)
    # check_strategy reports the same rule among everything that failed
    with pytest.raises(StrategyCheckFailed, match=check.__name__):
        check_strategy(strategy, pm=pm)


def test_a_transform_that_cannot_be_rebuilt_fails_its_check(monkeypatch):
    # An evaluation can no longer overwrite the record's transform, so the breakage is a transform type this
    # regbench cannot rebuild (as a future SimpleITK type would be).
    def cannot(data):
        raise ValueError(f"cannot rebuild a transform of type 'Mystery{data['type']}'")

    monkeypatch.setattr("regbench.testing.checks.transform_from_dict", cannot)
    with pytest.raises(StrategyCheckFailed, match=r"fails check_transform_rebuildable: .*MysteryTranslationTransform"):
        check_transform_rebuildable(make_gd("rebuild-gd"))


def test_a_good_strategy_passes_every_check():
    check_strategy(make_gd())


def test_configure_that_raises_is_an_error_record_not_an_exception():
    record = regbench.run_one(make_gd(configure=configure_raises), make_tiny_case(), threads=1)
    assert record.status == "error"
    assert "configure broke on purpose" in record.error
    json.dumps(record.to_dict(), allow_nan=False)


def test_unknown_stop_can_be_a_warning_for_a_new_optimizer():
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[Unclassified()])
    with pytest.warns(StrategyCheckWarning, match="not classified"):
        check_stop_classified(make_gd(), pm=pm, allow_unknown_stop=True)


def test_round_trip_uses_command_line_forms_of_tuples_and_none():
    @dataclass(frozen=True)
    class Schedule:
        rates: tuple[float, ...] = param((1.0, 0.5, 0.25), "per-level rates")
        cap: int | None = param(None, "optional cap")
        verbose: bool = param(False, "say more")

    strategy = make_gd(params_cls=Schedule)
    check_params_round_trip(strategy)
    assert dataclasses.asdict(strategy.parse_params({"rates": "1.0,0.5,0.25", "cap": "none"})) == {
        "rates": (1.0, 0.5, 0.25),
        "cap": None,
        "verbose": False,
    }


# -- the pytest-benchmark suite ----------------------------------------------------------------------------------


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def _pytest_benchmarks(tmp_path, *args, **env):
    environ = {**os.environ, "REGBENCH_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONIOENCODING": "utf-8", **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_registration.py", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        encoding="utf-8",
        timeout=300,
    )


@pytest.mark.slow
def test_benchmark_json_is_strict_and_carries_the_quality_fields(tmp_path):
    out = tmp_path / "out.json"
    result = _pytest_benchmarks(
        tmp_path,
        "--benchmark-json",
        str(out),
        "-k",
        "translation",
        REGBENCH_BENCH_STRATEGIES="gd,lbfgs2",
        REGBENCH_BENCH_CASES="synth2d-translation",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text(encoding="utf-8")
    assert "UNSERIALIZABLE" not in text
    data = _strict(text)
    block = data["regbench"]
    assert block["schema"] == 1
    assert {"regbench", "SimpleITK", "ITK"} <= set(block["versions"])
    names = sorted(b["name"] for b in data["benchmarks"])
    assert names == ["test_registration[gd-synth2d-translation]", "test_registration[lbfgs2-synth2d-translation]"]
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        assert set(info) == set(block["extra_info_fields"])
        assert "iterations" not in info and isinstance(info["optimizer_iterations"], int)
        assert info["optimizer_iterations"] > 0 and info["stop_category"] != "unknown"
        assert isinstance(info["final_metric_dense"], float) and isinstance(info["error_mean"], float)
        assert bench["stats"]["rounds"] == 1
    assert "regbench quality" in result.stdout and "lbfgs2-synth2d-translation" in result.stdout


def test_benchmark_selection_that_matches_nothing_is_a_usage_error(tmp_path):
    result = _pytest_benchmarks(tmp_path, "--collect-only", "--regbench-cases", "no-such-case*")
    assert result.returncode == 4
    assert "--regbench-cases: no case matches 'no-such-case*'; valid:" in result.stderr
    assert "synth2d-translation" in result.stderr


# -- a strategy that runs no iteration ---------------------------------------------------------------------------


class ZeroIterations(regbench.SingleRunStrategy):
    """gradient descent with a cap of 0: SimpleITK never evaluates the metric"""

    def configure(self, method, params):
        method.SetOptimizerAsGradientDescent(1.0, 0)


def test_a_zero_iteration_strategy_is_diagnosed_as_such():
    with pytest.raises(StrategyCheckFailed, match="ran 0 iterations, so no Execute evaluated the metric") as info:
        check_failure_recorded(ZeroIterations("zero-iterations"))
    assert "let ExecutionFailed propagate" not in str(info.value)
    with pytest.raises(StrategyCheckFailed, match="iterations is 0"):
        check_record_complete(ZeroIterations("zero-iterations"))


def test_a_declared_cap_is_checked():
    @dataclass(frozen=True)
    class Budget:
        budget: int = param(5, "iterations", min=0)

    class Declared(GD):
        Params = Budget
        iteration_cap_param = "budget"

        def configure(self, method, params):
            method.SetOptimizerAsGradientDescent(0.5, params.budget)

    check_iteration_cap(Declared("declared"))

    class Broken(Declared):
        def iteration_cap(self, params):
            return "five"

    with pytest.raises(StrategyCheckFailed, match="fails check_iteration_cap: iteration_cap\\(defaults\\) is 'five'"):
        check_iteration_cap(Broken("broken-cap"))
