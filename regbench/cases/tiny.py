"""Tiny synthetic cases for tests: a 2D 64² pair with a known truth that registers in well under a second, and a
case on which every registration fails (no overlap)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case, CaseData, Setup

# The known truth per transform model: small enough that every sane optimizer gets closer.
_TRUTHS: dict[str, Callable[[], sitk.Transform]] = {
    "translation": lambda: sitk.TranslationTransform(2, (2.5, -1.5)),
    "rigid": lambda: sitk.Euler2DTransform((31.5, 31.5), 0.04, (2.0, -1.5)),
    "affine": lambda: sitk.AffineTransform((1.03, 0.03, -0.02, 0.98), (2.0, -1.5), (31.5, 31.5)),
}


def _texture(seed: int, size: int = 64) -> sitk.Image:
    """Smooth random texture in [0, 1] (structures at two scales: the metric has a clear basin)."""
    rng = np.random.default_rng(seed)
    array = np.zeros((size, size))
    for sigma, weight in ((4.0, 1.0), (1.5, 0.5)):
        noise = sitk.GetImageFromArray(rng.standard_normal((size, size)))
        array += weight * sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, sigma)) * sigma
    array = (array - array.min()) / (array.max() - array.min())
    return sitk.GetImageFromArray(array.astype(np.float32))


@functools.cache
def _tiny_data(transform: str) -> CaseData:
    # Self-contained on purpose: the kit's case must not change when the built-in cases do.
    moving = _texture(seed=3)
    truth = _TRUTHS[transform]()
    fixed = sitk.Resample(moving, moving, truth, sitk.sitkLinear, 0.0)
    noise = np.random.default_rng(4).normal(0.0, 0.01, (64, 64)).astype(np.float32)
    noisy = sitk.GetImageFromArray(sitk.GetArrayFromImage(fixed) + noise)
    return CaseData(fixed=noisy, moving=moving, truth=truth)


def make_tiny_case(transform: str = "translation") -> Case:
    """A 2D 64² textured pair with a known ``transform`` ("translation", "rigid" or "affine"), mean squares,
    two pyramid levels (shrink 2 then 1). Images are generated once per process."""
    if transform not in _TRUTHS:
        raise ValueError(f"tiny case transform {transform!r} is not one of {', '.join(_TRUTHS)}")
    return Case(
        f"tiny-{transform}",
        functools.partial(_tiny_data, transform),
        Setup(transform=transform, shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)),
        description=f"2D 64² texture with a known {transform}, mean squares (regbench.testing)",
        tags=("synthetic", "2d", "testing"),
    )


@functools.cache
def _no_overlap_data() -> CaseData:
    moving = _texture(seed=4, size=32)
    moving.SetOrigin((10_000.0, 10_000.0))  # nowhere near the fixed image
    return CaseData(fixed=_texture(seed=5, size=32), moving=moving)


def make_failing_case() -> Case:
    """A case on which every ``Execute`` raises, whatever the optimizer: Mattes MI with images that do not
    overlap ("All samples map outside moving image buffer")."""
    return Case(
        "no-overlap",
        _no_overlap_data,
        Setup(transform="translation", metric="mattes"),
        description="images 10 km apart: Execute raises for every optimizer (regbench.testing)",
        tags=("testing",),
    )
