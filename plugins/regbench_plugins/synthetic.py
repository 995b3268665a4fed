"""The synthetic-case generator: textured phantoms, known truths of controlled size, modality, noise.

Everything is a pure function of its arguments and a seed: the same spec gives the same images bit for bit.
Images have unit spacing, origin 0 and intensities in [0, 1] (before noise). The generator makes the *moving*
image and then the fixed one as ``Resample(moving, truth)``, so the truth maps fixed-space points to moving
space exactly: the direction of the transform a registration returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from regbench import CaseData


def _smoothed_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    noise = sitk.GetImageFromArray(rng.standard_normal(shape))
    return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, sigma))


def _normalized(array: np.ndarray) -> np.ndarray:
    return (array - array.min()) / (array.max() - array.min())


def _standardized(array: np.ndarray) -> np.ndarray:
    return (array - array.mean()) / array.std()


def _image(array: np.ndarray) -> sitk.Image:
    return sitk.GetImageFromArray(array.astype(np.float32))


def texture(size: tuple[int, ...], seed: int) -> sitk.Image:
    """Smooth random texture with structures at several scales, in [0, 1], unit spacing, origin 0."""
    rng = np.random.default_rng(seed)
    shape = tuple(reversed(size))
    array = np.zeros(shape)
    for sigma, weight in ((8.0, 1.0), (3.0, 0.5), (1.5, 0.25)):
        array += weight * _smoothed_noise(rng, shape, sigma) / sigma**-0.5
    return _image(_normalized(array))


# Tissue intensities of the phantom's three regions (the multi-modal remap reorders them).
TISSUES = (0.35, 0.65, 0.9)


def phantom(size: tuple[int, ...], seed: int) -> sitk.Image:
    """A textured 'body' on a dark background, in [0, 1], unit spacing, origin 0.

    Like an anatomical image: an irregular blob (a wobbly ellipse or ellipsoid) filling about 60% of the
    field of view, split into three piecewise-constant 'tissues' with sharp borders, plus fine texture at
    several scales. The borders and the texture give the metric local minima; the background gives a
    foreground that is not the whole domain (so whole-domain and foreground errors differ, reference §10).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(reversed(size))
    scale = min(size)
    # Normalized coordinates in [-1, 1] per axis (array order).
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    radius = np.sqrt(sum((a / 0.78) ** 2 for a in axes))
    body = (radius < 1.0 + 0.1 * _standardized(_smoothed_noise(rng, shape, scale / 8))) & (radius < 1.2)
    regions = _smoothed_noise(rng, shape, scale / 14)
    inside = regions[body]
    thresholds = np.quantile(inside, [1 / 3, 2 / 3])
    tissue = np.choose(np.digitize(regions, thresholds), TISSUES)
    fine = sum(_standardized(_smoothed_noise(rng, shape, sigma)) for sigma in (1.0, 2.5))
    array = np.where(body, tissue + 0.045 * fine, 0.0)
    # A little blur so edges are not aliased (an image, not a label map).
    smooth = sitk.SmoothingRecursiveGaussian(_image(array), 0.6)
    return _image(np.clip(sitk.GetArrayFromImage(smooth), 0.0, 1.0))


def remap(image: sitk.Image) -> sitk.Image:
    """A non-monotonic intensity remapping (another 'modality'): the same anatomy, other contrasts.

    g(v) = (1 − cos(2.4πv)) / 2 keeps the background at 0 and maps the tissues 0.35, 0.65, 0.9 to about 0.94,
    0.41, 0.06: contrast inverted between tissues and the brightest tissue close to the background. Mean
    squares is the wrong metric for such a pair; mutual information is the right one.
    """
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    out = _image(0.5 * (1.0 - np.cos(2.4 * math.pi * array)))
    out.CopyInformation(image)
    return out


def add_noise(image: sitk.Image, sigma: float, seed: int) -> sitk.Image:
    """Gaussian noise of standard deviation ``sigma`` (intensities are in [0, 1])."""
    if sigma <= 0:
        return image
    array = sitk.GetArrayFromImage(image)
    rng = np.random.default_rng(seed)
    out = _image(array + sigma * rng.standard_normal(array.shape))
    out.CopyInformation(image)
    return out


def warped_pair(
    size: tuple[int, ...],
    truth: sitk.Transform,
    seed: int,
    noise: float = 0.01,
    image: Callable[[tuple[int, ...], int], sitk.Image] = texture,
    multimodal: bool = False,
) -> CaseData:
    """Moving = ``image(size, seed)``; fixed = the moving image seen through ``truth``, so ``truth`` maps
    fixed-space points to moving space. ``multimodal`` remaps the moving image's intensities (:func:`remap`);
    independent Gaussian noise of standard deviation ``noise`` is added to both images afterwards."""
    clean = image(size, seed)
    fixed = sitk.Resample(clean, clean, truth, sitk.sitkLinear, 0.0)
    moving = remap(clean) if multimodal else clean
    return CaseData(
        fixed=add_noise(fixed, noise, seed + 1),
        moving=add_noise(moving, noise, seed + 2),
        truth=truth,
    )


# -- known transforms of controlled size ------------------------------------------------------------------


@dataclass(frozen=True)
class TruthSpec:
    """A random transform of controlled size. Sizes are in physical units (pixels here) and degrees.

    ``kind`` is translation, rigid, affine or bspline. ``shift`` is the length of the translation (random
    direction), ``angle`` the rotation (about a random axis in 3D) about the image centre, ``linear`` the
    largest entry of the non-rotational linear part (scale and shear, e.g. 0.05 for 5%), ``bspline`` the
    largest control-point displacement per axis on a ``mesh``-cell grid.
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


def make_truth(spec: TruthSpec, reference: sitk.Image, seed: int) -> sitk.Transform:
    """The transform ``spec`` describes, drawn with ``seed``, on ``reference``'s domain."""
    rng = np.random.default_rng(seed)
    dim = reference.GetDimension()
    direction = rng.standard_normal(dim)
    shift = spec.shift * direction / np.linalg.norm(direction)
    if spec.kind == "bspline":
        truth = sitk.BSplineTransformInitializer(reference, [spec.mesh] * dim, order=3)
        truth.SetParameters(tuple(rng.uniform(-spec.bspline, spec.bspline, len(truth.GetParameters()))))
        return truth
    if spec.kind == "translation":
        return sitk.TranslationTransform(dim, tuple(float(s) for s in shift))
    matrix = _rotation(dim, spec.angle, rng)
    if spec.kind == "affine":
        matrix = matrix @ (np.eye(dim) + rng.uniform(-spec.linear, spec.linear, (dim, dim)))
    elif spec.kind != "rigid":
        raise ValueError(f"unknown truth kind {spec.kind!r}: translation, rigid, affine or bspline")
    truth = sitk.AffineTransform(dim)
    truth.SetCenter(reference.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in reference.GetSize()]))
    truth.SetMatrix(tuple(float(v) for v in matrix.ravel()))
    truth.SetTranslation(tuple(float(s) for s in shift))
    return truth


@dataclass(frozen=True)
class PairSpec:
    """Everything that defines a synthetic image pair."""

    size: tuple[int, ...]
    truth: TruthSpec
    seed: int
    multimodal: bool = False
    noise: float = 0.02

    def describe(self) -> str:
        grid = "×".join(str(n) for n in self.size)
        modality = "multi-modal (remapped intensities)" if self.multimodal else "mono-modal"
        return f"{len(self.size)}D {grid} phantom, {modality}, {self.truth.describe()}, noise {self.noise:g}"


def generate(spec: PairSpec) -> CaseData:
    """The image pair and truth of ``spec`` (deterministic)."""
    reference = sitk.Image([int(n) for n in spec.size], sitk.sitkFloat32)
    truth = make_truth(spec.truth, reference, spec.seed)
    return warped_pair(spec.size, truth, spec.seed, spec.noise, image=phantom, multimodal=spec.multimodal)
