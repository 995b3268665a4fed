"""The cost of the label measures per run: ``pytest benchmarks/test_label_cost_bench.py -s``.

On ``colin27-bspline`` (Colin27 at 4 mm, 45×54×45, with the 116 AAL labels), a few runs (lbfgs2 and gd, two
seeds each) run in this process; for each, the returned transform is rebuilt from ``record.transform`` and
:func:`regbench.evaluation.labels.label_measures` (Dice per label, HD95 per label, at the start and for the returned
transform: what the evaluation adds for a case with label images) is timed against the run's Execute time (its
segments' wall time). Target: ≤ 10% of Execute. The start's overlap is computed here every time; the evaluation
caches it per start, so what a run really pays is at most this.

About a minute on one core (gd runs to its iteration cap); the load average is printed beside the figures.
"""

from __future__ import annotations

import os
import time

import pytest
from regbench_plugins.colin27_cases import BRAIN, LABELS, data_dir

import regbench
from regbench.cases.case import initial_mapping
from regbench.evaluation.labels import label_measures

TARGET = 0.10
CASE = "colin27-bspline"
STRATEGIES = ("lbfgs2", "gd")
SEEDS = (1, 2)


@pytest.mark.skipif(
    not all((data_dir() / f).is_file() for f in (BRAIN, LABELS)), reason="needs mricron-data (Colin27, AAL)"
)
def test_label_measures_cost_at_most_a_tenth_of_execute(capsys):
    pm = regbench.make_plugin_manager(entrypoints=False)
    case = pm.get_case(CASE)
    data = case.load()
    rows = []
    for name in STRATEGIES:
        for seed in SEEDS:
            record = regbench.run_one(pm.get_strategy(name), case, seed=seed, threads=1, pm=pm)
            assert record.status == "ok", record.error
            execute = sum(s.wall_time_s for s in record.segments)
            transform = regbench.transform_from_dict(record.transform)
            initial = initial_mapping(case.setup, data, seed)
            start = time.perf_counter()
            measures = label_measures(data, transform, initial)
            labels_s = time.perf_counter() - start
            rows.append((name, seed, execute, labels_s, measures, os.getloadavg()[0]))
    total = sum(r[3] for r in rows) / sum(r[2] for r in rows)
    with capsys.disabled():
        grid = "×".join(map(str, data.fixed.GetSize()))
        print(f"\n[regbench labels] {CASE}: {grid} voxels, {rows[0][4]['label_count']} labels")
        for name, seed, execute, labels_s, measures, load in rows:
            print(
                f"[regbench labels] {name:7} seed {seed}  Execute {execute:6.2f} s  label measures {labels_s:5.3f} s"
                f" = {labels_s / execute:6.1%}  (Dice {measures['initial_dice_mean']:.3f} → "
                f"{measures['dice_mean']:.3f}, HD95 {measures['initial_hd95']:.2f} → {measures['hd95']:.2f} mm)"
                f"  load average {load:.2f}"
            )
        print(f"[regbench labels] all runs: label measures = {total:.1%} of Execute (target ≤ {TARGET:.0%})")
    assert total <= TARGET
