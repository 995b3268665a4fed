"""The pytest-benchmark route a newcomer takes after the README's plain install (issue 22, item 9): the benchmarks
collect without pytest-timeout, and `show` says what a pytest-benchmark file holds instead of "0 records"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from regbench.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_benchmarks_collect_without_pytest_timeout():
    env = {**os.environ, "REGBENCH_BENCH_CASES": "synth2d-translation", "REGBENCH_BENCH_STRATEGIES": "gd"}
    command = [sys.executable, "-m", "pytest", "-p", "no:timeout", "-p", "no:cacheprovider", "--collect-only"]
    done = subprocess.run(
        [*command, "-q", "benchmarks/test_registration.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INTERNALERROR" not in done.stdout + done.stderr


def benchmark_file(path: Path) -> Path:
    benchmarks = [
        {
            "name": f"test_registration[gd-synth2d-translation-{seed}]",
            "fullname": f"benchmarks/test_registration.py::test_registration[gd-synth2d-translation-{seed}]",
            "params": {"strategy": "gd", "case": "synth2d-translation", "seed": seed},
            "stats": {"median": 0.1},
            "extra_info": {"strategy": "gd", "case": "synth2d-translation", "run_key": f"k{seed}", "status": "ok"},
        }
        for seed in (0, 1)
    ]
    path.write_text(json.dumps({"benchmarks": benchmarks}), encoding="utf-8")
    return path


def test_show_says_what_a_pytest_benchmark_file_holds(tmp_path):
    out = benchmark_file(tmp_path / "out.json")
    for args in (["show", str(out)], ["show", "k0", "--store", str(out)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "a pytest-benchmark file: it holds the summaries of 2 benchmark runs" in text, text
        assert "holds 0 records" not in text and "not a readable SQLite file" not in text
    assert CliRunner().invoke(main, ["report", "--store", str(out), "--no-stats"]).exit_code == 0


def test_show_finds_a_key_in_a_json_lines_record_file(tmp_path):
    import regbench
    from regbench.cases.tiny import make_tiny_case

    records = [regbench.run_one("gd", make_tiny_case(), seed=s) for s in (0, 1)]
    lines = tmp_path / "runs.jsonl"
    lines.write_text("\n".join(r.to_json() for r in records), encoding="utf-8")
    result = CliRunner().invoke(main, ["show", records[1].key[:8], "--store", str(lines), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["seed"] == 1
