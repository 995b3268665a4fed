"""Synthetic cases generated deterministically from a seed, with known truth."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup


def texture(size: tuple[int, ...], seed: int) -> sitk.Image:
    """Smooth random texture with structures at several scales, in [0, 1], unit spacing, origin 0."""
    rng = np.random.default_rng(seed)
    shape = tuple(reversed(size))
    array = np.zeros(shape)
    for sigma, weight in ((8.0, 1.0), (3.0, 0.5), (1.5, 0.25)):
        noise = sitk.GetImageFromArray(rng.standard_normal(shape))
        array += weight * sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, sigma)) / sigma**-0.5
    array = (array - array.min()) / (array.max() - array.min())
    return sitk.GetImageFromArray(array.astype(np.float32))


def warped_pair(size: tuple[int, ...], truth: sitk.Transform, seed: int, noise: float = 0.01) -> CaseData:
    """Moving = the texture; fixed = the texture seen through ``truth`` (so truth maps fixed → moving)."""
    moving = texture(size, seed)
    fixed = sitk.Resample(moving, moving, truth, sitk.sitkLinear, 0.0)
    rng = np.random.default_rng(seed + 1)
    fixed_array = sitk.GetArrayFromImage(fixed)
    noisy = sitk.GetImageFromArray(fixed_array + noise * rng.standard_normal(fixed_array.shape).astype(np.float32))
    noisy.CopyInformation(fixed)
    return CaseData(fixed=noisy, moving=moving, truth=truth)


def translation_2d() -> CaseData:
    return warped_pair((96, 96), sitk.TranslationTransform(2, (3.5, -2.25)), seed=11)


def affine_2d() -> CaseData:
    truth = sitk.AffineTransform(2)
    truth.SetCenter((47.5, 47.5))
    truth.SetMatrix((1.04, 0.05, -0.03, 0.97))
    truth.SetTranslation((2.0, -1.5))
    return warped_pair((96, 96), truth, seed=12)


def bspline_2d() -> CaseData:
    moving = texture((96, 96), seed=13)
    truth = sitk.BSplineTransformInitializer(moving, [4, 4], order=3)
    rng = np.random.default_rng(13)
    truth.SetParameters(tuple(rng.uniform(-2.5, 2.5, len(truth.GetParameters()))))
    return warped_pair((96, 96), truth, seed=13)


PYRAMID = {"shrink_factors": (2, 1), "smoothing_sigmas": (1.0, 0.0)}


@regbench.hookimpl
def regbench_register_cases(register):
    register(
        Case(
            "synth2d-translation",
            translation_2d,
            Setup(transform="translation", **PYRAMID),
            description="2D 96² texture, known translation (3.5, -2.25), mean squares",
            tags=("synthetic", "2d", "mono"),
            default=True,
        )
    )
    register(
        Case(
            "synth2d-affine",
            affine_2d,
            Setup(transform="affine", **PYRAMID),
            description="2D 96² texture, known affine (4% scale, shear, shift), mean squares",
            tags=("synthetic", "2d", "mono"),
            default=True,
        )
    )
    register(
        Case(
            "synth2d-bspline",
            bspline_2d,
            Setup(transform="bspline", mesh_size=(4,), **PYRAMID),
            description="2D 96² texture, known B-spline deformation (4×4 mesh, ±2.5 px), mean squares",
            tags=("synthetic", "2d", "mono", "deformable"),
            default=True,
        )
    )


__all__ = ["texture", "warped_pair"]
