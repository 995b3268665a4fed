"""The runner's own costs, printed in one run: ``pytest benchmarks/test_runner_bench.py``.

- speedup of 2 local workers over 1 on a 16-run matrix (target ≥ 1.9 on two free cores);
- isolation cost per run: a run through a worker process against the same run in process (target ≤ 30 ms);
- peak and current RSS of one worker after 100 and 1,000 short runs (target: flat).

Every figure is printed with its target; a miss fails the test. The machine must be otherwise idle: another
process on the two cores takes its share of the speedup.
"""

from __future__ import annotations

import os
import statistics
import time

import psutil

from regbench.executors import LocalExecutor
from regbench.isolation import IsolatedWorker, run_isolated
from regbench.matrix import Matrix, parse_param_option, plan
from regbench.record import RunRecord
from regbench.worker import WorkerState, plugin_manager

SPEEDUP_TARGET = 1.9
ISOLATION_TARGET_MS = 30.0
RSS_GROWTH_TARGET_MB = 10.0  # between run 100 and run 1,000

# ~1 s each and all the same length: a window that never fills, so every level runs to its cap.
STEADY = ["gd.number_of_iterations=300", "gd.convergence_window_size=1000", "gd.learning_rate=0.2"]
SHORT = ["gd.number_of_iterations=5"]  # ~20 ms


def matrix(params: list[str], seeds: int, case: str = "synth2d-affine") -> Matrix:
    return Matrix(
        strategies=["gd"], cases=[case], seeds=list(range(seeds)), params=[parse_param_option(p) for p in params]
    )


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[regbench runner] {text}")


def timed_matrix(workers: int, runs) -> tuple[float, list[RunRecord]]:
    records: list[RunRecord] = []
    start = time.perf_counter()
    LocalExecutor(workers).run(runs, records.append)
    return time.perf_counter() - start, records


def test_two_workers_are_twice_as_fast_as_one(capsys):
    runs = plan(matrix(STEADY, 16), plugin_manager(), threads=1)
    assert len(runs) == 16
    load = os.getloadavg()[0]
    one, records_one = timed_matrix(1, runs)
    two, records_two = timed_matrix(2, runs)
    speedup = one / two
    # Runs slower side by side than alone mean the cores were not free (another process, or memory bandwidth).
    alone = statistics.median(r.wall_time_s for r in records_one)
    paired = statistics.median(r.wall_time_s for r in records_two)
    report(
        capsys,
        f"16-run matrix (1 ITK thread; median run {alone:.2f} s alone, {paired:.2f} s side by side): "
        f"1 worker {one:.2f} s, 2 workers {two:.2f} s, "
        f"speedup {speedup:.2f} (target ≥ {SPEEDUP_TARGET}; load average before: {load:.1f})",
    )
    assert all(r.status == "ok" for r in records_one + records_two)
    assert speedup >= SPEEDUP_TARGET


def test_isolation_costs_little_per_run(capsys):
    runs = plan(matrix(SHORT, 100, case="synth2d-translation"), plugin_manager(), threads=1)
    specs = [run.spec for run in runs]
    state = WorkerState()
    worker = IsolatedWorker()
    here, there = [], []
    try:
        start = time.perf_counter()
        run_isolated(worker, specs[0], timeout=None)
        first = time.perf_counter() - start  # worker start-up + case load + one run
        state.run(specs[0])  # load the case here too
        # Interleaved, and medians: another process taking the cores for a while hits both sides alike.
        for spec in specs:
            start = time.perf_counter()
            state.run(spec)
            here.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_isolated(worker, spec, timeout=60)
            there.append(time.perf_counter() - start)
    finally:
        worker.close()
    in_process, isolated = statistics.median(here), statistics.median(there)
    cost_ms = (isolated - in_process) * 1000
    report(
        capsys,
        f"per run over {len(specs)} runs: in process {in_process * 1000:.1f} ms, isolated {isolated * 1000:.1f} ms, "
        f"isolation cost {cost_ms:.1f} ms (target ≤ {ISOLATION_TARGET_MS:g}); a worker's first run (start-up "
        f"included) {first:.2f} s",
    )
    assert cost_ms <= ISOLATION_TARGET_MS


def test_memory_stays_flat_over_many_runs_in_one_worker(capsys, total=1000):
    runs = plan(matrix(SHORT, total, case="synth2d-translation"), plugin_manager(), threads=1)
    worker = IsolatedWorker()
    marks = {}
    try:
        for i, run in enumerate(runs, start=1):
            record = run_isolated(worker, run.spec, timeout=60)
            assert isinstance(record, RunRecord) and record.status == "ok"
            if i in (100, total):
                rss = psutil.Process(worker.proc.pid).memory_info().rss / 2**20
                marks[i] = (record.peak_rss_mb, rss)
        assert worker.runs == total, "one worker process ran every run"
    finally:
        worker.close()
    (peak_100, rss_100), (peak_end, rss_end) = marks[100], marks[total]
    report(
        capsys,
        f"one worker, {total} short runs: peak RSS {peak_100:.1f} MB after 100, {peak_end:.1f} MB after {total}; "
        f"current RSS {rss_100:.1f} → {rss_end:.1f} MB (target: growth ≤ {RSS_GROWTH_TARGET_MB:g} MB)",
    )
    assert peak_end - peak_100 <= RSS_GROWTH_TARGET_MB
