"""The example plugin of the docs, installed with pip as a user would: loaded from its entry point, listed, run
from the command line, and meeting the strategy contract. CI installs it; elsewhere these tests skip."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.testing import check_strategy

try:
    DIST = importlib.metadata.distribution("regbench-example")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "the example plugin is not installed: pip install ./docs/plugins/regbench-example (CI does)",
        allow_module_level=True,
    )

STRATEGIES = ("example-powell", "example-1p1", "example-powell-levels")
CASE = "example-blobs-rigid"


@pytest.fixture
def pm(monkeypatch):
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return regbench.make_plugin_manager()


def test_the_entry_point_is_in_the_regbench_group():
    assert [(ep.group, ep.name, ep.value) for ep in DIST.entry_points] == [("regbench", "example", "regbench_example")]


def test_strategies_and_case_carry_the_distribution(pm):
    for item in [*(pm.get_strategy(name) for name in STRATEGIES), pm.get_case(CASE)]:
        assert item.provenance.as_dict() == {
            "plugin": "example",
            "distribution": "regbench-example",
            "version": DIST.version,
        }


def test_regbench_list_shows_the_plugin(monkeypatch):
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    result = CliRunner().invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    strategies = {s["name"]: s for s in listed["strategies"]}
    assert set(STRATEGIES) <= set(strategies)
    assert strategies["example-powell"]["provenance"]["distribution"] == "regbench-example"
    assert CASE in {c["name"] for c in listed["cases"]}


def test_blocking_or_disabling_hides_the_plugin(monkeypatch):
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "example")
    assert "example-powell" not in regbench.make_plugin_manager().strategies()
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS")
    monkeypatch.setenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert CASE not in regbench.make_plugin_manager().cases()


def test_regbench_run_solves_the_example_case(monkeypatch, tmp_path):
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)  # wherever run keeps its results, not in the repository
    result = CliRunner().invoke(main, ["run", "-s", "example-powell", "-c", CASE, "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    record = record[0] if isinstance(record, list) else record
    assert record["status"] == "ok" and record["stop_category"] == "converged"
    assert record["error_mean"] < 0.05 * record["initial_error_mean"]
    assert record["provenance"]["strategy"]["distribution"] == "regbench-example"


@pytest.mark.parametrize("name", STRATEGIES)
def test_installed_strategies_pass_the_contract(pm, name):
    check_strategy(pm.get_strategy(name), pm=pm)
