"""Simulated instances of a case's own images: an exact truth, labels carried along, one instance per seed, no
folding within the B-spline bound, and the ``[case.simulate]`` table of a TOML case file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from click.testing import CliRunner
from regbench_plugins.synthetic import TISSUES, phantom

import regbench
from regbench import Case, CaseData, CaseError, Setup, Simulation, TruthSpec, make_truth
from regbench.cases.files import load_case_file
from regbench.cli import main
from regbench.evaluation.measures import jacobian_determinant
from regbench.run import instance_key, run_key
from regbench.runner.worker import RunSpec, WorkerState

ANGLE = np.radians(25.0)
OBLIQUE = (np.cos(ANGLE), -np.sin(ANGLE), np.sin(ANGLE), np.cos(ANGLE))


def _labelled(image: sitk.Image) -> tuple[sitk.Image, sitk.Image]:
    """The phantom's tissues as labels 1..3 (0 is background) and its body as a mask."""
    array = sitk.GetArrayFromImage(image)
    cuts = [0.1, (TISSUES[0] + TISSUES[1]) / 2, (TISSUES[1] + TISSUES[2]) / 2]
    labels = sitk.GetImageFromArray(np.digitize(array, cuts).astype(np.uint8))
    labels.CopyInformation(image)
    return labels, sitk.Cast(labels > 0, sitk.sitkUInt8)


def image_2d() -> sitk.Image:
    """96×96, anisotropic spacing, oblique direction, origin off zero."""
    image = phantom((96, 96), 3)
    image.SetSpacing((1.5, 1.0))
    image.SetDirection(OBLIQUE)
    image.SetOrigin((10.0, -5.0))
    return image


def image_3d() -> sitk.Image:
    image = phantom((32, 32, 32), 4)
    image.SetSpacing((1.2, 1.0, 1.5))
    return image


def base_case(image: sitk.Image, transform: str, **setup) -> Case:
    labels, mask = _labelled(image)
    moving = phantom(image.GetSize(), 99)  # the real pair's moving image: a simulation never uses it
    moving.CopyInformation(image)

    def load() -> CaseData:
        return CaseData(fixed=image, moving=moving, fixed_mask=mask, fixed_labels=labels, moving_labels=labels)

    return Case("mine", load, Setup(transform=transform, **setup))


MAGNITUDES = {
    "translation": {"translation": 4.0},
    "rigid": {"translation": 3.0, "rotation": 6.0},
    "similarity": {"translation": 3.0, "rotation": 6.0, "scale": 0.05},
    "affine": {"translation": 3.0, "rotation": 6.0, "scale": 0.05},
    "bspline": {"translation": 2.0, "rotation": 4.0, "scale": 0.03, "bspline": 3.0},
}
CASES = [("2d", model) for model in MAGNITUDES] + [("3d", "affine"), ("3d", "bspline")]


def simulated(dim: str, model: str, **extra) -> Case:
    image = image_2d() if dim == "2d" else image_3d()
    setup = {"mesh_size": (4,)} if model == "bspline" else {}
    return base_case(image, model, **setup).simulated(Simulation(**{**MAGNITUDES[model], **extra}))


def _array(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def _interior_samples(data: CaseData, count: int = 200) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Voxels of the fixed grid (image index) whose truth image lies well inside the moving image, with that
    point's continuous index in the moving image."""
    rng = np.random.default_rng(0)
    size = np.array(data.fixed.GetSize())
    out = []
    while len(out) < count:
        index = tuple(int(i) for i in rng.integers(0, size))
        moved = data.truth.TransformPoint(data.fixed.TransformIndexToPhysicalPoint(index))
        continuous = data.moving.TransformPhysicalPointToContinuousIndex(moved)
        if all(1 <= c <= n - 2 for c, n in zip(continuous, size, strict=True)):
            out.append((index, continuous))
    return out


class Oracle(regbench.Strategy):
    """Returns the instance's truth without optimizing: registering from the truth."""

    def run(self, ctx, params):
        return ctx.case.load().truth


# -- an exact truth, labels carried along ------------------------------------------------------------------


@pytest.mark.parametrize(("dim", "model"), CASES)
def test_the_truth_maps_the_fixed_image_onto_the_moving_one(dim, model):
    case = simulated(dim, model, intensity="none")
    data = case.for_seed(1).load()
    # The moving image is the case's fixed image as it is; the fixed image is it seen through the truth.
    source = case.loader()
    np.testing.assert_array_equal(_array(data.moving), _array(source.fixed))
    resampled = sitk.Resample(data.moving, data.fixed, data.truth, sitk.sitkLinear, 0.0)
    inside = _array(sitk.Resample(data.moving * 0 + 1, data.fixed, data.truth, sitk.sitkNearestNeighbor, 0)) > 0
    np.testing.assert_allclose(_array(resampled)[inside], _array(data.fixed)[inside], rtol=0, atol=1e-6)
    # Independently of Resample: fixed(x) = moving(T(x)), point by point.
    fixed = _array(data.fixed)
    for index, _ in _interior_samples(data, 60):
        point = data.truth.TransformPoint(data.fixed.TransformIndexToPhysicalPoint(index))
        expected = data.moving.EvaluateAtPhysicalPoint(point, sitk.sitkLinear)
        assert fixed[index[::-1]] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("dim", "model"), CASES)
def test_the_truth_maps_the_labels_onto_themselves(dim, model):
    data = simulated(dim, model).for_seed(2).load()
    warped = sitk.Resample(data.moving_labels, data.fixed_labels, data.truth, sitk.sitkNearestNeighbor, 0)
    np.testing.assert_array_equal(_array(warped), _array(data.fixed_labels))
    assert set(np.unique(_array(data.fixed_labels))) == {0, 1, 2, 3}
    # Independently: the fixed label at x is the moving label nearest to T(x); and the mask goes along too.
    fixed, moving = _array(data.fixed_labels), _array(data.moving_labels)
    for index, continuous in _interior_samples(data):
        assert fixed[index[::-1]] == moving[tuple(round(c) for c in continuous)[::-1]]
    np.testing.assert_array_equal(_array(data.fixed_mask) > 0, fixed > 0)
    assert not np.array_equal(fixed, moving)  # the labels did move


@pytest.mark.parametrize(("dim", "model"), [("2d", "affine"), ("2d", "bspline"), ("3d", "affine")])
def test_registering_from_the_truth_gives_zero_error(dim, model):
    case = simulated(dim, model, intensity="none")
    record = regbench.run_one(Oracle("oracle"), case, seed=3)
    assert record.status == "ok", record.error
    assert record.error_mean == 0.0 and record.error_max == 0.0 and record.error_mean_fg == 0.0
    assert record.initial_error_mean > 1.0  # the instance does start misaligned
    # Without noise, mean squares is zero wherever the truth maps inside the image.
    assert record.final_metric_dense < 1e-10 < record.initial_metric_dense


def test_a_registration_on_a_simulated_companion_records_its_error():
    case = simulated("2d", "translation", noise=0.01)
    record = regbench.run_one("lbfgs2", case, seed=1)
    assert record.status == "ok", record.error
    assert record.case == "mine-sim"
    simulation = record.provenance["simulation"]
    assert simulation["simulated_from"] == "mine" and simulation["translation"] == 4.0
    assert simulation["description"].startswith("simulated deformations of mine's fixed image, one per seed")
    assert record.error_mean is not None and record.error_mean < 0.1 * record.initial_error_mean


# -- seeds are instances ------------------------------------------------------------------------------------


def test_seeds_give_distinct_instances_and_a_seed_the_same_one():
    case = simulated("2d", "affine", noise=0.02)
    data = [case.for_seed(seed).load() for seed in (0, 1, 2)]
    truths = [d.truth.GetParameters() for d in data]
    assert len(set(truths)) == 3
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not np.array_equal(_array(data[a].fixed), _array(data[b].fixed))
        assert not np.array_equal(_array(data[a].moving), _array(data[b].moving))  # their own noise
    again = simulated("2d", "affine", noise=0.02).for_seed(1).load()  # another case object, same definition
    assert again.truth.GetParameters() == truths[1]
    np.testing.assert_array_equal(_array(again.fixed), _array(data[1].fixed))
    np.testing.assert_array_equal(_array(again.moving), _array(data[1].moving))
    keys = [instance_key(case, seed) for seed in (0, 1, 2)]
    assert len(set(keys)) == 3
    assert instance_key(simulated("2d", "affine", noise=0.02), 1) == keys[1]
    # Loaded without a seed, a simulated case is its seed-0 instance.
    assert case.load().truth.GetParameters() == truths[0]


def test_a_seed_keeps_its_instance_object_and_other_magnitudes_are_another_problem():
    case = simulated("2d", "rigid")
    assert case.for_seed(5) is case.for_seed(5) is case.for_seed(5).for_seed(5)
    assert case.for_seed(5).name == case.name and case.for_seed(5).setup == case.setup
    plain = base_case(image_2d(), "rigid")
    assert plain.for_seed(5) is plain
    other = base_case(image_2d(), "rigid").simulated(Simulation(translation=3.0, rotation=7.0))
    assert case.fingerprint() != other.fingerprint()
    key = run_key("s", {}, case.name, 0, 1, {}, case.fingerprint())
    assert key != run_key("s", {}, case.name, 0, 1, {}, other.fingerprint())
    assert "simulation" not in plain.fingerprint()  # ordinary cases keep their run keys


def test_the_companion_says_what_it_is():
    case = simulated("2d", "bspline")
    assert case.name == "mine-sim" and case.simulated_from == "mine" and "simulated" in case.tags
    assert case.description == (
        "simulated deformations of mine's fixed image, one per seed (translation 2, rotation 4°, scale ±3%, "
        "B-spline ±3 on a 4-cell mesh; lengths in physical units)"
    )
    with pytest.raises(CaseError, match="already simulated"):
        case.simulated(Simulation(translation=1.0))


# -- intensities and noise ----------------------------------------------------------------------------------


def test_intensity_changes_apply_to_the_moving_image():
    source = image_2d()
    values = _array(source)
    inverted = simulated("2d", "rigid", intensity="invert").for_seed(0).load()
    np.testing.assert_allclose(_array(inverted.moving), values.max() + values.min() - values, atol=1e-6)
    remapped = simulated("2d", "rigid", intensity="remap").for_seed(0).load()
    moving = _array(remapped.moving)
    # Not monotone: the background stays dark, the tissues' order changes (brightest tissue near background).
    labels = _array(_labelled(source)[0])
    means = [float(moving[labels == k].mean()) for k in (0, 1, 2, 3)]
    assert means[0] < 0.1 and means[1] > means[2] > means[3]
    np.testing.assert_array_equal(_array(remapped.fixed), _array(inverted.fixed))  # same truth, fixed untouched


def test_auto_intensity_keeps_a_multimodal_metric_multimodal():
    image = image_2d()
    mattes = base_case(image, "rigid", metric="mattes").simulated(Simulation(rotation=5.0))
    squares = base_case(image, "rigid").simulated(Simulation(rotation=5.0))
    assert mattes.simulation.intensity == "remap" and squares.simulation.intensity == "none"
    assert "moving intensities remapped" in mattes.description


def test_noise_is_seeded_and_independent_on_both_images():
    clean = simulated("2d", "rigid").for_seed(4).load()
    noisy = simulated("2d", "rigid", noise=0.05).for_seed(4).load()
    fixed_noise = _array(noisy.fixed) - _array(clean.fixed)
    moving_noise = _array(noisy.moving) - _array(clean.moving)
    assert fixed_noise.std() == pytest.approx(0.05 * 0.9, rel=0.1)  # 5% of the phantom's range (0 to 0.9)
    assert abs(np.corrcoef(fixed_noise.ravel(), moving_noise.ravel())[0, 1]) < 0.05


# -- no folding -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", ["2d", "3d"])
def test_a_bspline_within_the_bound_never_folds(dim):
    image = image_2d() if dim == "2d" else image_3d()
    limit = Simulation(bspline=1.0, mesh=4).bspline_limit(image)
    case = base_case(image, "bspline", mesh_size=(4,)).simulated(
        Simulation(bspline=limit, mesh=4, rotation=8.0, scale=0.05, translation=2.0)
    )
    for seed in range(4):
        truth = case.for_seed(seed).load().truth
        assert jacobian_determinant(truth, image).min() > 0


def test_the_jacobian_test_sees_folding_beyond_the_bound():
    # The bound is sufficient, not tight: far beyond it random coefficients do fold, and the check sees it.
    image = image_3d()
    limit = Simulation(bspline=1.0, mesh=4).bspline_limit(image)
    folded = [
        jacobian_determinant(make_truth(TruthSpec("bspline", bspline=4 * limit, mesh=4), image, seed), image).min()
        for seed in range(4)
    ]
    assert min(folded) <= 0


def test_the_bound_is_0_4_of_the_control_point_spacing_and_smaller_on_an_oblique_grid():
    image = image_3d()
    grid = sitk.BSplineTransformInitializer(image, [4] * 3, order=3).GetCoefficientImages()[0]
    assert Simulation(bspline=1.0, mesh=4).bspline_limit(image) == pytest.approx(0.4 * min(grid.GetSpacing()))
    oblique = image_2d()
    straight = sitk.Image(oblique)
    straight.SetDirection((1.0, 0.0, 0.0, 1.0))
    ratio = Simulation(bspline=1.0).bspline_limit(oblique) / Simulation(bspline=1.0).bspline_limit(straight)
    assert ratio == pytest.approx(1 / (np.cos(ANGLE) + np.sin(ANGLE)))


def test_a_bspline_beyond_the_bound_is_refused():
    case = base_case(image_2d(), "bspline", mesh_size=(4,)).simulated(Simulation(bspline=20.0, mesh=4))
    with pytest.raises(CaseError, match=r"simulate: bspline 20 can fold .* the limit is 7\.2\d* .*Choi & Lee"):
        case.load()


@pytest.mark.parametrize(
    ("model", "magnitudes", "message"),
    [
        (
            "translation",
            {"translation": 2.0, "rotation": 5.0},
            "rotation 5 does not apply to the case's translation model",
        ),
        ("rigid", {"rotation": 5.0, "scale": 0.1}, "scale 0.1 does not apply to the case's rigid model"),
        ("affine", {"bspline": 2.0}, "bspline 2 does not apply to the case's affine model"),
    ],
)
def test_a_part_the_model_cannot_represent_is_refused(model, magnitudes, message):
    with pytest.raises(CaseError, match=message):
        base_case(image_2d(), model).simulated(Simulation(**magnitudes))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"translation": -1.0}, r"translation must be a finite number ≥ 0"),
        ({"rotation": 5.0, "intensity": "log"}, r"intensity 'log' is not one of auto, none, invert, remap"),
        ({}, "all 0: give at least one deformation"),
        ({"rotation": 5.0, "instances": 0}, "instances must be an integer from 1"),
    ],
)
def test_bad_simulation_values_are_refused(values, message):
    with pytest.raises(CaseError, match=message):
        Simulation(**values)


# -- a TOML case file -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("simulate")
    image = image_2d()
    sitk.WriteImage(image, str(root / "fixed.mha"))
    moving = phantom((96, 96), 5)
    moving.CopyInformation(image)
    sitk.WriteImage(moving, str(root / "moving.mha"))
    return root


def case_file(root, simulate: str, setup: str = 'transform = "rigid"') -> str:
    """A case file whose line 8 is the first line of ``simulate``."""
    head = '[[case]]\nname = "mine"\nfixed = "fixed.mha"\nmoving = "moving.mha"\n[case.setup]\n'
    path = root / "cases.toml"
    path.write_text(f"{head}{setup}\n[case.simulate]\n{simulate}\n")
    return str(path)


def test_a_simulate_table_registers_the_real_pair_and_its_simulated_companion(images):
    path = case_file(images, "instances = 5\ntranslation = 3.0\nrotation = 4.0\nnoise = 0.01")
    result = CliRunner().invoke(main, ["list", "--cases", path, "--json"])
    assert result.exit_code == 0, result.output
    cases = {c["name"]: c for c in json.loads(result.output)["cases"] if c["file"]}
    assert set(cases) == {"mine", "mine-sim"}
    assert cases["mine-sim"]["tags"] == ["user", "simulated"]
    assert cases["mine-sim"]["simulated_from"] == "mine"
    assert cases["mine-sim"]["description"].startswith("simulated deformations of mine's fixed image")
    table = CliRunner().invoke(main, ["list", "--cases", path])
    assert "mine-sim" in table.output and "simulated" in table.output
    # A worker reading the file finds the companion by its name.
    spec = RunSpec(key="k", strategy="lbfgs2", case="mine-sim", seed=2, threads=1, case_file=path)
    found = WorkerState().case(spec)
    assert found.simulation == Simulation(instances=5, translation=3.0, rotation=4.0, noise=0.01, intensity="none")
    assert found.for_seed(2).load().truth is not None and found.for_seed(2).load().truth.GetName() == "AffineTransform"


@pytest.mark.parametrize(
    ("simulate", "setup", "message"),
    [
        (
            "translate = 3.0",
            'transform = "rigid"',
            r"cases\.toml:8: unknown simulate key 'translate'; valid keys: "
            r"instances, translation, rotation, scale, bspline, mesh, intensity, noise",
        ),
        ("rotation = 2.0\ntranslation = -1", 'transform = "rigid"', r"cases\.toml:9: simulate: translation must be"),
        ("rotation = 2.0\nintensity = 'log'", 'transform = "rigid"', r"cases\.toml:9: simulate: intensity 'log'"),
        ("rotation = '2'", 'transform = "rigid"', r"cases\.toml:8: simulate 'rotation' must be a finite number"),
        (
            "translation = 1.0\nscale = 0.1",
            'transform = "rigid"',
            r"cases\.toml:9: case 'mine': simulate: scale 0.1 "
            "does not apply to the case's rigid model",
        ),
        (
            "mesh = 4\nbspline = 30.0",
            'transform = "bspline"',
            r"cases\.toml:9: case 'mine': simulate: bspline 30 can "
            "fold",
        ),
    ],
)
def test_a_bad_simulate_table_names_the_file_and_line(images, simulate, setup, message):
    with pytest.raises(CaseError, match=message):
        load_case_file(case_file(images, simulate, setup))
