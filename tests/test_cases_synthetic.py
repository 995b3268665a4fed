"""The synthetic suite: deterministic, truths of the stated size and direction, solvable from the truth."""

import dataclasses
import math

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic import TISSUES, PairSpec, TruthSpec, generate, make_truth, phantom, remap
from regbench_plugins.synthetic_cases import SUITE, bspline_2d, texture, warped_pair

import regbench
from regbench import Case
from regbench.cases.case import initial_mapping
from regbench.evaluation.measures import dense_metric, foreground
from regbench.run import instance_key


class StepDescent(regbench.SingleRunStrategy):
    """Regular-step gradient descent with small steps: stays in the basin it starts in. ``start`` is a
    transform of the case's model to start from (B-spline truths cannot be a moving initial transform: ITK
    does not implement their Jacobian with respect to position)."""

    def __init__(self, name, start=None):
        super().__init__(name)
        self.start = start

    def run(self, ctx, params):
        method = ctx.new_method(initial_transform=self.start)
        method.SetOptimizerAsRegularStepGradientDescent(0.5, 1e-4, 50, relaxationFactor=0.5)
        method.SetOptimizerScalesFromPhysicalShift()
        return ctx.execute(method).transform


def _array(image):
    return sitk.GetArrayFromImage(image)


def test_same_spec_gives_the_same_images_and_another_seed_other_images():
    spec = PairSpec((48, 40), TruthSpec("affine", shift=3.0, angle=5.0, linear=0.05), seed=7, multimodal=True)
    a, b = generate(spec), generate(spec)
    assert np.array_equal(_array(a.fixed), _array(b.fixed))
    assert np.array_equal(_array(a.moving), _array(b.moving))
    assert a.truth.GetParameters() == b.truth.GetParameters()
    c = generate(dataclasses.replace(spec, seed=8))
    assert not np.array_equal(_array(a.moving), _array(c.moving))


def test_truth_maps_fixed_points_to_moving_space():
    # An integer translation t: fixed(x) = moving(x + t), checked on the arrays without any resampling.
    truth = sitk.TranslationTransform(2, (3.0, 5.0))
    data = warped_pair((64, 48), truth, seed=2, noise=0.0, image=phantom)
    fixed, moving = _array(data.fixed), _array(data.moving)  # [y, x]
    np.testing.assert_allclose(fixed[:-5, :-3], moving[5:, 3:], atol=1e-6)
    assert not np.allclose(fixed[:-5, :-3], moving[:-5, :-3], atol=1e-2)


@pytest.mark.parametrize("dim", [2, 3])
def test_truths_have_the_size_asked_for(dim):
    reference = sitk.Image([24] * dim, sitk.sitkFloat32)
    translation = make_truth(TruthSpec("translation", shift=6.0), reference, seed=1)
    assert np.linalg.norm(translation.GetOffset()) == pytest.approx(6.0)
    rigid = make_truth(TruthSpec("rigid", shift=4.0, angle=10.0), reference, seed=1)
    matrix = np.reshape(rigid.GetMatrix(), (dim, dim))
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(dim), atol=1e-12)
    angle = math.degrees(math.acos((np.trace(matrix) - (dim - 2)) / 2))  # 2D: cos θ; 3D: (tr − 1) / 2
    assert angle == pytest.approx(10.0)
    assert np.linalg.norm(rigid.GetTranslation()) == pytest.approx(4.0)
    assert rigid.GetCenter() == pytest.approx([11.5] * dim)
    affine = make_truth(TruthSpec("affine", angle=0.0, linear=0.05), reference, seed=1)
    linear = np.reshape(affine.GetMatrix(), (dim, dim)) - np.eye(dim)
    assert 0 < np.abs(linear).max() <= 0.05
    bspline = make_truth(TruthSpec("bspline", bspline=2.5, mesh=3), reference, seed=1)
    assert bspline.GetTransformDomainMeshSize() == (3,) * dim
    assert 2.0 < np.abs(bspline.GetParameters()).max() <= 2.5


def test_remap_reorders_the_tissues_and_keeps_the_background():
    image = sitk.GetImageFromArray(np.array([[0.0, *TISSUES]], dtype=np.float32))
    g = _array(remap(image))[0]
    assert g[0] == 0.0
    assert g[1] > g[2] > g[3]  # contrast inverted between tissues: no monotonic map explains it


def test_phantom_has_a_foreground_and_texture():
    image = phantom((64, 64), seed=3)
    array = _array(image)
    assert array.min() >= 0.0 and array.max() <= 1.0
    body = array > 0.1
    assert 0.3 < body.mean() < 0.8
    # texture: many distinct grey values inside, not three flat tissues
    assert len(np.unique(np.round(array[body], 3))) > 200


def test_suite_is_registered_with_a_small_default_subset(pm):
    cases = pm.cases()
    names = {spec.name for spec in SUITE}
    assert names <= set(cases)
    default = [cases[n] for n in names if cases[n].default]
    assert {"synth2d-translation", "synth2d-affine", "synth2d-bspline"} <= {c.name for c in default}
    assert 6 <= len(default) <= 10
    for spec in SUITE:
        size = spec.pair.size
        limit = 128 if len(size) == 2 else (40 if spec.default else 48)
        assert max(size) <= limit, spec.name
    assert sum(1 for spec in SUITE if spec.default and len(spec.pair.size) == 3) == 1
    multimodal = [s for s in SUITE if s.pair.multimodal]
    assert multimodal and all(s.setup.metric == "mattes" for s in multimodal)
    assert all(s.setup.metric == "mean_squares" for s in SUITE if not s.pair.multimodal)
    assert {s.pair.truth.kind for s in SUITE if s.default} == {"translation", "rigid", "affine", "bspline"}


def test_bspline_2d_is_the_registered_case(pm):
    data = bspline_2d()
    registered = pm.get_case("synth2d-bspline").load()
    assert np.array_equal(_array(data.fixed), _array(registered.fixed))
    assert texture((16, 16), 1).GetSize() == (16, 16)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("spec", SUITE, ids=lambda s: s.name)
def test_the_truth_scores_better_than_the_start_on_the_dense_metric(spec, seed):
    case = spec.case()
    data = case.load()
    initial = initial_mapping(case.setup, data, seed)  # every seed's start: the jitter keeps the problem a problem
    at_truth, at_start = dense_metric(case, data.truth), dense_metric(case, initial)
    assert at_truth < at_start
    if spec.setup.metric == "mean_squares":
        assert at_truth < 0.5 * at_start  # noise keeps it above zero
    fg = foreground(data)
    assert 0.2 < fg.mean() < 0.8  # whole-domain and foreground errors measure different things


@pytest.mark.parametrize("spec", [s for s in SUITE if s.default], ids=lambda s: s.name)
def test_registering_from_the_truth_stays_there(pm, spec):
    case = spec.case()
    data = case.load()
    if spec.setup.transform == "bspline":  # the truth has the model's mesh on the same domain
        strategy, from_truth = StepDescent("step", start=data.truth), case
    else:
        strategy = StepDescent("step")
        from_truth = Case(
            f"{spec.name}-from-truth", lambda: dataclasses.replace(data, initial_transform=data.truth), case.setup
        )
    record = regbench.run_one(strategy, from_truth, seed=0, threads=2, pm=pm)  # seed 0: the nominal start
    assert record.status == "ok", record.error
    assert record.error_mean_fg < 0.1, record.error_mean_fg
    if spec.setup.transform != "bspline":
        assert record.initial_error_mean == pytest.approx(0.0, abs=1e-9)


def test_every_built_in_case_is_documented(pm):
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "cases.md").read_text()
    builtin = [c for c in pm.cases().values() if c.provenance.plugin.startswith("regbench_plugins.")]
    missing = [c.name for c in builtin if f"| `{c.name}` |" not in page]
    assert not missing, f"docs/cases.md has no table row for {missing}"
    for spec in SUITE:  # the default column says what the code says
        row = next(line for line in page.splitlines() if line.startswith(f"| `{spec.name}` |"))
        assert (row.split("|")[2].strip() == "yes") == spec.default, spec.name


@pytest.mark.parametrize("spec", SUITE, ids=lambda s: s.name)
def test_every_synthetic_case_gives_a_distinct_instance_per_seed(spec):
    # Dense cases too: each seed starts from its own misalignment (seed 0 from the nominal start).
    case = spec.case()
    keys = [instance_key(case, seed) for seed in (0, 1, 2)]
    assert len(set(keys)) == 3, spec.name
    assert instance_key(case, 1) == keys[1]  # a seed is the same instance every time
    assert (
        initial_mapping(case.setup, case.load(), 0).GetParameters()
        == initial_mapping(
            dataclasses.replace(case.setup, initial_jitter=0.0, initial_jitter_angle=0.0, initial_jitter_scale=0.0),
            case.load(),
        ).GetParameters()
    )  # seed 0 is today's problem: the unperturbed start


def test_two_seeds_of_a_dense_default_case_give_different_registrations(pm):
    case = pm.get_case("synth2d-translation")
    assert case.default and case.setup.sampling == "none"
    a, b = (regbench.run_one("lbfgs2", case, seed=seed, threads=1, pm=pm) for seed in (0, 1))
    assert a.status == b.status == "ok", (a.error, b.error)
    assert a.instance != b.instance
    assert a.initial_error_mean != b.initial_error_mean
    assert a.transform["parameters"] != b.transform["parameters"]
    assert (a.error_mean, a.final_metric_dense) != (b.error_mean, b.final_metric_dense)
    assert a.error_mean < 0.5 and b.error_mean < 0.5  # two instances of one problem: both solved
