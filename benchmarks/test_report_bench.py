"""How long a report of a 10,000-run store takes (target: terminal summary + statistics in under 10 s).

pytest benchmarks/test_report_bench.py -s

The store holds real records (two strategies on two cases, with full traces and transforms) repeated under new
keys and seeds with their time and error scaled at random, so the bytes per run are those of real runs.
Printed: store size, load time, summary + statistics time (what `regbench report` does), and the HTML time.
"""

from __future__ import annotations

import random
import time

import pytest
from rich.console import Console

import regbench
from regbench.report import stats
from regbench.report.html import write_html
from regbench.report.sources import load_runs
from regbench.report.summary import summary_table
from regbench.report.tables import paired_tests_table, success_table
from regbench.store import Store

N_RUNS = 10_000
TARGET_S = 10.0
BASE = (
    ("lbfgs2", "synth2d-translation", {"number_of_iterations": 20}),
    ("lbfgs2", "synth2d-affine", {"number_of_iterations": 20}),
    ("gd", "synth2d-translation", {"number_of_iterations": 100}),
    ("gd", "synth2d-affine", {"number_of_iterations": 100}),
)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    pm = regbench.make_plugin_manager(entrypoints=False)
    base = [regbench.run_one(s, c, seed=0, params=p, threads=1, pm=pm).to_dict() for s, c, p in BASE]
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("bench") / "big.sqlite"
    store = Store(path)
    for i in range(N_RUNS):
        data = dict(base[i % len(base)])
        data.update(seed=i // len(base), key=f"bench{i:06d}")
        for name in ("wall_time_s", "error_mean", "final_metric_dense"):
            if data.get(name) is not None and data[name] < 1e300:
                data[name] *= rng.uniform(0.5, 2.0)
        store.add(regbench.RunRecord.from_dict(data))
    store.close()
    return path


def test_report_time_of_a_10000_run_store(big_store, capsys):
    console = Console(file=open("/dev/null", "w"), width=200)  # noqa: SIM115  render, but not into the log
    start = time.perf_counter()
    runs = load_runs(big_store)
    loaded = time.perf_counter()
    console.print(summary_table(runs))
    console.print(summary_table(runs, by="case"))
    hits = stats.solved(runs)
    _, has_truth = stats.quality(runs)
    console.print(success_table(runs, hits, has_truth))
    console.print(paired_tests_table(runs, ("error_mean", "wall_time_s")))
    stats.ert_table(runs, hits)
    stats.runtime_ecdfs(runs, hits)
    stats.time_profile(runs, hits[:, 3])
    done = time.perf_counter()
    size_mb = big_store.stat().st_size / 1e6
    with capsys.disabled():
        print(
            f"\n{len(runs)} runs ({size_mb:.0f} MB store): load {loaded - start:.2f} s, summary + statistics "
            f"{done - loaded:.2f} s, total {done - start:.2f} s (target < {TARGET_S:.0f} s)"
        )
    assert len(runs) == N_RUNS
    assert done - start < TARGET_S


def test_html_report_time_of_a_10000_run_store(big_store, tmp_path, capsys):
    start = time.perf_counter()
    result = write_html(load_runs(big_store), tmp_path / "html")
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nHTML report of {N_RUNS} runs with {len(result.files) - 2} figures: {elapsed:.2f} s")
    assert result.index.is_file()
