"""A plugin's measures are usable: ``regbench compare --fail-on measures.NAME`` gates on them (stores, JSON lines and
pytest-benchmark files) and ``regbench export --format csv`` has a ``measures.NAME`` column."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.record import RunRecord
from regbench.store.sqlite import Store


def records(norm: float, seeds=(0, 1, 2)) -> list[RunRecord]:
    out = []
    for seed in seeds:
        record = RunRecord("gd", "synth2d-translation", seed, status="ok", outcome="converged", key=f"k{norm}-{seed}")
        record.error_mean, record.wall_time_s, record.iterations = 0.1, 1.0, 10
        record.measures = {"heldout_parameter_norm": norm + 0.01 * seed, "label": "text, not a number"}
        out.append(record)
    return out


def store(path, norm: float):
    with Store(path) as db:
        for record in records(norm):
            db.add(record)
    return str(path)


def compare(a, b, *gates):
    args = ["compare", a, b, *(x for gate in gates for x in ("--fail-on", gate))]
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, args)


def test_a_measure_gate_trips_on_a_regression_and_passes_otherwise(tmp_path):
    a, b = store(tmp_path / "a.sqlite", 1.0), store(tmp_path / "b.sqlite", 1.5)
    tripped = compare(a, b, "measures.heldout_parameter_norm:+10%")
    assert tripped.exit_code == 1, tripped.output
    assert (
        "measures.heldout_parameter_norm:+10%: gd on synth2d-translation: median measures.heldout_parameter_norm"
        in (" ".join(tripped.output.split()))
    )
    passed = compare(a, store(tmp_path / "same.sqlite", 1.0), "measures.heldout_parameter_norm:+10%")
    assert passed.exit_code == 0, passed.output
    assert "passed: measures.heldout_parameter_norm:+10%" in passed.output
    assert "measures.heldout_parameter_norm" in passed.stdout  # a column of the table


def test_a_gate_on_a_measure_nobody_has_or_that_is_not_a_number_checks_nothing(tmp_path):
    a, b = store(tmp_path / "a.sqlite", 1.0), store(tmp_path / "b.sqlite", 1.0)
    for gate in ("measures.no_such_measure:+1", "measures.label:+1"):
        result = compare(a, b, gate)
        assert result.exit_code == 1 and "checks nothing" in " ".join(result.output.split()), result.output


def test_measure_gates_read_json_lines_and_pytest_benchmark_files(tmp_path):
    lines = tmp_path / "a.jsonl"
    lines.write_text("".join(r.to_json() + "\n" for r in records(1.0)))
    bench = tmp_path / "b.json"
    benchmarks = [
        {"name": f"test_registration[gd-synth2d-translation-{r.seed}]", "stats": {"median": 1.0}, "extra_info": {
            "strategy": r.strategy, "case": r.case, "seed": r.seed, "status": "ok", "measures": r.measures,
            "run_key": r.key,
        }}
        for r in records(2.0)
    ]  # fmt: skip
    bench.write_text(json.dumps({"benchmarks": benchmarks}))
    result = compare(str(lines), str(bench), "measures.heldout_parameter_norm:+50%")
    assert result.exit_code == 1 and "1 → 2" in " ".join(result.output.split()), result.output


def test_the_gate_syntax_names_measures():
    result = compare("a", "b", "measure.x:+1")
    assert result.exit_code == 2 and "measures.NAME" in " ".join(result.output.split())


class HeldOut:
    @regbench.hookimpl
    def regbench_evaluate(self, transform):
        return {"heldout_parameter_norm": float(sum(p * p for p in transform.GetParameters())) ** 0.5}


def test_a_plugin_measure_is_a_csv_column(tmp_path):
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[HeldOut()])
    record = regbench.run_one("gd", make_tiny_case(), params={"number_of_iterations": 3}, threads=1, pm=pm)
    assert record.measures["heldout_parameter_norm"] == pytest.approx(1.0, abs=5)
    with Store(tmp_path / "s.sqlite") as db:
        db.add(record)
    out = CliRunner().invoke(main, ["export", "--format", "csv", "--store", str(tmp_path / "s.sqlite")])
    assert out.exit_code == 0, out.output
    (row,) = csv.DictReader(io.StringIO(out.stdout))
    assert float(row["measures.heldout_parameter_norm"]) == record.measures["heldout_parameter_norm"]


def test_report_shows_a_plugin_measure_as_an_opt_in_column_and_in_the_html_csv(tmp_path):
    path = store(tmp_path / "a.sqlite", 1.0)  # heldout_parameter_norm 1.00, 1.01, 1.02: median 1.01
    runner = CliRunner(env={"COLUMNS": "250"})
    plain = runner.invoke(main, ["report", "--store", path, "--no-stats"])
    assert plain.exit_code == 0 and "heldout_parameter_norm" not in plain.stdout  # opt-in
    shown = runner.invoke(main, ["report", "--store", path, "--no-stats", "--measure", "heldout_parameter_norm"])
    assert shown.exit_code == 0, shown.output
    assert "heldout_parameter_norm" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if line.strip("│ ").startswith("gd "))
    assert row.rstrip(" │").split("│")[-1].strip() == "1.01"
    unknown = runner.invoke(main, ["report", "--store", path, "--measure", "nope"])
    assert unknown.exit_code == 2
    assert "'nope': no run has it; plugin measures: heldout_parameter_norm" in " ".join(unknown.output.split())
    html = runner.invoke(main, ["report", "--store", path, "--no-stats", "--html", str(tmp_path / "html")])
    assert html.exit_code == 0, html.output
    with (tmp_path / "html" / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["median heldout_parameter_norm (plugin measure)"] == "1.01"
