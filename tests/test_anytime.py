"""Timed, positioned traces and their evaluation after the run, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import regbench
from regbench.cases.case import as_float
from regbench.cases.tiny import make_tiny_case
from regbench.evaluation.postrun import MIN_EVALUATED
from regbench.record import RunRecord
from regbench.trace import NO_POSITIONS, PositionSchedule


def _transform_at(record: RunRecord, row: int, case) -> sitk.Transform:
    template = sitk.Transform(record.segments[record.trace.segment[row]].transform).Downcast()
    template.SetParameters(record.trace.position[row])
    return template


def _independent_error(case, transform) -> float:
    """‖T(x) − T_true(x)‖ averaged over the fixed voxel centres, point by point with SimpleITK."""
    data = case.load()
    fixed = data.fixed
    size = fixed.GetSize()
    total = 0.0
    for j in range(size[1]):
        for i in range(size[0]):
            p = fixed.TransformIndexToPhysicalPoint((i, j))
            total += np.linalg.norm(np.subtract(transform.TransformPoint(p), data.truth.TransformPoint(p)))
    return total / (size[0] * size[1])


def _independent_dense(case, transform) -> float:
    data = case.load()
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMeanSquares()
    method.SetInterpolator(sitk.sitkLinear)
    method.SetInitialTransform(transform, inPlace=False)
    return method.MetricEvaluate(as_float(data.fixed), as_float(data.moving))


@pytest.mark.parametrize("strategy", ["gd", "lbfgs2"])
def test_trace_columns_match_independent_computations(strategy):
    case = make_tiny_case("affine")
    record = regbench.run_one(strategy, case, positions=PositionSchedule(evaluation_budget=float("inf")))
    trace = record.trace
    rows = trace.positions()
    assert len(rows) >= 5 and all(trace.dense_metric[row] is not None for row in rows)
    for row in rows[:: max(1, len(rows) // 6)]:
        transform = _transform_at(record, row, case)
        assert trace.dense_metric[row] == pytest.approx(_independent_dense(case, transform), rel=1e-9, abs=1e-15)
        assert trace.error_mean[row] == pytest.approx(_independent_error(case, transform), rel=1e-9, abs=1e-12)
    # Times count up from the run's start; an execution's clock never runs ahead of the run's.
    times = [t for t in trace.time_s if t is not None]
    assert times == sorted(times) and len(times) == len(trace)
    assert all(e <= t for e, t in zip(trace.exec_time_s, trace.time_s, strict=True))


def test_the_anytime_curve_runs_from_the_start_to_the_returned_transform():
    case = make_tiny_case("affine")
    record = regbench.run_one("lbfgs2", case)
    curve = record.anytime
    assert curve.time_s[0] == 0.0 and curve.iterations[0] == 0
    assert curve.error_mean[0] == record.initial_error_mean
    assert curve.error_mean[-1] == record.error_mean and curve.dense_metric[-1] == record.final_metric_dense
    assert curve.iterations[-1] == len(record.trace)
    assert curve.time_s == sorted(curve.time_s)
    assert curve.time_s[-1] <= record.wall_time_s
    again = RunRecord.from_json(record.to_json())
    assert again.anytime == curve and again.trace.position == record.trace.position


def test_the_schedule_is_geometric_and_keeps_every_level_end():
    case = make_tiny_case("affine")
    record = regbench.run_one("gd", case, params={"number_of_iterations": 60, "convergence_window_size": 100})
    trace = record.trace
    level_rows = {}
    for i, level in enumerate(trace.level):
        level_rows.setdefault(level, []).append(i)
    for rows in level_rows.values():
        kept = [i - rows[0] for i in rows if trace.position[i] is not None]
        assert kept[:10] == [0, 1, 2, 3, 4, 5, 7, 9, 12, 15]
        assert kept[-1] == len(rows) - 1  # the level's last position
    every = regbench.run_one(
        "gd", case, params={"number_of_iterations": 60}, positions=PositionSchedule(every_up_to=32)
    )
    assert every.trace.positions() == list(range(len(every.trace)))
    none = regbench.run_one("gd", case, params={"number_of_iterations": 60}, positions=NO_POSITIONS)
    ends = [
        i for i in range(len(none.trace)) if i + 1 == len(none.trace) or none.trace.level[i + 1] != none.trace.level[i]
    ]
    kept = none.trace.positions()
    assert set(ends) <= set(kept) and len(kept) <= len(ends) + 1  # the level ends, and the best visited


def test_positions_are_evaluated_within_the_budget_level_ends_and_best_first():
    case = make_tiny_case("affine")
    params = {"number_of_iterations": 60, "convergence_window_size": 100}
    none = regbench.run_one("gd", case, params=params, positions=PositionSchedule(evaluation_budget=0.0))
    trace = none.trace
    evaluated = [i for i in trace.positions() if trace.dense_metric[i] is not None]
    ends = [i for i in range(len(trace)) if i + 1 == len(trace) or trace.level[i + 1] != trace.level[i]]
    # the level ends and the best visited, and a few more (MIN_EVALUATED) whatever the budget
    assert set(ends) <= set(evaluated) and len(evaluated) <= len(ends) + 1 + MIN_EVALUATED
    assert len(trace.positions()) > len(evaluated)  # kept, not evaluated: the position is still there
    everything = regbench.run_one("gd", case, params=params, positions=PositionSchedule(evaluation_budget=1e9))
    assert all(everything.trace.dense_metric[i] is not None for i in everything.trace.positions())


def test_the_schedule_is_refused_when_it_makes_no_sense():
    with pytest.raises(ValueError, match="growth"):
        PositionSchedule(growth=0.5)


def test_an_old_trace_without_the_new_columns_loads():
    record = regbench.run_one("lbfgs2", make_tiny_case("translation"), params={"number_of_iterations": 3})
    data = record.to_dict()
    for name in ("time_s", "exec_time_s", "position", "dense_metric", "error_mean", "error_mean_fg"):
        del data["trace"][name]
    del data["anytime"]
    again = RunRecord.from_dict(data)
    assert again.trace.time_s == [None] * len(again.trace)
    assert len(again.anytime) == 0


def test_show_states_first_hits_best_dense_and_whether_it_was_returned():
    from rich.console import Console

    from regbench.report.stats.anytime import first_hit, measure_of, trace_best
    from regbench.report.text.explain import print_explanation

    record = regbench.run_one("lbfgs2", make_tiny_case("affine"))
    console = Console(width=300, record=True)
    print_explanation(record, console)
    text = console.export_text()
    _, values = measure_of(record.anytime)
    hit = first_hit(record.anytime, values, 0.5 * values[0])
    assert hit is not None and hit[0] < record.anytime.time_s[-1]
    assert f"(50% of the start): {hit[0]:.3g} s (iteration {hit[1]})" in text
    best = trace_best(record)
    assert f"level {best.level}, iteration {best.iteration}" in text
    assert "best dense metric over every kept position of every level" in text


def test_which_positions_are_evaluated_never_depends_on_the_clock(monkeypatch):
    import itertools
    import time

    case = make_tiny_case("affine")
    params = {"number_of_iterations": 60, "convergence_window_size": 100}
    normal = regbench.run_one("gd", case, params=params)
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: 10.0 * next(ticks))  # a machine 10 s slower per call
    slow = regbench.run_one("gd", case, params=params)
    assert slow.trace.dense_metric == normal.trace.dense_metric
    assert slow.without_timings() == normal.without_timings()
