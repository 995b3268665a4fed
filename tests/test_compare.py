"""``regbench compare``: deltas, gate parsing and exit codes, on stores and pytest-benchmark JSON files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.report.gates.compare import GateError, check, check_values, compare, parse_gate
from regbench.report.load.columns import from_records
from regbench.store.sqlite import Store


def rec(strategy="s", case="c", seed=0, **fields) -> regbench.RunRecord:
    fields.setdefault("outcome", "converged")
    return regbench.RunRecord(strategy=strategy, case=case, seed=seed, key=f"{strategy}{case}{seed}", **fields)


def store(path, records) -> str:
    s = Store(path)
    for r in records:
        s.add(r)
    s.close()
    return str(path)


def baseline(error=1.0, time=1.0, outcome="converged"):
    return [rec(seed=i, error_mean=error, wall_time_s=time, outcome=outcome) for i in range(3)]


@pytest.mark.parametrize(
    ("text", "field", "amount", "relative", "category"),
    [
        ("error_mean:+10%", "error_mean", 10.0, True, None),
        ("wall_time_s:+20%", "wall_time_s", 20.0, True, None),
        ("iterations:+5", "iterations", 5.0, False, None),
        ("error_mean_fg:-2.5%", "error_mean_fg", -2.5, True, None),
        ("outcome:diverged", "outcome", None, False, "diverged"),
        ("status:timeout", "status", None, False, "timeout"),
    ],
)
def test_parse_gate(text, field, amount, relative, category):
    gate = parse_gate(text)
    assert (gate.field, gate.amount, gate.relative, gate.category) == (field, amount, relative, category)


@pytest.mark.parametrize("text", ["error_mean:10%", "error_mean+10%", "speed:+10%", "outcome:", "colour:red", "x"])
def test_malformed_gates_name_the_valid_syntax(text):
    with pytest.raises(GateError, match="FIELD:\\+N%"):
        parse_gate(text)


def test_gates_on_deltas():
    a = from_records(baseline(error=1.0, time=1.0))
    b = from_records(
        [*baseline(error=1.2, time=1.05), rec(seed=9, error_mean=1.2, wall_time_s=1.0, outcome="diverged")]
    )
    deltas = compare(a, b)
    assert len(deltas) == 1
    assert check(parse_gate("error_mean:+10%"), deltas)  # +20%
    assert not check(parse_gate("error_mean:+25%"), deltas)
    assert not check(parse_gate("wall_time_s:+20%"), deltas)
    assert check(parse_gate("error_mean:+0.1"), deltas)  # absolute +0.2
    assert not check(parse_gate("error_mean:-10%"), deltas)  # that gate trips on a decrease
    (message,) = check(parse_gate("outcome:diverged"), deltas)
    assert "s on c" in message and "25%" in message
    assert not check(parse_gate("outcome:converged"), deltas)  # a smaller share is not a regression


def test_compare_cli_exit_codes(tmp_path):
    a = store(tmp_path / "a.sqlite", baseline())
    same = store(tmp_path / "same.sqlite", baseline())
    worse = store(tmp_path / "worse.sqlite", baseline(error=1.5, time=1.3, outcome="diverged"))
    runner = CliRunner(env={"COLUMNS": "250"})
    gates = ["--fail-on", "error_mean:+10%", "--fail-on", "outcome:diverged", "--fail-on", "wall_time_s:+20%"]

    ok = runner.invoke(main, ["compare", a, same, *gates])
    assert ok.exit_code == 0, ok.output
    assert "passed" in ok.output

    bad = runner.invoke(main, ["compare", a, worse, *gates])
    assert bad.exit_code == 1
    assert "error_mean:+10%: s on c" in bad.output
    assert "outcome:diverged" in bad.output and "wall_time_s:+20%" in bad.output

    malformed = runner.invoke(main, ["compare", a, same, "--fail-on", "error_mean:ten"])
    assert malformed.exit_code == 2
    assert "FIELD:+N%" in malformed.output and "Traceback" not in malformed.output

    missing = runner.invoke(main, ["compare", a, str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "nope.json" in missing.output


def bench_json(path, error, median):
    benchmarks = [
        {
            "name": f"test_registration[{strategy}-c]",
            "params": {},
            "stats": {"median": median, "mean": median},
            "extra_info": {
                "strategy": strategy,
                "case": "c",
                "status": "ok",
                "outcome": "converged",
                "optimizer_iterations": 10,
                "error_mean": error,
            },
        }
        for strategy in ("s", "t")
    ]
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    return str(path)


def test_compare_pytest_benchmark_files(tmp_path):
    old = bench_json(tmp_path / "0001.json", error=1.0, median=0.1)
    new = bench_json(tmp_path / "0002.json", error=1.0, median=0.15)
    runner = CliRunner(env={"COLUMNS": "250"})
    quality = runner.invoke(main, ["compare", old, new, "--fail-on", "error_mean:+10%"])
    assert quality.exit_code == 0, quality.output
    timing = runner.invoke(main, ["compare", old, new, "--fail-on", "wall_time_s:+20%"])
    assert timing.exit_code == 1
    assert "+50%" in timing.output
    as_json = runner.invoke(main, ["compare", old, new, "--json"])
    data = json.loads(as_json.output)
    assert [(d["strategy"], d["b"]["medians"]["wall_time_s"]) for d in data] == [("s", 0.15), ("t", 0.15)]


def test_a_category_gate_naming_no_possible_value_is_refused(tmp_path):
    a = store(tmp_path / "a.sqlite", baseline())
    runner = CliRunner(env={"COLUMNS": "250"})
    for gate, listed in (
        ("outcome:nosuch", ("diverged", "no_overlap", "timeout", "line_search")),
        ("stop_category:diverged", ("max_iterations", "unknown")),  # an outcome, never a stop category
        ("status:converged", ("ok", "error", "crashed", "timeout")),
    ):
        result = runner.invoke(main, ["compare", a, a, "--fail-on", gate])
        assert result.exit_code == 2, (gate, result.output)
        assert "passed" not in result.output and "Traceback" not in result.output
        assert all(name in result.output for name in listed), result.output
    # a category a plugin's stop classifier produced is valid where it occurs in the data
    plugin = store(tmp_path / "p.sqlite", [rec(seed=0, stop_category="my_stop", outcome="my_stop")])
    custom = runner.invoke(main, ["compare", plugin, plugin, "--fail-on", "stop_category:my_stop"])
    assert custom.exit_code == 0, custom.output


def test_gates_that_check_nothing_fail(tmp_path):
    a = store(tmp_path / "a.sqlite", baseline())
    other = store(tmp_path / "other.sqlite", [rec(strategy="t", case="d", error_mean=1.0, wall_time_s=1.0)])
    runner = CliRunner(env={"COLUMNS": "250"})
    for gate in ("outcome:diverged", "wall_time_s:+20%"):
        result = runner.invoke(main, ["compare", a, other, "--fail-on", gate])
        assert result.exit_code == 1, (gate, result.output)
        assert "share no strategy × case" in result.output and "checks nothing" in result.output
        assert "passed" not in result.output
    no_gates = runner.invoke(main, ["compare", a, other])
    assert no_gates.exit_code == 0 and "warning: A and B share no strategy × case" in no_gates.output
    # shared groups, but none has the gated measure: the hint names the landmark TRE they do have
    landmarks = [rec(seed=i, wall_time_s=1.0, measures={"tre_mean": 0.5}) for i in range(2)]
    lm = store(tmp_path / "lm.sqlite", landmarks)
    unchecked = runner.invoke(main, ["compare", lm, lm, "--fail-on", "error_mean:+10%"])
    assert unchecked.exit_code == 1
    assert "no strategy × case has error_mean in both A and B (they have tre_mean" in unchecked.output
    tre = runner.invoke(main, ["compare", lm, lm, "--fail-on", "tre_mean:+10%"])
    assert tre.exit_code == 0 and "passed: tre_mean:+10%" in tre.output
    assert "tre_mean" in tre.output.split("passed")[0]  # the table shows the TRE column


def test_check_values_accepts_known_and_seen_categories():
    runs = from_records([rec(outcome="diverged", stop_category="converged")])
    check_values([parse_gate("outcome:timeout"), parse_gate("stop_category:converged")], runs)
    with pytest.raises(GateError, match=r"Valid outcome values: error, .*worse_than_start, .*converged"):
        check_values([parse_gate("outcome:diverge")], runs)
