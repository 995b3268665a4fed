"""Best or last, on the dense metric (issue 21): ``returned_best`` and the regret compare the returned transform
with every position the run kept at the last level, not only with the one the optimizer's sampled values rank
best, and ``show`` says the same thing on every line."""

from __future__ import annotations

import pytest
from rich.console import Console

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.evaluation.best_or_last import (
    NOTE_PREFIX,
    Compared,
    answer,
    kept_at_last_level,
    reported_at_last_level,
    where_best,
    within_tolerance,
)
from regbench.record import Level, RunRecord, Segment, Trace
from regbench.report.text.explain import print_explanation

LAST = 1  # the hand-made runs have two pyramid levels, 0 then 1


def hand_made(dense: list[float | None], metric: list[float], levels: list[int], final: float) -> RunRecord:
    """One execution whose trace keeps a position at every event; ``dense`` and the truth error (10 × dense) as
    the evaluation after the run would have set them. Values are binary fractions: the regrets are exact."""
    n = len(dense)
    iterations = [sum(1 for lv in levels[:i] if lv == levels[i]) for i in range(n)]
    trace = Trace(
        segment=[0] * n,
        level=levels,
        iteration=iterations,
        metric=list(metric),
        position=[[float(i)] for i in range(n)],
        dense_metric=list(dense),
        error_mean=[None if d is None else 10 * d for d in dense],
    )
    record = RunRecord(strategy="hand", case="hand", seed=0, final_metric_dense=final, error_mean=10 * final)
    record.segments = [Segment(0, levels=[Level(index=0), Level(index=LAST)])]
    record.trace = trace
    return record


def test_the_best_dense_position_is_not_the_one_the_sampled_values_rank_best():
    # The sampled values rank row 3 best (0.1); its dense value 0.375 equals the returned one, so the old rule
    # said "yes, regret 0". Row 4, which the sampled values rank worse, is far better on the dense metric.
    record = hand_made(
        dense=[0.75, 0.5, 0.5, 0.375, 0.125, 0.375],
        metric=[0.6, 0.4, 0.3, 0.1, 0.2, 0.15],
        levels=[0, 0, 1, 1, 1, 1],
        final=0.375,
    )
    sampled_best = min((i for i in range(6) if record.trace.level[i] == LAST), key=record.trace.metric.__getitem__)
    assert record.trace.dense_metric[sampled_best] == record.final_metric_dense  # the old answer: yes, regret 0

    best = answer(record, kept_at_last_level(record, LAST, best_row=sampled_best))
    assert best is not None and best.where == "execution 0, level 1, iteration 2"
    assert record.returned_best is False
    assert record.best_visited_metric_dense == 0.125 and record.best_visited_error_mean == 1.25
    assert record.regret_metric_dense == 0.25 and record.regret_error_mean == 2.5
    assert (
        f"{NOTE_PREFIX}: execution 0, level 1, iteration 2 has dense metric 0.125 against 0.375 returned "
        "(the best of 4 positions compared)" in record.notes
    )


def test_the_optimizer_best_visited_counts_even_before_the_level():
    # Gradient descent pairs the last level's first value with where the level started: the previous level's
    # last row (row 1). It is compared, and named as the trace stores it; row 0 (level 0) is not.
    record = hand_made(
        dense=[0.0625, 0.125, 0.5, 0.25],
        metric=[0.6, 0.4, 0.1, 0.3],
        levels=[0, 0, 1, 1],
        final=0.25,
    )
    answer(record, kept_at_last_level(record, LAST, best_row=1))
    assert record.returned_best is False and record.regret_metric_dense == 0.125
    assert "execution 0, level 0, iteration 1 has dense metric 0.125" in record.notes[-1]
    answer(record, kept_at_last_level(record, LAST))  # without it: the last level alone, returned is its best
    assert record.returned_best is True and record.regret_metric_dense == 0
    assert not any(n.startswith(NOTE_PREFIX) for n in record.notes)  # a stale "not the best" note is gone


def test_the_returned_transform_that_is_the_best_is_yes_with_regret_0():
    record = hand_made(dense=[0.5, 0.25, 0.125, 0.1875], metric=[0.5, 0.25, 0.1, 0.2], levels=[0, 1, 1, 1], final=0.125)
    answer(record, kept_at_last_level(record, LAST))
    assert record.returned_best is True
    assert record.regret_metric_dense == 0 and record.regret_error_mean == 0
    # within RETURNED_BEST_RTOL of the best is still the best; beyond it is not
    record.final_metric_dense = 0.125 * (1 + 1e-7)
    answer(record, kept_at_last_level(record, LAST))
    assert record.returned_best is True and record.regret_metric_dense > 0
    record.final_metric_dense = 0.125 * (1 + 1e-5)
    answer(record, kept_at_last_level(record, LAST))
    assert record.returned_best is False


def test_positions_without_a_dense_value_or_without_overlap_are_not_compared():
    record = hand_made(dense=[0.5, None, 1.7976931348623157e308, 0.25], metric=[1, 1, 1, 1], levels=[1] * 4, final=0.25)
    assert [c.dense_metric for c in kept_at_last_level(record, LAST)] == [0.5, 0.25]
    record.final_metric_dense = 1.7976931348623157e308  # the returned transform has no overlap: no regret figure
    answer(record, kept_at_last_level(record, LAST))
    assert record.returned_best is False and record.regret_metric_dense is None
    assert answer(hand_made([None], [1], [1], 0.25), []) is None


def test_a_best_that_is_not_a_trace_row_is_named_from_the_record():
    record = hand_made(dense=[0.5, 0.25], metric=[0.5, 0.25], levels=[1, 1], final=0.25)
    # where an execution started: evaluated after the run, not a trace row
    answer(record, [*kept_at_last_level(record, LAST), Compared(0.125, 1.0, "where execution 0 started")])
    assert record.returned_best is False and record.regret_error_mean == 1.5
    assert where_best(record) == "where an execution or its last level started"
    assert record.notes[-1].startswith(f"{NOTE_PREFIX}: where execution 0 started has dense metric 0.125")
    # Powell's values are paired with no position; on a dense last level they are dense values all the same
    record.segments[0].levels[1] = Level(index=LAST, best_metric=0.0625, best_iteration=7, shrink_factor=1)
    answer(record, kept_at_last_level(record, LAST) + reported_at_last_level(record, LAST))
    assert record.returned_best is False and record.regret_metric_dense == 0.1875
    assert record.best_visited_error_mean is None and record.regret_error_mean is None  # no position: no error
    assert where_best(record).startswith("a value the optimizer reported (execution 0, level 1, its event 7")
    record.segments[0].levels[1].sampling_percentage = 0.5  # sampled values are not dense values
    assert reported_at_last_level(record, LAST) == []


def show_text(record: RunRecord) -> str:
    console = Console(width=400, record=True)
    print_explanation(record, console)
    return console.export_text()


def test_show_says_no_where_its_other_line_says_worse():
    record = hand_made(
        dense=[0.75, 0.5, 0.5, 0.375, 0.125, 0.375],
        metric=[0.6, 0.4, 0.3, 0.1, 0.2, 0.15],
        levels=[0, 0, 1, 1, 1, 1],
        final=0.375,
    )
    record.initial_metric_dense, record.initial_error_mean = 1.0, 10.0
    record.trace.time_s = [0.1 * i for i in range(6)]
    record.anytime.time_s, record.anytime.iterations = [0.0, 0.6], [0, 6]
    record.anytime.dense_metric, record.anytime.error_mean = [1.0, 0.375], [10.0, 3.75]
    answer(record, kept_at_last_level(record, LAST, best_row=3))
    text = show_text(record)
    assert "best visited: No: " in text and "regret 0.25" in text and "at execution 0, level 1, iteration 2" in text
    assert "0.125 at execution 0, level 1, iteration 2 (0.4 s); the returned transform (0.375) is worse." in text

    # A better position before the last level: best or last stays "yes" (it compares the last level), and the
    # line over every level names that position as one before the last level instead of contradicting it.
    record.trace.dense_metric[0], record.trace.dense_metric[4] = 0.0625, 0.5
    answer(record, kept_at_last_level(record, LAST, best_row=3))
    text = show_text(record)
    assert record.returned_best is True and "best visited: Yes: " in text and "regret 0)" in text
    assert "the returned transform (0.375) is worse (a position before the last level 1" in text


@pytest.fixture(scope="module")
def sampled_tiny():
    """The tiny affine pair with its last level sampled at 10%: the optimizer's values rank positions on a tenth
    of the points, so the one they rank best is not the best on the dense metric."""
    tiny = make_tiny_case("affine")
    setup = regbench.Setup(
        transform="affine",
        shrink_factors=(2, 1),
        smoothing_sigmas=(1.0, 0.0),
        sampling="random",
        sampling_percentage=(0.1,),
    )
    return regbench.Case("tiny-sampled", tiny.loader, setup)


def test_a_real_run_answers_from_its_own_trace(sampled_tiny):
    """gd (values paired with the previous position) on seed 1: its sampled values rank best a position no
    better than the returned one, while a position it kept at the last level is better on the dense metric."""
    record = regbench.run_one("gd", sampled_tiny, seed=1)
    assert record.status == "ok", record.error
    trace, final = record.trace, record.final_metric_dense
    last = [i for i in trace.positions() if trace.level[i] == LAST and trace.dense_metric[i] is not None]
    row = min(last, key=trace.dense_metric.__getitem__)
    # recomputed from the record's own trace
    assert record.best_visited_metric_dense == trace.dense_metric[row]
    assert record.best_visited_error_mean == trace.error_mean[row]
    assert record.regret_metric_dense == final - trace.dense_metric[row] > 0
    assert record.regret_error_mean == record.error_mean - trace.error_mean[row]
    assert record.returned_best is False
    assert (
        f"execution {trace.segment[row]}, level 1, iteration {trace.iteration[row]} has dense metric"
        in record.notes[-1]
    )
    # The old rule: the value at event k belongs to the position of event k-1 (reference §3.3); the position
    # those values rank best is no better than the returned one, so it said "yes".
    events = [i for i in range(len(trace)) if trace.level[i] == LAST and trace.segment[i - 1] == trace.segment[i]]
    ranked_best = min(events, key=trace.metric.__getitem__) - 1
    assert within_tolerance(final, trace.dense_metric[ranked_best])


def test_a_real_run_that_returns_its_best_is_yes_with_regret_0():
    record = regbench.run_one("lbfgs2", make_tiny_case("affine"))  # monotone line search, dense last level
    trace = record.trace
    last = [
        trace.dense_metric[i] for i in trace.positions() if trace.level[i] == LAST and trace.dense_metric[i] is not None
    ]
    assert last and record.final_metric_dense <= min(last)
    assert record.returned_best is True and record.regret_metric_dense == 0
