"""The cost of evaluating a run after it ran, on the default suite: ``pytest benchmarks/test_evaluation_cost.py -s``.

After every run, outside its timed executions, regbench evaluates the returned transform, the best visited
position and every position the trace kept (dense metric, truth errors, overlap, Jacobian): the anytime curve.
This prints that cost (``record.evaluation_time_s``) against the run's Execute time (its segments' wall time),
over every built-in strategy on the default suite with one seed, in total and per strategy. Target: ≤ 50%.

About two minutes on two cores; the runs go through the local runner as ``regbench run`` would.
"""

from __future__ import annotations

import os
from collections import defaultdict

from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

TARGET = 0.5


def test_post_run_evaluation_is_at_most_half_the_execute_time(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "example")  # built-in strategies only (the workers inherit it)
    records = run_matrix(Matrix(), tmp_path / "suite.sqlite")
    load = os.getloadavg()[0]
    execute, evaluation = defaultdict(float), defaultdict(float)
    for record in records:
        if record.evaluation_time_s is None:
            continue  # a run that raised before returning: nothing was evaluated
        execute[record.strategy] += sum(s.wall_time_s for s in record.segments)
        evaluation[record.strategy] += record.evaluation_time_s
    total = sum(evaluation.values()) / sum(execute.values())
    with capsys.disabled():
        print(f"\n[regbench evaluation] {len(records)} runs, load average {load:.2f}")
        for name in sorted(execute, key=lambda n: -evaluation[n] / max(execute[n], 1e-9)):
            share = evaluation[name] / max(execute[name], 1e-9)
            print(
                f"[regbench evaluation] {name:22} Execute {execute[name]:7.2f} s  evaluation "
                f"{evaluation[name]:6.2f} s = {share:6.1%}"
            )
        print(f"[regbench evaluation] all strategies: evaluation = {total:.1%} of Execute (target ≤ {TARGET:.0%})")
    assert total <= TARGET
