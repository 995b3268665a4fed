"""Did it register? (issue 21): the tolerance rule, the ``no_progress`` outcome, and a run that did not register is
never counted or called a success (the summary table, the progress counts, the end of ``regbench run``, ``show``).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli.progress import ProgressLines, progress_bar, verdicts_field
from regbench.evaluation.outcomes import FAILURE_OUTCOMES, MEANINGS, Evidence, judge, tally, tally_text, verdict
from regbench.evaluation.tolerance import NO_PROGRESS_SHARE, REGISTERED_SHARE, made_progress, registration_tolerance
from regbench.record import Level, RunRecord, Segment
from regbench.report.stats.summary import summary_rows, summary_table
from regbench.report.text.explain import print_explanation
from regbench.report.text.one_run import summary_lines
from regbench.run import _finish
from regbench.runner.run_matrix import Progress


def judged(**fields) -> RunRecord:
    """A hand-made run on a 1 px grid, judged as the harness judges every record (``_finish``)."""
    category = fields.pop("stop_category", "converged")
    level = Level(index=0, iterations=fields.pop("iterations", 12), first_metric=1.0, last_metric=0.5, best_metric=0.5)
    fields.setdefault("fixed_spacing", [1.0, 1.0])
    fields.setdefault("initial_metric_dense", 1.0)
    fields.setdefault("final_metric_dense", 0.5)
    record = RunRecord(
        strategy=fields.pop("strategy", "s"),
        case="c",
        seed=fields.pop("seed", 0),
        segments=[Segment(index=0, levels=[level], stop_condition="text", stop_category=category)],
        **fields,
    )
    record.key = f"{record.strategy}-{record.seed}"
    _finish(record, None)
    return record


def converged_7_px_away(**fields) -> RunRecord:
    """The issue's run: "converged" 7 px from the truth, from 9 px, where the tolerance is 0.5 px."""
    return judged(initial_error_mean=9.0, error_mean=7.0, **fields)


def shown(record: RunRecord) -> str:
    console = Console(width=200, record=True)
    print_explanation(record, console)
    return " ".join(console.export_text().split())


# -- the tolerance ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [[0.1], [0.5, 0.5], [1.0, 1.0], [1.0, 3.0], [4.0, 4.0, 4.0]])
def test_the_start_can_never_meet_the_tolerance(spacing):
    rng = np.random.default_rng(21)
    for start in [1e-6, 0.01, 0.3, 1.71, 7.937, 100.0, *rng.uniform(0, 50, 20)]:
        tolerance, rule = registration_tolerance(spacing, start)
        assert 0 < tolerance <= REGISTERED_SHARE * start < start  # doing nothing is never registered
        assert tolerance <= 0.5 * min(spacing)
        assert rule.startswith("half the finest spacing" if tolerance < REGISTERED_SHARE * start else "a quarter")
        # judged from a record: a run that did not move is not registered, and made no progress
        evidence = Evidence("ok", "converged", initial_error=start, final_error=start, tolerance=tolerance)
        assert evidence.registered is False and judge(evidence)[0] == "no_progress"


def test_the_tolerance_rule_in_words():
    assert registration_tolerance([1.0, 1.0], 7.937) == (0.5, "half the finest spacing 1")
    # 4 mm voxels, a 1.71 mm start: half a voxel (2 mm) would call doing nothing registered
    assert registration_tolerance([4.0, 4.0, 4.0], 1.71) == pytest.approx(
        (0.4275, "a quarter of the starting error 1.71")
    )
    assert registration_tolerance(None, 2.0)[0] == 0.5  # no spacing: the start alone
    assert registration_tolerance([1.0], None) == (0.5, "half the finest spacing 1")
    with pytest.raises(ValueError, match="spacing or a starting error"):
        registration_tolerance(None, None)


# -- no_progress -----------------------------------------------------------------------------------------------


def test_no_progress_is_a_documented_failure_after_worse_than_start():
    assert FAILURE_OUTCOMES.index("no_progress") == FAILURE_OUTCOMES.index("worse_than_start") + 1
    assert f"{NO_PROGRESS_SHARE:.0%} of its start" in MEANINGS["no_progress"]
    base = {"status": "ok", "stop_category": "converged", "initial_metric_dense": 1.0, "final_metric_dense": 0.5}
    share = NO_PROGRESS_SHARE
    assert judge(Evidence(**base, initial_error=10.0, final_error=10 * (1 - share) + 0.01)) == (
        "no_progress",
        ["no_progress"],
    )
    assert judge(Evidence(**base, initial_error=10.0, final_error=10 * (1 - share)))[0] == "converged"
    assert made_progress(0.0, 0.0)  # a start of no error has nothing to remove
    # worse than the start says so, and nothing more; folding comes after no progress
    assert judge(Evidence(**base, initial_error=1.0, final_error=2.0))[1] == ["worse_than_start"]
    folded = Evidence(**base, initial_error=1.0, final_error=0.99, folding_fraction=0.5)
    assert judge(folded) == ("no_progress", ["no_progress", "folded", "folding"])


def test_a_run_that_barely_moved_is_no_progress_whatever_its_stop():
    # gd at a tiny fixed rate: converged in the optimizer's words, 2.92 → 2.9 px in fact
    params = {"learning_rate": 0.01, "estimate_learning_rate": "never", "number_of_iterations": 20}
    record = regbench.run_one("gd", make_tiny_case("translation"), params=params)
    assert record.status == "ok" and record.stop_category in ("converged", "max_iterations")
    assert record.error_mean_fg > (1 - NO_PROGRESS_SHARE) * record.initial_error_mean_fg
    assert record.outcome == "no_progress" and record.registered is False
    assert verdict(record) == "failed"
    text = shown(record)
    assert (
        "outcome: no_progress (failed). The error against the truth or the landmark TRE fell by less than 10%" in text
    )


def test_labels_judge_progress_but_not_registration():
    # no truth: the mean Dice 0.60 → 0.62 gained under 10% of the 0.40 it lacked
    stuck = judged(initial_dice_mean=0.60, dice_mean=0.62)
    assert (stuck.outcome, stuck.registered, stuck.tolerance, stuck.accuracy) == ("no_progress", None, None, "labels")
    good = judged(initial_dice_mean=0.60, dice_mean=0.90)
    assert (good.outcome, good.registered, good.accuracy) == ("converged", None, "labels")
    assert verdict(good) == "not judged"
    assert "label overlap has no tolerance in physical units" in shown(good)
    blind = judged()  # neither truth, landmarks nor labels
    assert (blind.outcome, blind.registered, blind.accuracy, verdict(blind)) == ("converged", None, None, "not judged")
    assert "registered: not judged: the case has no truth or landmarks" in shown(blind)


def test_landmarks_judge_registration_in_their_units():
    record = judged(measures={"initial_tre_mean": 3.0, "tre_mean": 0.2})
    assert (record.registered, record.tolerance, record.accuracy) == (True, 0.5, "landmarks")
    far = judged(measures={"initial_tre_mean": 3.0, "tre_mean": 1.5})
    assert far.registered is False and "it stopped 1.5 from the landmarks" in shown(far)


def test_the_foreground_error_judges_where_the_case_has_one():
    # the whole domain registered (background), the foreground did not: the foreground decides
    record = judged(initial_error_mean=8.0, error_mean=0.3, initial_error_mean_fg=8.0, error_mean_fg=2.0)
    assert (record.accuracy, record.registered) == ("truth_fg", False)


# -- a run 7 px from the truth is registered nowhere -----------------------------------------------------------


def test_converged_7_px_from_the_truth_is_not_registered():
    record = converged_7_px_away()
    assert record.outcome == "converged" and "not_registered" in record.flags
    assert (record.registered, record.tolerance, record.accuracy) == (False, 0.5, "truth")
    assert verdict(record) == "not registered"
    # the record keeps it: a store and its reports read the same verdict
    again = RunRecord.from_json(record.to_json())
    assert (again.registered, again.tolerance, again.accuracy) == (False, 0.5, "truth")


def test_the_summary_table_counts_registered_apart_from_no_failure():
    records = [
        converged_7_px_away(seed=0),
        judged(seed=1, initial_error_mean=9.0, error_mean=0.1),
        judged(seed=2, initial_error_mean=9.0, error_mean=30.0),  # worse_than_start
    ]
    (row,) = summary_rows(records)
    assert (row.runs, row.no_failure, row.registered, row.not_registered) == (3, 2, 1, 1)
    console = Console(width=250, record=True)
    console.print(summary_table(records))
    text = console.export_text()
    assert "succeeded" not in text
    cells = [c.strip() for c in next(line for line in text.splitlines() if line.startswith("│ s ")).split("│")]
    assert cells[2:5] == ["3", "2", "1"]  # runs 3, no failure 2, registered 1
    assert "registered = of those, runs whose error ended within their tolerance" in " ".join(text.split())
    # runs without any truth: no registered column at all
    blind = [judged(seed=3), judged(seed=4)]
    console = Console(width=250, record=True)
    console.print(summary_table(blind))
    assert "regis" not in console.export_text()


def test_the_progress_counts_and_the_end_of_run_count_registered_apart():
    records = [converged_7_px_away(seed=0), judged(seed=1, initial_error_mean=9.0, error_mean=0.1)]
    records.append(judged(seed=2, initial_error_mean=9.0, error_mean=30.0))
    progress = Progress(total=3)
    for record in records:
        progress.add(record)
    assert (progress.succeeded, progress.failed) == (2, 1)
    assert dict(progress.verdicts) == {"not registered": 1, "registered": 1, "failed": 1}
    console = Console(file=io.StringIO(), width=200, record=True)
    with progress_bar(console) as bar:
        task = bar.add_task("3 runs", total=3, verdicts=verdicts_field())
        bar.update(task, completed=3, verdicts=verdicts_field(progress))
    assert "3/3 registered 1 · not registered 1 · failed 1" in console.export_text()
    lines = ProgressLines([], 1, console)
    lines.add(records[0], progress)
    assert "(registered 1 · not registered 1 · failed 1)" in lines.line()
    assert tally_text(tally(records)) == "registered 1 · not registered 1 · failed 1"
    assert tally_text({}) == "failed 0"


def test_show_says_it_did_not_register_and_prints_the_tolerance():
    record = converged_7_px_away()
    text = shown(record)
    assert "outcome: converged (finished without a failure, but not registered)" in text
    assert (
        "registered: no: it stopped 7 from the truth (mean error 9 → 7, physical units), beyond the tolerance 0.5 "
        "(half the finest spacing 1): it did not register." in text
    )
    assert "succeeded" not in text
    lines = dict(summary_lines(record))
    assert lines["outcome"] == "converged (finished without a failure, but not registered)"
    assert lines["registered"].startswith("no: it stopped 7 from the truth")


def test_show_never_calls_a_missed_stop_a_success():
    missed = converged_7_px_away(stop_category="line_search", rounding_failure=True)
    text = shown(missed)
    assert "successful stop" not in text and "near the optimum" not in text
    assert "This run did not register (below), so this was not a stop near the right answer." in text
    # the same stop on a run that registered keeps the general words
    good = judged(stop_category="line_search", initial_error_mean=9.0, error_mean=0.1)
    good.rounding_failure = True
    text = shown(good)
    assert "usually a successful stop near the optimum" in text
    assert "registered: yes: mean error 9 → 0.1 (physical units), within the tolerance 0.5" in text


def test_a_level_without_one_accepted_step_was_not_still_moving():
    # one-plus-one on synth3d-affine, seed 0: its last level ran 200 iterations without accepting a child
    flat = Level(index=1, iterations=200, first_metric=0.0039, last_metric=0.0039, best_metric=0.0039)
    first = Level(index=0, iterations=200, first_metric=0.038, last_metric=0.002, best_metric=0.002)
    record = RunRecord(
        strategy="one-plus-one",
        case="c",
        seed=0,
        fixed_spacing=[1.0, 1.0, 1.0],
        segments=[Segment(index=0, levels=[first, flat], stop_category="max_iterations", iterations=400)],
        hit_iteration_limit=True,
        iterations=400,
        initial_error_mean=5.6,
        error_mean=1.3,
    )
    _finish(record, None)
    text = shown(record)
    assert "still moving" not in text
    assert "without accepting a single step" in text
    assert "level 1 (200 iterations) accepted no step" in text
    moving = RunRecord(
        **{**record.__dict__, "segments": [Segment(0, [first], stop_category="max_iterations", iterations=200)]}
    )
    assert "still moving" in shown(moving)


def test_the_tour_run_is_not_succeeded():
    """README's tour: `regbench run -s lbfgs2 -c synth2d-affine --seed 1` printed ``line_search (succeeded)``."""
    record = regbench.run_one("lbfgs2", "synth2d-affine", seed=1)
    assert record.outcome == "line_search" and record.rounding_failure
    assert record.initial_error_mean == pytest.approx(8.577, abs=1e-3)
    assert record.error_mean == pytest.approx(7.290, abs=1e-3)
    assert record.error_mean_fg == pytest.approx(6.024, abs=1e-3)  # the foreground decides
    assert (record.registered, record.tolerance, record.accuracy) == (False, 0.5, "truth_fg")
    assert record.flags == ["not_registered"] and verdict(record) == "not registered"
    text = shown(record)
    assert "succeeded" not in text and "successful stop" not in text
    assert "it did not register" in text and "tolerance 0.5 (half the finest spacing 1)" in text
    assert "succeeded" not in " ".join(value for _, value in summary_lines(record))


def test_recommend_and_the_html_never_tell_to_use_a_run_that_did_not_register(tmp_path):
    from regbench.report.decide.per_case import recommend_all
    from regbench.report.html.page import write_html
    from regbench.report.load.columns import from_records

    records = [converged_7_px_away(seed=s) for s in range(3)]
    for record in records:
        record.instance, record.wall_time_s = f"c-{record.seed}", 1.0
    runs = from_records(records)
    (rec,) = recommend_all(runs, load=lambda name: None)
    assert rec.registered is False and rec.tolerance == 0.5
    assert rec.verdict[0].startswith("c: no strategy registered (none ended within the tolerance); the closest is s")
    page = write_html(runs, tmp_path / "html").index.read_text(encoding="utf-8")
    answer = page[page.index('id="recommendation"') :][:4000]  # the first section: the answer
    assert "no strategy registered" in answer and "use s" not in answer
