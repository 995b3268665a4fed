"""ANTs' strategies through antspyx (skipped where it is not installed): a record whose error and dense metric equal an
independent evaluation of the returned transform, whose per-level iterations are ANTs' own DIAGNOSTIC output, whose
inferred stop texts classify and say they are inferred, a seed and one thread giving the same record twice, and the
wrapper-equivalence comparison with SimpleITK's conjugate gradient set up as ANTs sets it. Without antspyx: the
strategies are listed as unavailable with the pip line, and the stop texts still classify."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import re

import pytest
from click.testing import CliRunner
from regbench_plugins import ants_map

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main as cli_main

try:
    importlib.metadata.version("antspyx")
    HAVE_ANTS = True
except importlib.metadata.PackageNotFoundError:
    HAVE_ANTS = False
needs_ants = pytest.mark.skipif(not HAVE_ANTS, reason="antspyx is not installed (pip install 'regbench[ants]')")


def independent(case, record):
    """The built-in measures of the record's returned transform, evaluated apart from the run."""
    return regbench.evaluate_transform(case, regbench.transform_from_dict(record.transform), record)


def _rows_per_block(text):
    """Per DIAGNOSTIC block of ANTs' output, its iteration rows (counted here, apart from the plugin's parser)."""
    counts = []
    for line in text.splitlines():
        if line.startswith("DIAGNOSTIC,Iteration"):
            counts.append(0)
        elif re.match(r"\s*\d+DIAGNOSTIC,\s*\d+,", line):
            counts[-1] += 1
    return counts


@pytest.fixture()
def outputs(monkeypatch):
    from regbench_plugins import ants

    seen = []

    def read(text):
        seen.append(text)
        return ants_map.read_diagnostics(text)

    monkeypatch.setattr(ants, "read_diagnostics", read)
    return seen


def _similarity_case():
    """The tiny rigid pair under a similarity model (its truth is a similarity of scale 1)."""
    tiny = make_tiny_case("rigid")
    return regbench.Case("tiny-similarity", tiny.loader, dataclasses.replace(tiny.setup, transform="similarity"))


@needs_ants
@pytest.mark.parametrize("model", ["affine", "rigid", "translation", "similarity"])
def test_an_ants_run_is_measured_like_a_simpleitk_run(outputs, model):
    case = _similarity_case() if model == "similarity" else make_tiny_case(model)
    record = regbench.run_one("ants", case, seed=1, threads=1)
    assert record.status == "ok", record.error
    again = independent(case, record)
    assert record.error_mean == pytest.approx(again["error_mean"], rel=1e-9)
    assert record.final_metric_dense == pytest.approx(again["final_metric_dense"], rel=1e-9)
    assert record.error_mean < 0.1 * record.initial_error_mean  # it registered: the transform is fixed → moving
    (text,) = outputs
    assert [level.iterations for level in record.levels] == _rows_per_block(text) and record.iterations > 0
    assert record.trace.metric[:3] == [float(v) for v in re.findall(r"DIAGNOSTIC,\s+\d+, ([^,]+),", text)[:3]]
    caps = ants_map.schedule(2, 0)  # ANTs' schedule for the case's two levels: 1200 then 10
    for level, cap in zip(record.levels, caps, strict=True):
        assert level.stop_inferred is True and level.stop_condition.startswith("ANTs (inferred)")
        assert level.stop_category == ("max_iterations" if level.iterations == cap else "converged")
    assert record.levels[-1].stop_category == "max_iterations"  # ANTs' 10 iterations at full resolution
    engine = record.segments[0].engine
    assert engine["engine"] == "ANTs" and engine["threads"] == 1 and engine["seed"] == 2  # the sampling seed
    assert record.versions["antspyx"] == importlib.metadata.version("antspyx")
    model_class = {"translation": "Translation", "rigid": "Euler", "similarity": "Similarity", "affine": "Affine"}
    assert regbench.transform_from_dict(record.transform).GetName().startswith(model_class[model])  # the model's


@needs_ants
def test_ants_starts_where_simpleitk_starts_and_returns_the_whole_map():
    # a jittered start several px off: ANTs' result (its initial transform collapsed in) is the whole map
    tiny = make_tiny_case("affine")
    setup = dataclasses.replace(tiny.setup, initial_jitter=2.0, initial_jitter_angle=3.0)
    case = regbench.Case("tiny-jittered", tiny.loader, setup)
    record = regbench.run_one("ants", case, seed=1, threads=1)
    assert record.status == "ok", record.error
    assert record.initial_error_mean > 5 and record.error_mean < 0.02 * record.initial_error_mean
    assert record.error_mean == pytest.approx(independent(case, record)["error_mean"], rel=1e-9)


@needs_ants
def test_a_seed_and_one_thread_give_the_same_ants_record_twice():
    tiny = make_tiny_case("affine")
    setup = dataclasses.replace(tiny.setup, metric="mattes", sampling="regular", sampling_percentage=(0.5,))
    case = regbench.Case("tiny-mattes", tiny.loader, setup)
    first, second = (regbench.run_one("ants", case, seed=4, threads=1) for _ in range(2))
    assert first.status == second.status == "ok", (first.error, second.error)
    assert first.transform == second.transform and first.trace.metric == second.trace.metric
    assert first.deterministic is True
    other = regbench.run_one("ants", case, seed=5, threads=1)  # the seed reaches ANTs' sampling
    assert other.trace.metric != first.trace.metric


@needs_ants
def test_ants_refuses_what_it_has_no_counterpart_for():
    tiny = make_tiny_case("affine")
    for change, message in (
        ({"transform": "bspline"}, "transform 'bspline' has no ANTs linear stage"),
        ({"interpolator": "bspline"}, "interpolator 'bspline' has no ANTs counterpart"),
        ({"sampling": "random", "sampling_percentage": (0.5, 0.2)}, "takes one percentage per stage"),
    ):
        case = regbench.Case("tiny-refused", tiny.loader, dataclasses.replace(tiny.setup, **change))
        record = regbench.run_one("ants", case)
        assert record.status == "error" and message in record.error, record.error


@needs_ants
def test_ants_affine_and_simpleitk_cg_set_up_as_ants_agree():
    from regbench_plugins.ants_cg import compare_wrappers

    cases = [make_tiny_case("affine"), make_tiny_case("rigid")]
    rows = compare_wrappers(cases, seeds=(1, 2), number_of_iterations=100)
    assert len(rows) == 4
    for row in rows:
        assert row["ants_status"] == row["cg_status"] == "ok", row
        assert row["within_tolerance"], row  # |Δ foreground error| ≤ 0.05 px
        # where they differ, the records say how: both per-level iteration counts and ANTs' inferred stops
        assert len(row["ants_iterations"]) == len(row["cg_iterations"]) == 2
        assert all(stop in ("converged", "max_iterations") for stop in row["ants_stops"])
        assert row["cg_stop"] in ("converged", "max_iterations")


def test_inferred_ants_stop_texts_classify_without_antspyx():
    pm = regbench.make_plugin_manager(entrypoints=False)
    assert regbench.classify_stop(ants_map.stop_text(0, 10, 10), pm) == "max_iterations"
    assert regbench.classify_stop(ants_map.stop_text(1, 14, 2100), pm) == "converged"
    assert ants_map.schedule(2, 0) == [1200, 10] and ants_map.schedule(5, 0) == [2100, 2100, 1200, 1200, 10]


def test_without_antspyx_the_strategies_are_listed_unavailable_with_the_pip_line(monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "antspyx":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    result = CliRunner().invoke(cli_main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {s["name"]: s for s in json.loads(result.output)["strategies"]}
    assert listed["ants"]["available"] is False and listed["ants"]["engine"] == "ANTs"
    assert "pip install 'regbench[ants]'" in listed["ants"]["unavailable"]
    assert listed["cg-ants"]["available"] is True  # SimpleITK's side needs no extra
