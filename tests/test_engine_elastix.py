"""Strategies that run another engine: the public ``ctx.record_external`` (tested with a fake engine, no elastix
needed), strategies listed as unavailable without their engine, and elastix's strategies through itk-elastix (skipped
where it is not installed): a record whose error and dense metric equal an independent evaluation of the returned
transform, whose per-level iterations are the log's, and whose stop texts classify."""

from __future__ import annotations

import importlib.metadata
import json
import re
import time
from dataclasses import dataclass

import pytest
import SimpleITK as sitk
from click.testing import CliRunner

import regbench
from regbench import ExternalExecution, ExternalLevel, param
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main as cli_main
from regbench.runner.matrix import Matrix, MatrixError, plan
from regbench.util.names import MatrixError as NamesMatrixError

try:
    importlib.metadata.version("itk-elastix")
    HAVE_ELASTIX = True
except importlib.metadata.PackageNotFoundError:
    HAVE_ELASTIX = False
# itk's SWIG types warn on import (no __module__), in every test that loads itk: not ours to act on
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")
needs_elastix = pytest.mark.skipif(
    not HAVE_ELASTIX, reason="itk-elastix is not installed (pip install 'regbench[elastix]')"
)


def independent(case, record):
    """The built-in measures of the record's returned transform, evaluated apart from the run."""
    return regbench.evaluate_transform(case, regbench.transform_from_dict(record.transform), record)


# -- the public API, with a fake engine -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeParams:
    fail: bool = param(False, "report a failed execution")


class FakeEngine(regbench.Strategy):
    """Reports two levels another engine 'ran' and returns a transform near the truth."""

    Params = FakeParams
    engine = "fake"

    def run(self, ctx, params):
        truth = ctx.data.truth
        result = sitk.Transform(truth).Downcast()
        result.SetTranslation([t + 0.1 for t in truth.GetTranslation()])
        levels = [
            ExternalLevel(
                metric=[3.0, 2.0, 1.5],
                stop_condition="Maximum number of iterations has been reached.",
                learning_rate=[0.5, 0.4, 0.3],
                time_s=[0.001, 0.002, 0.003],
                engine={"SP_a": 12.5},
            ),
            ExternalLevel(
                metric=[1.0, 0.9],
                stop_condition="converged by the fake's own rule",
                stop_inferred=True,
                unavailable={"learning_rate": "the fake has no step size"},
            ),
        ]
        execution = ExternalExecution(
            engine="fake",
            optimizer="FakeDescent",
            metric="fake MeanSquares",
            levels=levels,
            transform=None if params.fail else result,
            threads=ctx.threads,
            seed=ctx.seed,
            wall_time_s=0.01,
            error="the fake failed" if params.fail else None,
            settings={"Optimizer": ["FakeDescent"]},
        )
        ctx.record_external(execution)
        return result


def test_an_external_execution_is_recorded_and_evaluated_like_a_simpleitk_one():
    case = make_tiny_case("affine")
    record = regbench.run_one(FakeEngine("fake-engine"), case, seed=1, threads=1)
    assert record.status == "ok", record.error
    (segment,) = record.segments
    assert [level.iterations for level in segment.levels] == [3, 2] and record.iterations == 5
    assert record.trace.metric == [3.0, 2.0, 1.5, 1.0, 0.9] and record.trace.level == [0, 0, 0, 1, 1]
    first, last = segment.levels
    assert first.stop_category == "max_iterations"  # elastix's text, classified by the stop hook
    assert (first.learning_rate_first, first.learning_rate_last, first.engine) == (0.5, 0.3, {"SP_a": 12.5})
    assert last.stop_inferred is True and last.learning_rate_last is None
    assert last.engine == {"unavailable": {"learning_rate": "the fake has no step size"}}
    assert not last.is_dense and last.metric_source == "fake MeanSquares"  # another engine's values: not dense
    assert segment.engine["threads"] == 1 and segment.engine["seed"] == 1
    assert record.final_metric is None  # the engine's own value is not the case metric's
    # the record's measures are those of the returned transform, evaluated independently
    again = independent(case, record)
    assert record.error_mean == pytest.approx(again["error_mean"], rel=1e-9)
    assert record.final_metric_dense == pytest.approx(again["final_metric_dense"], rel=1e-9)
    assert 0 < record.error_mean < record.initial_error_mean
    assert record.anytime.iterations[-1] == 5


def test_iteration_observers_see_an_external_execution():
    seen = []

    class Observer:
        @regbench.hookimpl
        def regbench_record_iteration(self, event):
            seen.append((event.level, event.metric))

    pm = regbench.make_plugin_manager(entrypoints=False)
    pm.register(Observer())
    record = regbench.run_one(FakeEngine("fake-engine"), make_tiny_case("affine"), pm=pm)
    assert record.status == "ok", record.error
    assert seen == [(0, 3.0), (0, 2.0), (0, 1.5), (1, 1.0), (1, 0.9)]
    text = record.to_json()
    assert regbench.RunRecord.from_json(text).to_json() == text


def test_a_failed_external_execution_is_an_error_record():
    record = regbench.run_one(FakeEngine("fake-engine"), make_tiny_case("affine"), params={"fail": True})
    assert record.status == "error" and "the fake failed" in record.error
    assert record.segments[0].stop_category == "error"


def test_a_malformed_external_execution_is_refused_naming_what():
    class Bad(FakeEngine):
        def run(self, ctx, params):
            ctx.record_external(ExternalExecution("fake", "X", "m", [ExternalLevel(metric=[1.0], index=5)]))

    record = regbench.run_one(Bad("bad-engine"), make_tiny_case("affine"))
    assert record.status == "error" and "level 5 is not one of the case's 2 levels" in record.error


def test_elastix_stop_texts_classify_without_elastix():
    pm = regbench.make_plugin_manager(entrypoints=False)
    texts = {
        "Maximum number of iterations has been reached.": "max_iterations",
        "Wolfe conditions are not satisfied.": "line_search",
        "The gradient magnitude has (nearly) vanished.": "gradient_tolerance",
        "Minimum step size has been reached.": "step_too_small",
        "Almost no decrease in function value anymore.": "converged",
        "Simplex: Maximum number of iterations exceeded. Number of iterations is 256.": "max_evaluations",
        "Powell: Maximum number of iterations exceeded. Number of iterations is 2.": "max_iterations",
        "Error in metric.": "error",
    }
    assert {text: regbench.classify_stop(text, pm) for text in texts} == texts

    class Wolfe(FakeEngine):
        def run(self, ctx, params):
            level = ExternalLevel(metric=[1.0], stop_condition="Wolfe conditions are not satisfied.", index=1)
            ctx.record_external(ExternalExecution("fake", "LBFGS", "m", [level], transform=ctx.data.truth))

    record = regbench.run_one(Wolfe("wolfe-engine"), make_tiny_case("affine"), pm=pm)
    assert record.stop_category == "line_search" and record.rounding_failure  # LBFGS2's "rounding error" twin


# -- unavailable strategies -------------------------------------------------------------------------------------


def test_an_unavailable_strategy_is_listed_with_its_reason_and_refused():
    pm = regbench.make_plugin_manager(entrypoints=False)
    missing = FakeEngine("fake-missing", unavailable="needs fake: pip install fake")
    with pytest.raises(regbench.ParameterError, match="'fake-missing' is unavailable: needs fake: pip install fake"):
        regbench.run_one(missing, make_tiny_case("affine"), pm=pm)
    pm.strategies()["fake-missing"] = missing
    default = {run.spec.strategy for run in plan(Matrix(cases=["synth2d-translation"]), pm, threads=1)}
    assert "fake-missing" not in default and "gd" in default
    with pytest.raises((MatrixError, NamesMatrixError), match="every matching strategy is unavailable here"):
        plan(Matrix(strategies=["fake-missing"], cases=["synth2d-translation"]), pm, threads=1)


def test_without_itk_elastix_the_strategies_are_listed_unavailable_with_the_pip_line(monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "itk-elastix":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    result = CliRunner().invoke(cli_main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {s["name"]: s for s in json.loads(result.output)["strategies"]}
    names = [n for n in listed if n.startswith("elastix-")]
    assert {"elastix-asgd", "elastix-lbfgs", "elastix-cmaes"} <= set(names)
    for name in names:
        assert listed[name]["available"] is False and listed[name]["engine"] == "elastix"
        assert "pip install 'regbench[elastix]'" in listed[name]["unavailable"]
    assert listed["gd"]["available"] is True


# -- elastix ----------------------------------------------------------------------------------------------------


def _iteration_rows(log):
    """Per resolution of an elastix log, its iteration table's rows (read here, apart from the plugin's parser)."""
    counts, table = [], False
    for line in log.splitlines():
        if re.match(r"Resolution: \d+$", line):
            counts.append(0)
        elif line.startswith("1:ItNr"):
            table = True
        elif table and re.match(r"\d+\t", line):
            counts[-1] += 1
        else:
            table = False
    return counts


@pytest.fixture()
def logs(monkeypatch):
    from regbench_plugins import elastix, elastix_map

    seen = []

    def read_log(text):
        seen.append(text)
        return elastix_map.read_log(text)

    monkeypatch.setattr(elastix, "read_log", read_log)
    return seen


@needs_elastix
@pytest.mark.parametrize(("name", "model"), [("elastix-asgd", "affine"), ("elastix-lbfgs", "rigid")])
def test_an_elastix_run_is_measured_like_a_simpleitk_run(logs, name, model):
    case = make_tiny_case(model)
    record = regbench.run_one(name, case, seed=1, params={"number_of_iterations": 60})
    assert record.status == "ok", record.error
    again = independent(case, record)
    assert record.error_mean == pytest.approx(again["error_mean"], rel=1e-9)
    assert record.final_metric_dense == pytest.approx(again["final_metric_dense"], rel=1e-9)
    assert record.error_mean < 0.1 * record.initial_error_mean  # it registered
    (log,) = logs
    assert [level.iterations for level in record.levels] == _iteration_rows(log) and record.iterations > 0
    for level in record.levels:
        assert level.stop_condition and level.stop_category not in (None, "unknown"), level.stop_condition
    assert record.stop_category not in (None, "unknown")
    assert record.segments[0].engine["engine"] == "elastix" and record.segments[0].engine["threads"] == 1
    assert record.versions["itk-elastix"] == importlib.metadata.version("itk-elastix")  # part of the run's key


@needs_elastix
def test_asgd_reports_its_estimated_step_size_per_level():
    record = regbench.run_one("elastix-asgd", make_tiny_case("affine"), seed=1, params={"number_of_iterations": 20})
    assert record.status == "ok", record.error
    for level in record.levels:
        assert level.engine["SP_a"] > 0 and level.engine["SP_A"] == 20.0
        assert level.iterations == 20 and level.stop_category == "max_iterations"
        assert level.learning_rate_first is not None and level.learning_rate_first > 0
    assert record.hit_iteration_limit


@needs_elastix
def test_a_setup_without_an_elastix_counterpart_is_refused_clearly():
    tiny = make_tiny_case("affine")
    case = regbench.Case("tiny-jhmi", tiny.loader, regbench.Setup(transform="affine", metric="jhmi"))
    record = regbench.run_one("elastix-asgd", case)
    assert record.status == "error" and "metric 'jhmi' has no elastix counterpart" in record.error


def test_a_strategy_prepares_its_process_outside_the_run_clock():
    class Slow(FakeEngine):
        def prepare_process(self):
            time.sleep(0.3)  # an engine's first use

    record = regbench.run_one(Slow("slow-engine"), make_tiny_case("affine"))
    assert record.status == "ok" and record.wall_time_s < 0.3

    class Broken(FakeEngine):
        def prepare_process(self):
            raise ImportError("the engine cannot load")

    record = regbench.run_one(Broken("broken-engine"), make_tiny_case("affine"))
    assert record.status == "error" and "the engine cannot load" in record.error
