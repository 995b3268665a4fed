"""The harness's own cost, printed in one run: ``pytest benchmarks/test_harness_overhead.py -s``.

One run through ``run_one`` (event capture on, best-visited tracking on, the default settings) against a raw
``Execute`` with no observer on the *same prepared method*: the strategy runs as usual, but its ``ctx.execute``
calls ``method.Execute`` directly. Same case, seed and threads; the two alternate over repetitions in one
process and the ratio of medians is printed with the load average beside it.

Figures per (case, strategy):

- Execute ratio: run_one's execution time (sum of its segments' wall time) / raw Execute time. Target ≤ 1.03 on
  global transforms and ≤ 1.05 on B-splines (the observers, the trace, the position copies for best or last);
- total ratio: a matrix run's whole wall time (``execute_record`` with ``evaluate_later``, as ``regbench run``'s
  workers run it) / raw Execute time, target ≤ 1.05; the post-run evaluation during the run (dense metric, truth
  error, overlap, Jacobian, the plan for the kept positions) in seconds and as a share of Execute;
- later: what completing the kept positions costs when a report first needs them (``complete_evaluation``, in the
  report's worker processes), as a share of Execute: the cost moved out of the run, not removed.

Shared machines are noisy: read the ratios beside the load average (a quiet machine has load < 1.5).
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

import regbench
from regbench.harness import RunContext
from regbench.record import Segment
from regbench.run import complete_evaluation, execute_record, itk_globals, new_record

REPEATS = int(os.environ.get("REGBENCH_OVERHEAD_REPEATS", "9"))
TARGETS = {"global": 1.03, "bspline": 1.05}
TOTAL_TARGET = 1.05
# Two strategies per case, with caps that keep each run near a second.
CASES = {
    "synth2d-affine": {"lbfgs2": {}, "rsgd": {}},
    "synth2d-bspline": {"lbfgs2": {"number_of_iterations": 20}, "rsgd": {"number_of_iterations": 60}},
    "synth3d-affine": {"lbfgs2": {}, "rsgd": {}},
}


class RawContext(RunContext):
    """A run context whose ``execute`` is a bare ``method.Execute``: no observer, no capture."""

    raw_seconds = 0.0

    def execute(self, method):
        start = time.perf_counter()
        result = method.Execute(self.fixed, self.moving)
        RawContext.raw_seconds += time.perf_counter() - start
        segment = Segment(index=len(self.record.segments))
        segment.transform = result
        self.record.segments.append(segment)
        return segment


def raw_execute_seconds(pm, strategy, case, params) -> float:
    record, parsed = new_record(strategy, case, 0, params, None)
    RawContext.raw_seconds = 0.0
    with itk_globals(record.threads):
        strategy.run(RawContext(case, 0, record.threads, pm, record), parsed)
    return RawContext.raw_seconds


def harness_seconds(pm, strategy, case, params) -> tuple[float, float, float]:
    """(Execute, whole run, completing its kept positions later) in seconds, for one matrix run."""
    record, parsed = new_record(strategy, case, 0, params, None)
    execute_record(record, strategy, case, parsed, pm, evaluate_later=True)
    assert record.status == "ok", record.error
    start = time.perf_counter()
    complete_evaluation(record, case.for_seed(record.seed))
    later = time.perf_counter() - start
    return sum(s.wall_time_s for s in record.segments), record.wall_time_s, later


@pytest.mark.parametrize("case_name", list(CASES))
def test_harness_overhead(case_name, capsys):
    pm = regbench.make_plugin_manager(entrypoints=False)
    case = pm.get_case(case_name)
    case.load()
    kind = "bspline" if case.setup.transform == "bspline" else "global"
    lines, misses = [], []
    for strategy_name, params in CASES[case_name].items():
        strategy = pm.get_strategy(strategy_name)
        harness_seconds(pm, strategy, case, params)  # warm-up: caches, first-call costs
        raw, executes, totals, laters = [], [], [], []
        for _ in range(REPEATS):
            raw.append(raw_execute_seconds(pm, strategy, case, params))
            execute, total, later = harness_seconds(pm, strategy, case, params)
            executes.append(execute)
            totals.append(total)
            laters.append(later)
        base = statistics.median(raw)
        ratio = statistics.median(executes) / base
        total_ratio = statistics.median(totals) / base
        evaluation = statistics.median(t - e for t, e in zip(totals, executes, strict=True))
        lines.append(
            f"{case_name:16} {strategy_name:7} raw Execute {base:6.3f} s  Execute ratio {ratio:5.3f} "
            f"(target ≤ {TARGETS[kind]})  total ratio {total_ratio:5.3f} (target ≤ {TOTAL_TARGET})  "
            f"post-run {evaluation / base:5.1%} of Execute  later {statistics.median(laters) / base:5.1%}"
        )
        if ratio > TARGETS[kind]:
            misses.append(f"{strategy_name}: Execute ratio {ratio:.3f} > {TARGETS[kind]}")
        if total_ratio > TOTAL_TARGET:
            misses.append(f"{strategy_name}: total ratio {total_ratio:.3f} > {TOTAL_TARGET}")
    with capsys.disabled():
        print(f"\n[regbench harness] load average {os.getloadavg()[0]:.2f}, {REPEATS} repeats, medians")
        for line in lines:
            print(f"[regbench harness] {line}")
    assert not misses, f"harness overhead above target on {case_name}: {'; '.join(misses)}"
