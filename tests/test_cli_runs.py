"""``regbench runs`` lists a store's runs with their keys, the keys ``regbench show`` takes (issue 22, item 14):
``show``'s error for an unknown key points to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.store.sqlite import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """gd at two learning rates on two tiny cases, seeds 0 and 1: eight runs, two solver labels."""
    pm = regbench.make_plugin_manager()
    path = tmp_path_factory.mktemp("runs") / "s.sqlite"
    with Store(path) as db:
        for transform in ("translation", "rigid"):
            for seed in (0, 1):
                for rate in (1.0, 2.0):
                    params = {"learning_rate": rate}
                    db.add(regbench.run_one("gd", make_tiny_case(transform), seed=seed, params=params, pm=pm))
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def listed(store: Path, *args: str) -> list[dict]:
    result = invoke("runs", "--store", str(store), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_runs_lists_every_run_with_its_key_and_verdict(store):
    with Store.read_only(store) as db:
        records = list(db.records())
    rows = listed(store)
    assert [r["key"] for r in rows] == [r.key for r in records]  # finishing order
    assert {r["strategy"] for r in rows} == {"gd[learning_rate=1.0]", "gd[learning_rate=2.0]"}  # as reports label
    cases = ("tiny-translation", "tiny-rigid")
    assert {(r["case"], r["seed"]) for r in rows} == {(case, seed) for case in cases for seed in (0, 1)}
    assert all(r["verdict"] in {"registered", "not registered", "not judged", "failed"} for r in rows)
    assert all(r["outcome"] for r in rows)

    table = invoke("runs", "--store", str(store))
    assert table.exit_code == 0
    for record in records:
        line = next(line for line in table.output.splitlines() if record.key in line)
        assert record.case in line and (record.outcome or "") in line
    assert "regbench show KEY" in table.output


def test_runs_filters_by_strategy_and_case_patterns(store):
    assert {r["case"] for r in listed(store, "-c", "*rigid")} == {"tiny-rigid"}
    assert len(listed(store, "-s", "g*", "-c", "tiny-translation,tiny-rigid")) == 8
    missing = invoke("runs", "--store", str(store), "-s", "lbfgs*")
    assert missing.exit_code == 2
    assert "no strategy matches 'lbfgs*'; valid: gd" in missing.output


def test_runs_of_a_missing_store_is_a_usage_error(tmp_path):
    result = invoke("runs", "--store", str(tmp_path / "none.sqlite"))
    assert result.exit_code == 2
    assert "none.sqlite" in result.output and "Traceback" not in result.output


def test_show_points_to_runs_and_takes_the_keys_it_lists(store):
    unknown = invoke("show", "ffffffffff", "--store", str(store))
    assert unknown.exit_code == 2
    assert f"`regbench runs --store {store}` lists the runs" in " ".join(unknown.output.split())
    key = listed(store, "-c", "tiny-rigid")[0]["key"]
    shown = invoke("show", key[:8], "--store", str(store), "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["key"] == key


def test_at_80_columns_each_run_is_one_line_with_a_key_show_takes(store):
    """Seen (issue 22, item 10): at 80 columns the key, strategy and case columns folded into 4-character pieces."""
    result = CliRunner().invoke(main, ["runs", "--store", str(store)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split() for line in lines if line.strip()[:1] in "0123456789abcdef" and "tiny-" in line]
    assert len(rows) == 8, result.output
    for key, strategy, case, seed, *rest in rows:
        assert len(key) == 12 and strategy.startswith("gd") and case.startswith("tiny-") and seed in {"0", "1"}
        assert " ".join(rest).startswith(("registered", "not registered", "failed", "not judged")), rest
        shown = invoke("show", key, "--store", str(store))
        assert shown.exit_code == 0 and case in shown.output, shown.output
