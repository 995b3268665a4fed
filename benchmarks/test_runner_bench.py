"""The runner's own costs, printed in one run: ``pytest benchmarks/test_runner_bench.py``.

- a matrix's wall time against its physical limit (the runs' time ÷ workers, target ≤ 1.05) on 16 runs of 1–3 s
  and on the default suite, and 2 workers over 1 on the 16 runs (target ≥ 1.85), start-up included;
- longest expected first against arrival order, on the same 16 runs;
- isolation cost per run: a run through a worker process against the same run in process (target ≤ 30 ms);
- peak and current RSS of one worker after 100 and 1,000 short runs (target: flat).

Every figure is printed with its target; a miss fails the test. The machine must be otherwise idle: another
process on the two cores takes its share of the speedup.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from regbench.record import RunRecord
from regbench.runner.executors import LocalExecutor
from regbench.runner.isolation import IsolatedWorker, run_isolated
from regbench.runner.matrix import Matrix, parse_param_option, plan
from regbench.runner.run_matrix import run_matrix
from regbench.runner.schedule import RuntimeModel
from regbench.runner.worker import WorkerState, plugin_manager

MATRIX_SPEEDUP_TARGET = 1.85
WALL_OVER_LIMIT_TARGET = 1.05
ROUNDS = 2  # of the 16-run matrix per worker count: the machine is shared, the best round is its capability
ISOLATION_TARGET_MS = 30.0
RSS_GROWTH_TARGET_MB = 10.0  # between run 100 and run 1,000

SHORT = ["gd.number_of_iterations=5"]  # ~20 ms


def matrix(params: list[str], seeds: int, case: str = "synth2d-affine") -> Matrix:
    return Matrix(
        strategies=["gd"], cases=[case], seeds=list(range(seeds)), params=[parse_param_option(p) for p in params]
    )


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[regbench runner] {text}")


@dataclass
class Timed:
    """One matrix run: its wall time from the call to the return (worker start-up and planning included) and
    what its runs took inside the workers."""

    workers: int
    wall_s: float
    records: list[RunRecord]

    @property
    def run_s(self) -> float:  # each run as its worker timed it: harness, Execute, evaluation
        return sum(r.wall_time_s or 0.0 for r in self.records)

    @property
    def execute_s(self) -> float:  # SimpleITK's Execute() calls alone
        return sum(s.wall_time_s for r in self.records for s in r.segments)

    @property
    def evaluation_s(self) -> float:  # the evaluation after each run (dense metric, trace positions)
        return sum(r.evaluation_time_s or 0.0 for r in self.records)

    def over_limit(self, seconds: float) -> float:
        """Wall time over the physical limit ``seconds`` ÷ workers."""
        return self.wall_s / (seconds / self.workers)

    def line(self) -> str:
        return (
            f"{self.workers} worker(s): wall {self.wall_s:.2f} s; runs {self.run_s:.2f} s "
            f"(Execute {self.execute_s:.2f} s, evaluation {self.evaluation_s:.2f} s); wall ÷ (runs ÷ workers) "
            f"{self.over_limit(self.run_s):.3f}, wall ÷ (Execute ÷ workers) {self.over_limit(self.execute_s):.3f}"
        )


def timed_run_matrix(chosen: Matrix, workers: int, tmp_path: Path, **options) -> Timed:
    """``run_matrix`` on a fresh store, timed from the call (so worker start-up and planning count)."""
    store = tmp_path / f"w{workers}-{time.monotonic_ns()}.sqlite"
    start = time.perf_counter()
    records = run_matrix(chosen, store, workers=workers, **options)
    return Timed(workers, time.perf_counter() - start, records)


def uneven_matrix(caps: str = "300,500,700,900") -> Matrix:
    """Runs of 1–3 s: gd on the 2D affine case capped at ``caps`` iterations, four seeds each (a window that
    never fills, so every run goes to its cap): 16 runs by default."""
    params = [f"gd.number_of_iterations={caps}", "gd.convergence_window_size=1000", "gd.learning_rate=0.2"]
    return matrix(params, 4)


def test_matrix_wall_time_is_near_its_physical_limit(capsys, tmp_path):
    """The issue-15 targets on 16 runs of 1–3 s: wall ≤ 1.05 × the runs' time ÷ workers (1 and 2 workers),
    and 2 workers ≥ 1.85 × as fast as 1. Printed beside: the ratio to SimpleITK's Execute time alone, and the
    same on 8 runs, where the fixed start-up (a worker's interpreter and imports, ~0.3 s) weighs twice as much."""
    load = os.getloadavg()
    rounds = {1: [], 2: []}
    for _ in range(ROUNDS):  # interleaved, so a busy moment hits both; each configuration's best round counts
        for workers in rounds:
            rounds[workers].append(timed_run_matrix(uneven_matrix(), workers, tmp_path))
    one, two = (min(rounds[w], key=lambda t: t.over_limit(t.run_s)) for w in (1, 2))
    eight = timed_run_matrix(uneven_matrix("300,900"), 2, tmp_path)
    speedup = min(t.wall_s for t in rounds[1]) / min(t.wall_s for t in rounds[2])
    every = "; ".join(
        f"{w} worker(s) " + ", ".join(f"{t.over_limit(t.run_s):.3f}" for t in timed) for w, timed in rounds.items()
    )
    report(
        capsys,
        f"{len(two.records)}-run matrix of 1–3 s runs, best of {ROUNDS} rounds (load average {load[0]:.2f} "
        f"{load[1]:.2f} before):\n  {one.line()}\n  {two.line()}\n"
        f"  every round, wall ÷ (runs ÷ workers): {every}\n"
        f"  speedup of 2 workers over 1: {speedup:.2f} (target ≥ {MATRIX_SPEEDUP_TARGET}); target wall ÷ (runs ÷ "
        f"workers) ≤ {WALL_OVER_LIMIT_TARGET}\n"
        f"  {len(eight.records)} runs (300 and 900 iterations), {eight.line()}; load average after "
        f"{os.getloadavg()[0]:.2f}",
    )
    timed = [t for ts in rounds.values() for t in ts] + [eight]
    assert all(r.status == "ok" for t in timed for r in t.records)
    assert all(len(t.records) == 16 for ts in rounds.values() for t in ts) and len(eight.records) == 8
    assert one.over_limit(one.run_s) <= WALL_OVER_LIMIT_TARGET
    assert two.over_limit(two.run_s) <= WALL_OVER_LIMIT_TARGET
    assert speedup >= MATRIX_SPEEDUP_TARGET


def test_longest_first_beats_arrival_order(capsys):
    """The 16 uneven runs on 2 workers, started in arrival order against longest expected first (the model
    learning from the first runs): the order alone, measured in one run."""
    runs = plan(uneven_matrix(), plugin_manager(), threads=1)
    load = os.getloadavg()[0]
    walls = {}
    for name, model in (("arrival order", ArrivalOrder()), ("longest first", RuntimeModel())):
        start = time.perf_counter()
        records: list[RunRecord] = []
        with LocalExecutor(2) as executor:
            executor.run(runs, records.append, model=model)
        walls[name] = (time.perf_counter() - start, sum(r.wall_time_s for r in records))
    line = "; ".join(
        f"{name}: wall {w:.2f} s for {s:.2f} s of runs ({w / (s / 2):.3f}×)" for name, (w, s) in walls.items()
    )
    report(capsys, f"2 workers, {len(runs)} runs, load average {load:.2f}: {line}")
    assert walls["longest first"][0] <= walls["arrival order"][0] * 1.02  # never worse, beyond noise


class ArrivalOrder(RuntimeModel):
    """A model that knows nothing: the queue then starts runs in the order it holds them."""

    def expected(self, run) -> float | None:
        return None


def test_default_suite_wall_time_is_near_its_physical_limit(capsys, tmp_path, monkeypatch):
    """The built-in default suite (what ``regbench run`` runs on a fresh install: the docs' example plugin, if
    installed, is blocked) on the default workers, from a fresh store. About a minute on 2 cores."""
    from regbench.runner.run_matrix import default_workers

    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "example")  # the workers inherit it
    workers = default_workers()
    load = os.getloadavg()
    timed = timed_run_matrix(Matrix(), workers, tmp_path)
    report(
        capsys,
        f"default suite, {len(timed.records)} runs (load average {load[0]:.2f} {load[1]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after): {timed.line()} (target wall ÷ (runs ÷ workers) ≤ {WALL_OVER_LIMIT_TARGET})",
    )
    # What the order alone is worth on this suite: the measured run times list-scheduled on the workers in the
    # plan's order (the old runner's) and longest first with the times known beforehand (the best an order does).
    seconds = [r.wall_time_s or 0.0 for r in timed.records]
    in_plan_order, known_longest_first = makespan(seconds, workers), makespan(sorted(seconds, reverse=True), workers)
    limit = timed.run_s / workers
    report(
        capsys,
        f"  the same run times, simulated: plan order {in_plan_order:.1f} s ({in_plan_order / limit:.3f}×), longest "
        f"first with the times known {known_longest_first:.1f} s ({known_longest_first / limit:.3f}×); measured "
        f"{timed.wall_s:.1f} s",
    )
    assert timed.over_limit(timed.run_s) <= WALL_OVER_LIMIT_TARGET


def makespan(seconds: list[float], workers: int) -> float:
    """When the last of ``seconds`` ends, each started in turn on the first free worker."""
    free = [0.0] * workers
    for length in seconds:
        free[free.index(min(free))] += length
    return max(free)


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
