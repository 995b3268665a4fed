"""Simulated instances: image pairs with an exact truth, made by warping an image through a random transform.

Two users share these pieces. The built-in synthetic cases (``regbench_plugins.synthetic``) warp a generated
phantom; a case of the user's own images with a :class:`Simulation` (``[case.simulate]`` in a TOML case file,
or :meth:`regbench.Case.simulated`) warps its fixed image, one random transform per run seed.

The direction is the one that needs no inverse: the fixed image is *made* as ``Resample(image, truth)``, so
fixed(x) = image(truth(x)) and ``truth`` maps fixed-space points to moving space exactly, as the transform a
registration returns does, for every model (a B-spline too). Everything is a pure function of its arguments and
a seed: the same arguments give the same images bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from regbench.cases.setup import MAX_MESH, CaseError, Setup

#: A seed for numpy: an integer, or a sequence of them (``np.random.default_rng([seed, stream])``).
Seed = int | Sequence[int]


def _image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(array.astype(np.float32))
    out.CopyInformation(like)
    return out


def remap(image: sitk.Image) -> sitk.Image:
    """A non-monotonic intensity remapping (another 'modality'): the same anatomy, other contrasts.

    g(v) = (1 − cos(2.4πv)) / 2 on intensities in [0, 1] keeps the background at 0 and maps the synthetic
    phantom's tissues 0.35, 0.65, 0.9 to about 0.94, 0.41, 0.06: contrast inverted between tissues and the
    brightest tissue close to the background. Mean squares is the wrong metric for such a pair; mutual
    information is the right one.
    """
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    return _image(0.5 * (1.0 - np.cos(2.4 * math.pi * array)), image)


def add_noise(image: sitk.Image, sigma: float, seed: Seed) -> sitk.Image:
    """Gaussian noise of standard deviation ``sigma`` (the image's intensity units), drawn from ``seed``."""
    if sigma <= 0:
        return image
    array = sitk.GetArrayFromImage(image)
    rng = np.random.default_rng(seed)
    return _image(array + sigma * rng.standard_normal(array.shape), image)


def warp(
    image: sitk.Image, truth: sitk.Transform, interpolator: int = sitk.sitkLinear, default: float = 0.0
) -> sitk.Image:
    """``image`` seen through ``truth`` on its own grid: out(x) = image(truth(x)); ``default`` where truth(x)
    falls outside the image. Label images and masks take ``sitk.sitkNearestNeighbor``."""
    return sitk.Resample(image, image, truth, interpolator, default)


# -- random transforms of controlled size ------------------------------------------------------------------


@dataclass(frozen=True)
class TruthSpec:
    """A random transform of controlled size. Sizes are in physical units and degrees.

    ``kind`` is translation, rigid, similarity, affine or bspline. ``shift`` is the length of the translation
    (random direction), ``angle`` the rotation (about a random axis in 3D) about the image centre, ``linear``
    the size of the non-rotational linear part: an isotropic scale in [1 − linear, 1 + linear] for similarity,
    and for affine (and bspline) a value in [−linear, linear] added to each entry of the identity (scale and
    shear, e.g. 0.05 for 5%). ``bspline`` is the largest control-point displacement per axis on a ``mesh``-cell
    grid; a bspline truth with a shift, angle or linear part is that affine map applied after the B-spline,
    written as one B-spline (cubic B-splines reproduce affine maps exactly).
    """

    kind: str
    shift: float = 0.0
    angle: float = 0.0
    linear: float = 0.0
    bspline: float = 0.0
    mesh: int = 4

    def describe(self) -> str:
        parts = []
        if self.angle:
            parts.append(f"{self.angle:g}° rotation")
        if self.linear:
            parts.append(f"±{100 * self.linear:g}% scale/shear")
        if self.shift:
            parts.append(f"{self.shift:g} px shift")
        if self.bspline:
            parts.append(f"B-spline {self.mesh}-cell mesh, ±{self.bspline:g} px")
        return f"{self.kind} truth ({', '.join(parts)})"


def _rotation(dim: int, angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    theta = math.radians(angle_deg)
    if dim == 2:
        return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(theta) * k + (1 - math.cos(theta)) * k @ k  # Rodrigues


def _centre(reference: sitk.Image) -> tuple[float, ...]:
    return reference.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in reference.GetSize()])


def _affine(
    spec: TruthSpec, reference: sitk.Image, rng: np.random.Generator, shift: np.ndarray
) -> sitk.AffineTransform:
    dim = reference.GetDimension()
    matrix = _rotation(dim, spec.angle, rng)
    if spec.kind in ("affine", "bspline"):
        matrix = matrix @ (np.eye(dim) + rng.uniform(-spec.linear, spec.linear, (dim, dim)))
    elif spec.kind == "similarity":
        matrix = (1.0 + rng.uniform(-spec.linear, spec.linear)) * matrix
    elif spec.kind != "rigid":
        raise ValueError(f"unknown truth kind {spec.kind!r}: translation, rigid, similarity, affine or bspline")
    truth = sitk.AffineTransform(dim)
    truth.SetCenter(_centre(reference))
    truth.SetMatrix(tuple(float(v) for v in matrix.ravel()))
    truth.SetTranslation(tuple(float(s) for s in shift))
    return truth


def make_truth(spec: TruthSpec, reference: sitk.Image, seed: Seed) -> sitk.Transform:
    """The transform ``spec`` describes, drawn with ``seed``, on ``reference``'s domain."""
    rng = np.random.default_rng(seed)
    dim = reference.GetDimension()
    direction = rng.standard_normal(dim)
    shift = spec.shift * direction / np.linalg.norm(direction)
    if spec.kind == "translation":
        return sitk.TranslationTransform(dim, tuple(float(s) for s in shift))
    if spec.kind != "bspline":
        return _affine(spec, reference, rng, shift)
    truth = sitk.BSplineTransformInitializer(reference, [spec.mesh] * dim, order=3)
    coefficients = rng.uniform(-spec.bspline, spec.bspline, len(truth.GetParameters()))
    if spec.shift or spec.angle or spec.linear:
        # L ∘ P as one B-spline: P(x) = x + Σ c_k β_k(x), so L(P(x)) = L(x) + A·Σ c_k β_k(x), and L(x) − x is
        # reproduced by the coefficients L(p_k) − p_k at the control points p_k.
        linear = _affine(spec, reference, rng, shift)
        grid = truth.GetCoefficientImages()[0]
        field = sitk.TransformToDisplacementField(
            linear, sitk.sitkVectorFloat64, grid.GetSize(), grid.GetOrigin(), grid.GetSpacing(), grid.GetDirection()
        )
        at_points = sitk.GetArrayFromImage(field).reshape(-1, dim).T  # (dim, control points), ITK's order
        matrix = np.reshape(linear.GetMatrix(), (dim, dim))
        coefficients = (matrix @ coefficients.reshape(dim, -1) + at_points).ravel()
    truth.SetParameters(tuple(float(c) for c in coefficients))
    return truth


# -- simulated instances of a case's own images ------------------------------------------------------------

INTENSITIES = ("auto", "none", "invert", "remap")
#: The metrics whose pairs are usually of two modalities: ``intensity = "auto"`` remaps for them.
MULTIMODAL_METRICS = ("mattes", "jhmi")
#: Which models can represent each part of the random transform (the model is the case's setup.transform).
APPLIES = {
    "rotation": ("rigid", "similarity", "affine", "bspline"),
    "scale": ("similarity", "affine", "bspline"),
    "bspline": ("bspline",),
}
#: No folding: a uniform cubic B-spline is injective when every control point moves less than 1/K times the
#: control-point spacing along each grid axis, K ≈ 2.046 in 2D and K ≈ 2.479 in 3D (Choi & Lee, "Injectivity
#: conditions of 2D and 3D uniform cubic B-spline functions", Graphical Models 62(6), 2000, sufficient
#: conditions); 0.4 is within both (Rueckert et al., MICCAI 2006, use the same bound).
FOLDING_BOUND = 0.4
#: The random streams of one instance, as ``np.random.default_rng([seed, SIMULATION_STREAM, part])``.
SIMULATION_STREAM = 0x5117
_TRUTH, _SIGN, _FIXED_NOISE, _MOVING_NOISE = range(4)


@dataclass(frozen=True)
class Simulation:
    """How to make instances from a case's own images: one random transform of the case's model per run seed.

    Magnitudes are in physical units: ``translation`` is the length of the shift (random direction),
    ``rotation`` the angle in degrees about the image centre (random sign; random axis in 3D), ``scale`` the
    size of the linear part (similarity: a factor in [1 − scale, 1 + scale]; affine and bspline: each entry of
    the identity moved by up to ±scale, scale and shear), ``bspline`` the largest control-point displacement
    per physical axis on a ``mesh``-cell grid (bounded so nothing folds: :meth:`bspline_limit`).
    ``intensity`` changes the moving image: "none", "invert" (v → max + min − v, monotone decreasing),
    "remap" (:func:`remap` on intensities normalized to the image's 0.5–99.5th percentile range: not monotone),
    "auto" (remap for a mutual-information metric, whose pairs are usually multimodal, else none).
    ``noise`` is the standard deviation of Gaussian noise added to both images, as a fraction of each image's
    intensity range (0.5–99.5th percentile). ``instances`` is how many seeds are meant (for descriptions).
    """

    instances: int = 10
    translation: float = 0.0
    rotation: float = 0.0
    scale: float = 0.0
    bspline: float = 0.0
    mesh: int = 4
    intensity: str = "auto"
    noise: float = 0.0

    def __post_init__(self) -> None:
        _integer("instances", self.instances, 1, 100_000)
        _integer("mesh", self.mesh, 1, MAX_MESH)
        for key, unit, limit in (
            ("translation", "physical units", math.inf),
            ("rotation", "degrees", 180.0),
            ("scale", "a fraction: the linear part stays invertible", 1 / 3),
            ("bspline", "physical units", math.inf),
            ("noise", "a fraction of the intensity range", 1.0),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < limit:
                bound = "a finite number ≥ 0" + (f" and < {limit:.4g}" if limit < math.inf else "")
                raise CaseError(f"simulate: {key} must be {bound} ({unit}), got {value!r}")
        if self.intensity not in INTENSITIES:
            raise CaseError(f"simulate: intensity {self.intensity!r} is not one of {', '.join(INTENSITIES)}")
        if not (self.translation or self.rotation or self.scale or self.bspline):
            raise CaseError(
                "simulate: translation, rotation, scale and bspline are all 0: give at least one deformation "
                "(physical units, degrees)"
            )

    def resolved(self, setup: Setup) -> Simulation:
        """This simulation for a case with ``setup``: ``intensity = "auto"`` decided by its metric."""
        if self.intensity != "auto":
            return self
        return dataclasses.replace(self, intensity="remap" if setup.metric in MULTIMODAL_METRICS else "none")

    def check_model(self, model: str) -> None:
        """Refuse a part the case's model cannot represent (the truth would be out of every strategy's reach)."""
        for key, models in APPLIES.items():
            value = getattr(self, key)
            if value and model not in models:
                raise CaseError(
                    f"simulate: {key} {value:g} does not apply to the case's {model} model (only to "
                    f"{', '.join(models)}): set it to 0, or change the setup's transform"
                )

    def bspline_limit(self, reference: sitk.Image) -> float:
        """The largest ``bspline`` that cannot fold on ``reference``'s grid: :data:`FOLDING_BOUND` × the
        control-point spacing along each grid axis, divided by how much a displacement bounded per physical
        axis can grow along that grid axis (1 for an axis-aligned image, up to √dim for an oblique one)."""
        dim = reference.GetDimension()
        grid = sitk.BSplineTransformInitializer(reference, [self.mesh] * dim, order=3).GetCoefficientImages()[0]
        direction = np.abs(np.reshape(reference.GetDirection(), (dim, dim)))
        return float(min(FOLDING_BOUND * h / direction[:, k].sum() for k, h in enumerate(grid.GetSpacing())))

    def describe(self, of: str) -> str:
        """In words, for `regbench list` and reports: 'simulated deformations of X's fixed image, one per seed'."""
        sizes = [f"translation {self.translation:g}"] if self.translation else []
        sizes += [f"rotation {self.rotation:g}°"] if self.rotation else []
        sizes += [f"scale ±{100 * self.scale:g}%"] if self.scale else []
        sizes += [f"B-spline ±{self.bspline:g} on a {self.mesh}-cell mesh"] if self.bspline else []
        parts = [", ".join(sizes)]
        if self.translation or self.bspline:
            parts.append("lengths in physical units")
        if self.intensity in ("invert", "remap"):
            parts.append(f"moving intensities {self.intensity}ed".replace("remaped", "remapped"))
        if self.noise:
            parts.append(f"noise {100 * self.noise:g}% of the intensity range")
        # no count: how many instances there are is how many seeds were run, which the case cannot know
        return f"simulated deformations of {of}'s fixed image, one per seed ({'; '.join(parts)})"


def _integer(key: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CaseError(f"simulate: {key} must be an integer from {low} to {high}, got {value!r}")


@dataclass
class Instance:
    """One simulated instance: the :class:`~regbench.CaseData` fields it defines (keyword for keyword)."""

    fixed: sitk.Image
    moving: sitk.Image
    truth: sitk.Transform
    fixed_mask: sitk.Image | None = None
    moving_mask: sitk.Image | None = None
    fixed_labels: sitk.Image | None = None
    moving_labels: sitk.Image | None = None


def intensity_range(image: sitk.Image) -> tuple[float, float]:
    """The 0.5th and 99.5th percentiles of ``image`` (its minimum and maximum when they coincide)."""
    array = sitk.GetArrayViewFromImage(image)
    low, high = (float(v) for v in np.percentile(array, [0.5, 99.5]))
    return (low, high) if high > low else (float(array.min()), float(array.max()))


def simulate(
    simulation: Simulation,
    setup: Setup,
    image: sitk.Image,
    seed: int,
    mask: sitk.Image | None = None,
    labels: sitk.Image | None = None,
) -> Instance:
    """Seed ``seed``'s instance of ``image`` (a case's fixed image, scalar float) with its ``mask`` and
    ``labels``.

    The moving image is ``image`` as it is (after ``simulation.intensity``); the fixed image is ``image`` warped
    through a random transform T of ``setup``'s model (fixed(x) = image(T(x)), the outside at the image's
    minimum), the mask and labels warped alike by nearest neighbour; the moving mask and labels are the given
    ones. So T, the instance's truth, maps its fixed points to its moving points exactly. Every seed (0 included)
    draws its own T and noise from ``np.random.default_rng([seed, SIMULATION_STREAM, part])``.
    """
    simulation = simulation.resolved(setup)
    simulation.check_model(setup.transform)
    if simulation.bspline and simulation.bspline > (limit := simulation.bspline_limit(image)):
        raise CaseError(
            f"simulate: bspline {simulation.bspline:g} can fold the image: on a {simulation.mesh}-cell mesh over "
            f"this {'×'.join(map(str, image.GetSize()))} image the limit is {limit:.4g} physical units "
            f"({FOLDING_BOUND} × the control-point spacing, Choi & Lee 2000): lower bspline or mesh"
        )
    stream = [int(seed), SIMULATION_STREAM]
    sign = 1.0 if np.random.default_rng([*stream, _SIGN]).random() < 0.5 else -1.0
    spec = TruthSpec(
        setup.transform,
        shift=simulation.translation,
        angle=sign * simulation.rotation,
        linear=simulation.scale,
        bspline=simulation.bspline,
        mesh=simulation.mesh,
    )
    truth = make_truth(spec, image, [*stream, _TRUTH])
    through = _sampled(truth, image) if spec.kind == "bspline" else truth
    fixed = warp(image, through, default=float(np.min(sitk.GetArrayViewFromImage(image))))
    moving = _changed(image, simulation.intensity)
    if simulation.noise:
        fixed = add_noise(fixed, simulation.noise * np.ptp(intensity_range(fixed)), [*stream, _FIXED_NOISE])
        moving = add_noise(moving, simulation.noise * np.ptp(intensity_range(moving)), [*stream, _MOVING_NOISE])
    nearest = sitk.sitkNearestNeighbor
    return Instance(
        fixed=fixed,
        moving=moving,
        truth=truth,
        fixed_mask=warp(mask, through, nearest) if mask is not None else None,
        moving_mask=mask,
        fixed_labels=warp(labels, through, nearest) if labels is not None else None,
        moving_labels=labels,
    )


def _sampled(truth: sitk.Transform, image: sitk.Image) -> sitk.Transform:
    """``truth`` as a displacement field on ``image``'s grid: the same mapping at every voxel centre (where the
    resampling asks), but a B-spline is evaluated once per voxel instead of once per image resampled (3× faster
    for an image, its mask and its labels)."""
    field = sitk.TransformToDisplacementField(
        truth, sitk.sitkVectorFloat64, image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection()
    )
    return sitk.DisplacementFieldTransform(field)


def _changed(image: sitk.Image, intensity: str) -> sitk.Image:
    """The moving image's intensity change (:class:`Simulation`'s ``intensity``)."""
    if intensity == "none":
        return image
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    if intensity == "invert":
        return _image(array.max() + array.min() - array, image)
    low, high = intensity_range(image)
    return remap(_image(np.clip((array - low) / (high - low), 0.0, 1.0), image))
