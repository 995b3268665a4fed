"""Real anatomy with labels: the Colin27 brain and its AAL atlas under known smooth warps.

The images come with Debian's ``mricron-data`` package (or any directory named by ``REGBENCH_MRICRON_DATA``):
``ch2bet.nii.gz``, Colin27 (the MNI single-subject T1, 181×217×181 at 1 mm) skull-stripped, and ``aal.nii.gz``,
the AAL atlas (116 regions) on the same grid. Without them the cases are still registered, marked unavailable
with a hint, so ``regbench list`` says how to get them.

Each case is made as the synthetic generator makes its pairs, so the truth is exact:

1. moving = ``ch2bet`` averaged over 4×4×4 blocks (1 mm → 4 mm, 45×54×45: a run takes seconds), intensities
   divided by their maximum (to [0, 1], like the synthetic cases, so the strategies' defaults see one scale);
   moving labels = AAL sampled at the 4 mm voxel centres by nearest neighbour (labels stay integers; all 116
   survive, the smallest with 5 voxels);
2. truth = a random transform of stated size drawn on the moving grid (``make_truth``);
3. fixed = the moving image resampled through the truth (linear), fixed labels = the moving labels resampled
   through it (nearest neighbour): the truth maps fixed-space points to moving space and carries the labels
   exactly;
4. Gaussian noise (σ = 0.01) on both images, so they are not interpolations of each other.

The skull-stripped image is the moving one because the atlas labels only the brain: with scalp and skull in the
images (``ch2.nii.gz``) the mean-squares metric would be led by bright, unlabelled tissue at the edge of the
head, and Dice would judge a fit the metric barely saw. Atlas-to-subject registration is done on brains, too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any  # the keyword sets below mix the types of Setup's fields

import numpy as np
import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup, TruthSpec, add_noise, make_truth, warp

DATA_ENV = "REGBENCH_MRICRON_DATA"
DEBIAN_DATA = Path("/usr/share/mricron/templates")
BRAIN = "ch2bet.nii.gz"
LABELS = "aal.nii.gz"
SHRINK = 4  # 1 mm -> 4 mm
GRID = (45, 54, 45)  # 181×217×181 shrunk by 4 (the last partial block dropped)
NOISE = 0.01
LABEL_COUNT = 116  # AAL labels on the 4 mm grid, in the fixed and the moving labels alike: none is lost


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEBIAN_DATA)


def atlas() -> tuple[sitk.Image, sitk.Image]:
    """The brain (float32 in [0, 1]) and the AAL labels (uint8), both on the 4 mm grid."""
    brain = sitk.BinShrink(sitk.Cast(sitk.ReadImage(str(data_dir() / BRAIN)), sitk.sitkFloat32), [SHRINK] * 3)
    brain = brain / float(np.max(sitk.GetArrayViewFromImage(brain)))
    labels = sitk.ReadImage(str(data_dir() / LABELS), sitk.sitkUInt8)
    return brain, sitk.Resample(labels, brain, sitk.Transform(), sitk.sitkNearestNeighbor, 0)


@dataclass(frozen=True)
class Colin27Case:
    name: str
    truth: TruthSpec
    seed: int  # draws the truth and the noise
    setup: Setup

    def load(self) -> CaseData:
        moving, moving_labels = atlas()
        truth = make_truth(self.truth, moving, self.seed)
        fixed = warp(moving, truth)
        fixed_labels = warp(moving_labels, truth, sitk.sitkNearestNeighbor)
        return CaseData(
            fixed=add_noise(fixed, NOISE, self.seed + 1),
            moving=add_noise(moving, NOISE, self.seed + 2),
            truth=truth,
            fixed_labels=fixed_labels,
            moving_labels=moving_labels,
        )

    def description(self) -> str:
        setup = self.setup
        model = f"B-spline {'×'.join([str(setup.mesh_size[0])] * 3)}" if setup.transform == "bspline" else "affine"
        sampling = ""
        if setup.sampling != "none":
            sampling = (
                f", {' then '.join(f'{p:.0%}' for p in setup.sampling_percentage)} of the voxels sampled at random"
            )
        # TruthSpec sizes are physical units (mm here); its text says px, the synthetic images' unit.
        warp_text = self.truth.describe().replace(" px", " mm").replace(" truth (", " warp (")
        grid = "×".join(map(str, GRID))
        return (
            f"Colin27 T1 brain (skull-stripped) at {SHRINK} mm ({grid}) with {LABEL_COUNT} AAL labels under a known "
            f"{warp_text}; {model} model, mean squares{sampling}"
        )

    def case(self) -> Case:
        missing = [f for f in (BRAIN, LABELS) if not (data_dir() / f).is_file()]
        hint = None
        if missing:
            hint = (
                "needs the Colin27 brain and AAL atlas: `sudo apt-get install mricron-data`, or set "
                f"{DATA_ENV} to a directory holding them ({', '.join(missing)} not found in {data_dir()})"
            )
        tags = ["real", "3d", "mono", "labels", self.truth.kind]
        if self.truth.kind == "bspline":
            tags.append("deformable")
        return Case(
            self.name,
            partial(Colin27Case.load, self),
            self.setup,
            description=self.description(),
            tags=tuple(tags),
            default=False,
            unavailable=hint,
        )


# Two levels: the coarse one halves the 4 mm grid and smooths by half its voxel (as the synthetic suite does).
PYRAMID: dict[str, Any] = {"shrink_factors": (2, 1), "smoothing_sigmas": (4.0, 0.0)}
# Each seed ≥ 1 starts from its own misalignment, seed 0 from the identity: per axis a shift of σ = 2 mm (half a
# voxel), a rotation of σ = 2° and a scale of σ = 2% where the model has them. Small beside the truths.
JITTER: dict[str, float] = {"shift": 2.0, "angle": 2.0, "scale": 0.02}
# A B-spline gradient costs about 7 µs per sample here (each sample moves 64 control points in 3 axes): every
# voxel at 4 mm made an iteration 0.75 s and a gd run over 3 minutes. Random samples, drawn once per level from
# the run's seed, keep a run in seconds: half of the coarse level's voxels, a tenth of the fine level's (about
# 7000 and 11000 samples for 1029 parameters); lbfgs2 then reaches 0.8 mm on the brain instead of 0.5 mm.
SAMPLED: dict[str, Any] = {"sampling": "random", "sampling_percentage": (0.5, 0.1)}
AFFINE = TruthSpec("affine", shift=6.0, angle=5.0, linear=0.04)
# Control points 45 mm apart (4 cells over 180 mm); a cubic B-spline cannot fold while every displacement stays
# below about 0.4 of that spacing (18 mm; Choi and Lee 2000). ±10 mm moves the brain by 2.9 mm on average (at
# most 6.3 mm) with a Jacobian determinant in [0.76, 1.29]: well clear of folding.
BSPLINE = TruthSpec("bspline", bspline=10.0, mesh=4)

CASES = (
    Colin27Case("colin27-affine", AFFINE, 41, Setup(transform="affine", **PYRAMID).jittered(**JITTER)),
    Colin27Case(
        "colin27-bspline",
        BSPLINE,
        42,
        Setup(transform="bspline", mesh_size=(4,), **PYRAMID, **SAMPLED).jittered(**JITTER),
    ),
)


@regbench.hookimpl
def regbench_register_cases(register: Callable[[Case], None]) -> None:
    for spec in CASES:
        register(spec.case())
