"""Hooks are called through pluggy: its order (last registered first, tryfirst, trylast), wrappers, monitoring;
per-plugin provenance is kept; what hooks return is checked (evaluate may not rewrite a record's identity, stop
categories must be in the vocabulary); run_finished sees every record; the iteration cap is declared."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import ClassVar

import pytest

import regbench
from regbench import param
from regbench.cases.tiny import make_tiny_case
from regbench.record import Level, RunRecord, Segment
from regbench.run import _finish, run_key
from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix


class Quick(regbench.SingleRunStrategy):
    """regular-step gradient descent, a few iterations"""

    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-3, 10)


def registering(name: str, **marker):
    """A plugin object that registers one strategy called ``name``."""

    class Plugin:
        @regbench.hookimpl(**marker)
        def regbench_register_strategies(self, register):
            register(Quick(name))

    return Plugin()


def manager(*plugins) -> regbench.RegbenchPluginManager:
    pm = regbench.make_plugin_manager(entrypoints=False)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
    return pm


# -- order ------------------------------------------------------------------------------------------------------


def test_register_hooks_run_in_pluggys_order():
    # registered p0, p1, p2 (tryfirst), p3 (trylast): pluggy calls p2, p1, p0, the built-ins, then p3
    pm = manager(registering("plain-0"), registering("plain-1"), registering("first", tryfirst=True))
    pm.register(registering("last", trylast=True), name="p3")
    names = list(pm.strategies())
    assert names.index("first") < names.index("plain-1") < names.index("plain-0") < names.index("gd")
    assert names[-1] == "last"
    assert pm.get_strategy("first").provenance.plugin == "p2"
    assert pm.get_strategy("last").provenance.plugin == "p3"


def test_provenance_of_two_instances_of_one_plugin_class():
    one, two = registering("from-one"), type(registering("x"))()  # a second instance registers "x"
    pm = manager(one, two)
    assert (pm.get_strategy("from-one").provenance.plugin, pm.get_strategy("x").provenance.plugin) == ("p0", "p1")


class Who:
    """Two evaluations writing one measure: the one pluggy calls last has the last word."""

    def __init__(self, label, **marker):
        self.label = label

        @regbench.hookimpl(**marker)
        def regbench_evaluate(record):
            return {"who": label, f"seen_{label}": True}

        self.regbench_evaluate = regbench_evaluate


def test_evaluations_merge_in_pluggys_call_order():
    pm = manager(Who("trylast", trylast=True), Who("tryfirst", tryfirst=True))
    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=pm)
    assert record.status == "ok", record.error
    assert record.measures["seen_trylast"] and record.measures["seen_tryfirst"]
    assert record.measures["who"] == "trylast"  # called after the tryfirst one, and after the built-in


def test_a_plugin_classifier_tryfirst_overrides_the_builtin_one():
    class Mine:
        @regbench.hookimpl(tryfirst=True)
        def regbench_classify_stop(self, text):
            return "user_stop" if text.startswith("RegularStepGradientDescentOptimizerv4") else None

    pm = manager(Mine())
    assert pm.classify_stop("RegularStepGradientDescentOptimizerv4: Step too small after 3 iterations.") == "user_stop"
    assert pm.classify_stop("Converged") == "converged"


# -- wrappers -----------------------------------------------------------------------------------------------------


def test_an_evaluate_wrapper_runs_around_the_others():
    class Wrapper:
        @regbench.hookimpl(wrapper=True)
        def regbench_evaluate(self, record):
            results = yield
            return [*results, {"evaluations_seen": len(results)}]

    pm = manager(Wrapper())
    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=pm)
    assert record.status == "ok", record.error
    assert record.measures["evaluations_seen"] == 1  # the built-in evaluation
    assert record.final_metric_dense is not None


def test_an_old_style_hookwrapper_and_a_register_wrapper_run():
    class RegisterWrapper:
        @regbench.hookimpl(wrapper=True)
        def regbench_register_strategies(self, register):
            register(Quick("before-the-others"))
            result = yield
            register(Quick("after-the-others"))
            return result

    class OldStyle:
        seen: ClassVar[list] = []

        @regbench.hookimpl(hookwrapper=True)
        def regbench_run_finished(self, record):
            outcome = yield
            self.seen.append((record.status, outcome.exception))

    pm = manager(RegisterWrapper(), OldStyle())
    assert pm.get_strategy("before-the-others").provenance.plugin == "p0"
    assert pm.get_strategy("after-the-others").provenance.plugin == "p0"
    regbench.run_one("before-the-others", make_tiny_case(), threads=1, pm=pm)
    assert OldStyle.seen == [("ok", None)]


def test_a_wrapper_that_is_not_a_generator_is_refused_at_load():
    class NotAGenerator:
        @regbench.hookimpl(wrapper=True)
        def regbench_evaluate(self, record):
            return {"x": 1}

    with pytest.raises(regbench.PluginError, match=r"pluggy refused it: .*generator function"):
        regbench.make_plugin_manager(entrypoints=False, plugins=[NotAGenerator()])


# -- monitoring ---------------------------------------------------------------------------------------------------


def test_hook_call_monitoring_sees_every_hook_call():
    pm = regbench.make_plugin_manager(entrypoints=False)
    called = []
    pm.add_hookcall_monitoring(lambda name, impls, kwargs: called.append(name), lambda *args: None)
    regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=pm)
    pm.strategies()
    assert {"regbench_evaluate", "regbench_run_finished", "regbench_classify_stop", "regbench_register_strategies"} <= (
        set(called)
    )


def test_the_trace_env_var_traces_hook_calls(tmp_path, monkeypatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("REGBENCH_TRACE_HOOKS", str(log))
    pm = regbench.make_plugin_manager(entrypoints=False)
    regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=pm)
    text = log.read_text()
    assert f"regbench[{os.getpid()}] regbench_evaluate(" in text and "-> regbench_plugins.evaluation" in text
    assert "regbench_run_finished returned []" in text
    assert "regbench_classify_stop returned 'step_too_small'" in text or "regbench_classify_stop returned" in text


@pytest.mark.parametrize("where", ["missing/hooks.log", "."])
def test_a_trace_path_that_cannot_be_written_is_blamed_on_the_variable(tmp_path, monkeypatch, where):
    """A directory that does not exist, or a directory: the error names the variable and the path (it was
    reported as a register hook failing outside any plugin, with a traceback)."""
    from click.testing import CliRunner

    from regbench.cli import main

    target = str(tmp_path / where)
    monkeypatch.setenv("REGBENCH_TRACE_HOOKS", target)
    with pytest.raises(ValueError, match="REGBENCH_TRACE_HOOKS") as info:
        regbench.make_plugin_manager(entrypoints=False)
    assert target in str(info.value) and "register" not in str(info.value)
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 2, result.output
    assert f"REGBENCH_TRACE_HOOKS={target!r}" in result.output and "Traceback" not in result.output


def test_tracing_to_stderr(capsys, monkeypatch):
    monkeypatch.setenv("REGBENCH_TRACE_HOOKS", "1")
    regbench.make_plugin_manager(entrypoints=False).strategies()
    assert "regbench_register_strategies(register=" in capsys.readouterr().err


# -- what hooks may return ------------------------------------------------------------------------------------------


class Forger:
    @regbench.hookimpl(trylast=True)  # after the built-in evaluation: its error_mean is the last word
    def regbench_evaluate(self, record):
        return {
            "key": "forged",
            "strategy": "someone-else",
            "seed": 999,
            "status": "ok",
            "transform": {"type": "IdentityTransform"},
            "iterations": 10**6,
            "error_mean": 0.0,  # a measure field: allowed
            "measures": {"from_dict": 1.5},
            "heldout_parameter_norm": 0.25,
        }


def test_an_evaluation_cannot_rewrite_the_records_identity():
    pm = manager(Forger())
    strategy, case = Quick("quick"), make_tiny_case()
    record = regbench.run_one(strategy, case, seed=3, threads=1, pm=pm)
    assert (record.strategy, record.seed, record.status) == ("quick", 3, "ok")
    assert record.key == run_key("quick", record.params, case.name, 3, 1, record.versions, case.fingerprint())
    assert record.transform["type"] == "TranslationTransform" and record.iterations < 10**6
    assert record.error_mean == 0.0
    assert record.measures == {**record.measures, "from_dict": 1.5, "heldout_parameter_norm": 0.25}
    (note,) = [n for n in record.notes if "regbench_evaluate tried to set" in n]
    for name in ("'key'", "'strategy'", "'seed'", "'status'", "'transform'", "'iterations'"):
        assert name in note


def test_a_measure_field_must_be_a_number():
    class Words:
        @regbench.hookimpl
        def regbench_evaluate(self, record):
            return {"error_mean": "small"}

    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=manager(Words()))
    assert isinstance(record.error_mean, float)
    assert any("error_mean (not a number" in n for n in record.notes)


def test_a_stop_category_outside_the_vocabulary_is_unknown_with_a_note():
    class Excited:
        @regbench.hookimpl(tryfirst=True)
        def regbench_classify_stop(self, text):
            return "Converged!!"

    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=manager(Excited()))
    assert record.stop_category == "unknown" and record.outcome != "Converged!!"
    assert all(s.stop_category == "unknown" for s in record.segments)
    assert any("'Converged!!'" in n and "not a stop category" in n for n in record.notes)


def test_a_failing_evaluation_costs_only_its_own_measures():
    class Fails:
        @regbench.hookimpl(tryfirst=True)
        def regbench_evaluate(self, record):
            raise ZeroDivisionError("a measure divided by zero")

    pm = manager(Who("ok"), Fails())
    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=pm)
    assert record.status == "ok" and record.final_metric_dense is not None and record.measures["who"] == "ok"
    assert any("plugin 'p1' failed in regbench_evaluate: ZeroDivisionError" in n for n in record.notes)


def test_a_failing_iteration_observer_names_its_plugin():
    class Fails:
        @regbench.hookimpl
        def regbench_record_iteration(self, event):
            raise KeyError("no such plot")

    record = regbench.run_one(Quick("quick"), make_tiny_case(), threads=1, pm=manager(Fails()))
    assert record.status == "error"
    assert "plugin 'p0' failed in regbench_record_iteration: KeyError" in record.error


def test_run_finished_sees_crashed_and_timed_out_runs(tmp_path, monkeypatch):
    log = tmp_path / "finished.log"
    monkeypatch.setenv("REGBENCH_TEST_FINISHED_LOG", str(log))
    matrix = Matrix(strategies=["test-segfault", "test-hang", "test-sleep"], cases=["synth2d-translation"])
    matrix.params = [regbench.runner.matrix.ParamEntry("test-sleep", "seconds", 0.0, "test")]
    records = run_matrix(matrix, tmp_path / "s.sqlite", plugins=["runner_plugin"], timeout=3, workers=3)
    assert sorted(r.status for r in records) == ["crashed", "ok", "timeout"]
    seen = sorted(line.split()[:2] for line in log.read_text().splitlines())
    assert seen == [["test-hang", "timeout"], ["test-segfault", "crashed"], ["test-sleep", "ok"]]


# -- the iteration cap is declared --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetParams:
    iterations: int = param(4, "iteration cap per level", min=1)


class Budgeted(regbench.SingleRunStrategy):
    """regular-step gradient descent whose cap is not called number_of_iterations; on the tiny case the coarse level
    uses its 4 iterations and the fine one stops on the gradient tolerance, so the stop text says nothing of the cap"""

    Params = BudgetParams
    iteration_cap_param = "iterations"

    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(
            0.5, 1e-9, params.iterations, relaxationFactor=0.5, gradientMagnitudeTolerance=3e-4
        )


def test_a_declared_cap_under_another_name_is_seen():
    record = regbench.run_one(Budgeted("budgeted"), make_tiny_case(), threads=1)
    assert record.status == "ok", record.error
    assert [level.optimizer_iteration for level in record.segments[0].levels] == [4, 3]  # the fine level: 3 < 4
    assert record.stop_category == "gradient_tolerance" and record.hit_iteration_limit


def test_the_cap_is_never_guessed_from_a_parameter_name():
    @dataclass(frozen=True)
    class Named:
        number_of_iterations: int = param(5, "not a cap this strategy declares", min=1)

    class Undeclared(regbench.SingleRunStrategy):
        Params = Named

    strategy = Undeclared("undeclared")
    assert strategy.iteration_cap(strategy.defaults) is None
    declared = Budgeted("declared")
    assert declared.iteration_cap(declared.defaults) == 4
    record = RunRecord("s", "c", 0, segments=[Segment(0, levels=[Level(0, optimizer_iteration=5)])])
    record.segments[0].stop_category = "converged"
    _finish(record, strategy.iteration_cap(strategy.defaults))
    assert not record.hit_iteration_limit
    _finish(record, 5)
    assert record.hit_iteration_limit


def test_a_cap_declaration_naming_no_parameter_is_refused():
    class Wrong(Budgeted):
        iteration_cap_param = "iteratoins"

    with pytest.raises(regbench.ParameterError, match="iteration_cap_param 'iteratoins' is not a parameter"):
        Wrong("wrong")


def test_builtin_strategies_declare_their_caps():
    for strategy in regbench.make_plugin_manager(entrypoints=False).strategies().values():
        cap = strategy.iteration_cap(strategy.defaults)
        field = {f.name: f for f in dataclasses.fields(strategy.Params)}.get("number_of_iterations")
        assert cap == (strategy.defaults.number_of_iterations or None), strategy.name
        assert strategy.iteration_cap_param == "number_of_iterations" and field is not None, strategy.name
