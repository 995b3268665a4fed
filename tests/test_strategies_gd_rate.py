"""Plain gradient descent's default learning-rate policy, ``first_level``: estimated once at the coarsest level,
held for the finer ones with the first level's scales, halved for a level where it proves too large."""

import pytest
import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup
from regbench.cases.tiny import make_tiny_case
from regbench.evaluation.measures import dense_metric


@pytest.fixture(scope="module")
def builtin_pm():
    return regbench.make_plugin_manager(entrypoints=False)


def run(pm, case, strategy="gd", **params):
    record = regbench.run_one(strategy, case, params=params, threads=1, pm=pm)
    assert record.status == "ok", record.error
    return record


def levels_of(record):
    return [[level.index for level in segment.levels] for segment in record.segments]


def test_the_rate_estimated_at_the_first_level_is_held_for_the_others(builtin_pm):
    record = run(builtin_pm, "synth2d-affine")
    estimated = record.measures["estimated_learning_rate"]
    # What ITK estimated at the first iteration (GetOptimizerLearningRate, recorded by the harness) ...
    assert estimated == record.segments[0].levels[0].learning_rate_first
    # ... and every iteration of both levels ran at it: one execution per level, no re-estimation.
    assert levels_of(record) == [[0], [1]]
    assert set(record.trace.learning_rate) == {estimated}
    assert record.measures["learning_rate_halvings"] == 0
    assert record.outcome == "converged" and record.error_mean_fg < 0.01
    assert any(note.startswith("learning rate estimated at the start of the first level") for note in record.notes)


def test_learning_rate_is_a_multiple_of_the_estimate(builtin_pm):
    unit = run(builtin_pm, "synth2d-affine", number_of_iterations=5)
    half = run(builtin_pm, "synth2d-affine", number_of_iterations=5, learning_rate=0.5)
    estimated = unit.measures["estimated_learning_rate"]
    # Half the first step (ITK's estimate is linear in the maximum step), the same estimate, half the rate held.
    assert half.measures["estimated_learning_rate"] == pytest.approx(estimated, rel=1e-9)
    assert half.trace.learning_rate == pytest.approx([estimated / 2] * len(half.trace), rel=1e-9)


def test_the_rate_follows_the_intensity_scale(builtin_pm):
    # The same problem with intensities × 255 (as 8-bit images): the mean-squares gradient grows by 255².
    base = builtin_pm.get_case("synth2d-affine")

    def bright_pair():
        data = base.loader()
        return CaseData(fixed=data.fixed * 255.0, moving=data.moving * 255.0, truth=data.truth)

    bright = Case("synth2d-affine-x255", bright_pair, base.setup)
    unit, scaled = run(builtin_pm, "synth2d-affine"), run(builtin_pm, bright)
    ratio = scaled.measures["estimated_learning_rate"] / unit.measures["estimated_learning_rate"]
    assert ratio == pytest.approx(1 / 255**2, rel=1e-6)
    assert scaled.outcome == unit.outcome == "converged"
    assert scaled.error_mean_fg == pytest.approx(unit.error_mean_fg, rel=1e-3)
    # A raw rate that suits [0, 1] images throws the 0-255 ones out of overlap: why the rate is estimated.
    raw = run(builtin_pm, bright, estimate_learning_rate="never", learning_rate=250.0)
    assert raw.outcome in ("no_overlap", "diverged")


def test_mattes_mi_halves_the_rate_where_it_is_too_large(builtin_pm):
    record = run(builtin_pm, "synth2d-rigid-mi", number_of_iterations=30)
    assert record.outcome not in ("diverged", "no_overlap")
    assert record.error_mean_fg < 0.1 * record.initial_error_mean_fg
    estimated = record.measures["estimated_learning_rate"]
    halvings = record.measures["learning_rate_halvings"]
    assert halvings >= 1  # MI's sharp optimum: the first-step rate oscillates there
    first_level = [s for s in record.segments if s.levels[0].index == 0]
    assert len(first_level) == halvings + 1
    rates = [s.learning_rate for s in first_level]
    assert rates == pytest.approx([estimated / 2**i for i in range(halvings + 1)], rel=1e-12)
    # Every attempt starts again from the level's start, and the finer level keeps the reduced rate.
    assert len({s.levels[0].first_metric for s in first_level}) == 1
    assert record.segments[-1].learning_rate == pytest.approx(rates[-1], rel=1e-12)
    assert any("the metric rose with the held learning rate" in note for note in record.notes)


def test_a_step_out_of_the_image_is_retried_at_half_the_rate(builtin_pm):
    # A first step of 200 mm takes every Mattes sample outside the moving image: ITK throws, the run goes on.
    record = run(builtin_pm, "synth2d-rigid-mi", number_of_iterations=20, maximum_step_size=200)
    failed, retried = record.segments[0], record.segments[1]
    assert failed.stop_category == "error" and "All samples map outside moving image buffer" in failed.error
    assert retried.error is None and retried.learning_rate == pytest.approx(failed.learning_rate / 2, rel=1e-12)
    assert record.outcome not in ("error", "no_overlap", "diverged")
    assert any("a step left the moving image" in note for note in record.notes)


class ScalesAtLevel(regbench.Strategy):
    """Reads the scales ITK's physical-shift estimator gives at one level of the case (1 iteration)."""

    def __init__(self, level):
        super().__init__(f"scales-at-{level}")
        self.level = level
        self.scales = None

    def run(self, ctx, params):
        method = ctx.new_method(levels=[self.level])
        method.SetOptimizerAsGradientDescent(learningRate=1e-12, numberOfIterations=1)
        method.SetOptimizerScalesFromPhysicalShift()

        def read():
            self.scales = tuple(method.GetOptimizerScales())

        method.AddCommand(sitk.sitkIterationEvent, read)
        return ctx.execute(method).transform


def test_finer_levels_keep_the_first_level_scales(builtin_pm, monkeypatch):
    # B-spline shift scales fall steeply from the coarse to the fine grid: re-estimated at the finer level, they
    # would turn the held rate into a far larger step.
    coarse, fine = ScalesAtLevel(0), ScalesAtLevel(1)
    for probe in (coarse, fine):
        regbench.run_one(probe, "synth2d-bspline", threads=1, pm=builtin_pm)
    assert coarse.scales[0] > 10 * fine.scales[0]

    set_scales = []
    original = sitk.ImageRegistrationMethod.SetOptimizerScales

    def spy(method, scales):
        set_scales.append(tuple(scales))
        return original(method, scales)

    monkeypatch.setattr(sitk.ImageRegistrationMethod, "SetOptimizerScales", spy)
    record = run(builtin_pm, "synth2d-bspline", number_of_iterations=10)
    finer = [s for s in record.segments if s.levels[0].index == 1]
    assert len(set_scales) == len(finer) >= 1  # every finer-level execution, and only those
    assert all(scales == pytest.approx(coarse.scales, rel=1e-9) for scales in set_scales)
    assert record.outcome not in ("diverged", "no_overlap")


def test_the_estimate_needs_an_iteration_at_the_first_level(builtin_pm):
    record = regbench.run_one("gd", "synth2d-affine", params={"number_of_iterations": 0}, threads=1, pm=builtin_pm)
    assert record.status == "error"
    assert "the learning rate could not be estimated" in record.error
    assert "use estimate_learning_rate 'never' with a learning_rate" in record.error


@pytest.mark.parametrize("strategy", ["gd-level-schedule", "gd-restarts"])
def test_relative_rates_refuse_running_without_scales(builtin_pm, strategy):
    """An estimated rate base without a scales estimator is an unsupported setup (regbench.UnsupportedSetup):
    an error record with the reason and what to use, refused before any execution; a raw base runs."""
    record = regbench.run_one(strategy, "synth2d-affine", params={"scales": "none"}, threads=1, pm=builtin_pm)
    assert record.status == "error"
    assert record.error.startswith("UnsupportedSetup: rate_base 'estimated' needs a scales estimator")
    assert "use scales 'auto' or 'physical_shift', or rate_base 'raw'" in record.error
    assert record.segments == []
    raw = {"scales": "none", "rate_base": "raw", "number_of_iterations": 2}
    assert regbench.run_one(strategy, "synth2d-affine", params=raw, threads=1, pm=builtin_pm).status == "ok"


# -- which attempt a level keeps ------------------------------------------------------------------------------


def tiny_case(model, metric="mean_squares"):
    """regbench's tiny 64² pair (two levels: shrink 2 with σ 1, then full resolution, dense) under ``metric``;
    the last level's values are the dense metric, so a level's first value is the dense value of its start."""
    return Case(
        f"tiny-{model}-{metric}",
        make_tiny_case(model).loader,
        Setup(transform=model, metric=metric, shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0), initial_jitter=0.0),
    )


def dense(case, transform):
    return dense_metric(case, transform, threads=1)


def segments_at(record, level):
    return [s for s in record.segments if s.levels and s.levels[0].index == level]


def test_a_level_keeps_its_first_attempt_when_the_halved_retries_end_worse(builtin_pm):
    # Mattes MI at the first-step rate oscillates at level 0 (the metric rises), so the level is rerun at half
    # the rate, twice; both retries run out of their 8 iterations short of where the first attempt ended.
    case = tiny_case("rigid", "mattes")
    record = run(builtin_pm, case, number_of_iterations=8)
    first, *retries = segments_at(record, 0)
    assert retries, "the scenario needs a rerun of level 0"
    values = [dense(case, s.transform) for s in (first, *retries)]
    assert values[0] < min(values[1:])  # the first attempt ended best (−1.67 against −0.77 and −1.49)
    # It is kept: the retries are rejected, and level 1 starts where the first attempt ended.
    assert not first.rejected and all(s.rejected for s in retries)
    finer = segments_at(record, 1)
    assert finer[0].levels[0].first_metric == pytest.approx(values[0], rel=1e-9)
    assert all(s.levels[0].first_metric == finer[0].levels[0].first_metric for s in finer)
    note = next(n for n in record.notes if n.startswith("level 0: attempts compared on the dense metric"))
    assert f"segment {first.index} at rate" in note and f"{values[0]:.6g}, kept" in note
    assert all(f"{v:.6g}, rejected" in note for v in values[1:])
    # One kept execution per level; the returned transform is the kept one of the last level.
    kept = [s for s in record.segments if not s.rejected]
    assert [s.levels[0].index for s in kept] == [0, 1]
    assert record.final_metric_dense == pytest.approx(dense(case, kept[-1].transform), rel=1e-12)


def test_a_level_whose_attempts_all_end_worse_than_its_start_continues_from_the_start(builtin_pm):
    # 1000 × the estimated rate: every level-0 attempt, down to 1000/64 ×, oscillates and ends worse than the
    # start (or leaves the image: mean squares has no value there). Before, the last of them was kept: 22 px.
    case = tiny_case("rigid")
    record = run(builtin_pm, case, learning_rate=1000.0, number_of_iterations=20)
    coarse = segments_at(record, 0)
    assert len(coarse) == 7 and all(s.rejected for s in coarse)
    assert any(n.startswith("level 0:") and n.endswith("continues from its start") for n in record.notes)
    # Level 1 starts from the case's start, and the run ends no worse than it started.
    finer = segments_at(record, 1)
    assert all(s.levels[0].first_metric == pytest.approx(record.initial_metric_dense, rel=1e-9) for s in finer)
    assert record.final_metric_dense <= record.initial_metric_dense
    assert record.error_mean_fg < record.initial_error_mean_fg
    assert record.outcome not in ("diverged", "worse_than_start", "no_overlap")


def test_a_last_level_with_no_better_attempt_returns_its_start(builtin_pm):
    # 200 × the estimated rate at level 1 only: level 0 is fine, and no attempt at level 1 (down to 200/64 ×)
    # ends below where level 0 left off. The run returns level 0's result (before: the last attempt, 5.3 px).
    case = tiny_case("rigid")
    record = run(builtin_pm, case, "gd-level-schedule", learning_rates=(1.0, 200.0), number_of_iterations=20)
    (coarse,) = segments_at(record, 0)
    assert not coarse.rejected
    finer = segments_at(record, 1)
    assert len(finer) == 7 and all(s.rejected for s in finer)
    start = dense(case, coarse.transform)
    assert all(dense(case, s.transform) is None or dense(case, s.transform) > start for s in finer)
    assert record.final_metric_dense == pytest.approx(start, rel=1e-12)
    assert record.error_mean_fg < record.initial_error_mean_fg
    assert record.outcome not in ("diverged", "worse_than_start", "no_overlap")


def test_return_best_describes_the_kept_attempt(builtin_pm):
    # gd-best at 30 × the rate: the last level is rerun and its first attempt is kept; the best-or-last
    # measures must be those of the kept execution, not of the rejected retry that ran after it.
    case = tiny_case("rigid")
    record = run(builtin_pm, case, "gd-best", learning_rate=30.0, number_of_iterations=20)
    finer = segments_at(record, 1)
    kept = [s for s in finer if not s.rejected]
    assert len(kept) == 1 and finer[-1].rejected
    chosen = record.measures["return_best_chose"]
    assert record.measures[f"return_best_metric_{chosen}"] == pytest.approx(record.final_metric_dense, rel=1e-9)
