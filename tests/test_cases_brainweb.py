"""The real cases: each truth checked against the images (direction included), and the unavailable path."""

import dataclasses

import pytest
import SimpleITK as sitk
from regbench_plugins import brainweb_cases
from regbench_plugins.brainweb_cases import CASES, DATA_ENV

import regbench
from regbench import Case, CaseError
from regbench.cases.case import initial_mapping
from regbench.evaluation.measures import dense_metric
from regbench.run import instance_key

AVAILABLE = all((brainweb_cases.data_dir() / f).is_file() for c in CASES for f in (c.fixed, c.moving))
needs_data = pytest.mark.skipif(
    not AVAILABLE, reason="ITK example images missing: apt-get install insighttoolkit5-examples"
)
WITH_TRUTH = [c for c in CASES if c.truth is not None]


class StepDescent(regbench.SingleRunStrategy):
    """Regular-step gradient descent with small steps: stays in the basin it starts in."""

    def __init__(self, name, iterations=200):
        super().__init__(name)
        self.iterations = iterations

    def configure(self, method, params):
        method.SetOptimizerAsRegularStepGradientDescent(0.5, 1e-5, self.iterations, relaxationFactor=0.5)
        method.SetOptimizerScalesFromPhysicalShift()


@needs_data
@pytest.mark.parametrize("spec", WITH_TRUTH, ids=lambda c: c.name)
def test_registering_from_the_truth_finds_the_truth_again(pm, spec):
    case = spec.case()
    data = case.load()
    from_truth = Case(
        f"{spec.name}-from-truth", lambda: dataclasses.replace(data, initial_transform=data.truth), case.setup
    )
    record = regbench.run_one(StepDescent("step"), from_truth, seed=0, threads=2, pm=pm)  # seed 0: no jitter
    assert record.status == "ok", record.error
    assert record.error_mean < 0.1, record.error_mean
    assert record.error_mean_fg < 0.1, record.error_mean_fg


@needs_data
@pytest.mark.parametrize("spec", WITH_TRUTH, ids=lambda c: c.name)
def test_the_truth_scores_far_better_than_identity_and_than_its_inverse(spec):
    case = spec.case()
    truth = case.load().truth
    at_truth = dense_metric(case, truth)
    identity = dense_metric(case, sitk.Euler2DTransform())
    inverse = dense_metric(case, truth.GetInverse())
    if case.setup.metric == "mean_squares":
        assert at_truth < 0.05 * identity
        assert at_truth < 0.05 * inverse  # the direction is right, not just the size
    else:  # Mattes MI: negative, lower is better
        assert at_truth < 2 * identity
        assert at_truth < 2 * inverse


@needs_data
@pytest.mark.parametrize("spec", CASES, ids=lambda c: c.name)
def test_every_real_case_gives_a_distinct_instance_per_seed(spec):
    case = spec.case()
    assert len({instance_key(case, seed) for seed in (0, 1, 2)}) == 3
    if spec.truth is not None:  # every seed's start is still far from the truth: the same kind of problem
        for seed in (0, 1, 2):
            assert dense_metric(case, case.load().truth) < dense_metric(
                case, initial_mapping(case.setup, case.load(), seed)
            )


@needs_data
def test_pngs_are_read_as_one_float_component():
    image = brainweb_cases.read(brainweb_cases.PD)
    assert image.GetNumberOfComponentsPerPixel() == 1
    assert image.GetPixelID() == sitk.sitkFloat32
    assert image.GetSize() == (221, 257)


@needs_data
def test_the_case_without_truth_reports_the_dense_metric_only(pm):
    record = regbench.run_one(StepDescent("step", iterations=10), pm.get_case("ratlung-bspline"), threads=2, pm=pm)
    assert record.status == "ok", record.error
    assert record.error_mean is None and record.initial_error_mean is None
    assert record.final_metric_dense < record.initial_metric_dense
    assert record.folding_fraction is not None  # deformable: the Jacobian statistics are there


def test_cases_are_listed_with_a_hint_when_the_files_are_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    pm = regbench.make_plugin_manager(entrypoints=False)
    for spec in CASES:
        case = pm.get_case(spec.name)
        assert "insighttoolkit5-examples" in case.unavailable and DATA_ENV in case.unavailable
        assert str(tmp_path) in case.unavailable
        with pytest.raises(CaseError, match=f"case {spec.name!r} is unavailable"):
            case.load()
