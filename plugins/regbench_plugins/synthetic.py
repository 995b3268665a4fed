"""The synthetic-case generator: textured phantoms, known truths of controlled size, modality, noise.

Everything is a pure function of its arguments and a seed: the same spec gives the same images bit for bit.
Images have unit spacing, origin 0 and intensities in [0, 1] (before noise). The generator makes the *moving*
image and then the fixed one as ``Resample(moving, truth)``, so the truth maps fixed-space points to moving
space exactly: the direction of the transform a registration returns. The generic pieces (random truths,
warping, the intensity remapping, noise) are regbench's own (:mod:`regbench.cases.simulation`, through the public
API), shared with the simulated instances of a user's images; the phantom and the texture are this plugin's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from regbench import CaseData, TruthSpec, add_noise, make_truth, remap, warp


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
    fixed = warp(clean, truth)
    moving = remap(clean) if multimodal else clean
    return CaseData(
        fixed=add_noise(fixed, noise, seed + 1),
        moving=add_noise(moving, noise, seed + 2),
        truth=truth,
    )


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


# The generic pieces are re-exported: the synthetic cases' tests and other plugins import them from here.
__all__ = [
    "TISSUES",
    "PairSpec",
    "TruthSpec",
    "add_noise",
    "generate",
    "make_truth",
    "phantom",
    "remap",
    "texture",
    "warped_pair",
]
