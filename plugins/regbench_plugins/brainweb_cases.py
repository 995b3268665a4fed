"""Real cases: the ITK Software Guide's BrainWeb slices and rat lung pair.

The images come with Debian's ``insighttoolkit5-examples`` package (or any directory named by
``REGBENCH_ITK_DATA``). Without them the cases are still registered, marked unavailable with a hint, so
``regbench list`` says how to get them.

Truths map fixed-space points to moving space. Each was checked against the images, not taken from the file
names (``tests/test_cases_brainweb.py`` registers from the truth and finds it again):

- ``...Shifted13x17y``: the moving content sits at x + (13, 17); the truth is that translation.
- ``...R10X13Y17``: a 10° rotation about the image centre (110.5, 128.5) followed by a shift of (13, **16**),
  not 17: the mean-squares optimum is there, and it is the Software Guide's own ImageRegistration5 result
  [0.174482, 123.182, 147.108, 9.57676, 17.922] (angle, centre, translation) moved to that centre.
- ``...R10X13Y17S12``: the moving image was resampled *through* a similarity (scale 1.2, 10°, shift (13, 17)
  about (110.5, 128.5)), so the fixed → moving truth is that similarity's inverse (scale 1/1.2, −10°).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any  # the keyword sets below mix the types of Setup's fields

import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup, as_float

DATA_ENV = "REGBENCH_ITK_DATA"
DEBIAN_DATA = Path("/usr/share/doc/insighttoolkit5-examples/examples/Data")
CENTRE = (110.5, 128.5)  # centre of rotation of the Border20 images (221 × 257)

PD = "BrainProtonDensitySliceBorder20.png"
T1 = "BrainT1SliceBorder20.png"
SHIFTED = "BrainProtonDensitySliceShifted13x17y.png"


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEBIAN_DATA)


def read(name: str) -> sitk.Image:
    """A scalar float image from the data directory (PNGs load as 3-component 8-bit: one component is kept)."""
    warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # libpng complains about these files' sCAL chunk
    try:
        return as_float(sitk.ReadImage(str(data_dir() / name)))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings)


def shift_truth() -> sitk.Transform:
    return sitk.TranslationTransform(2, (13.0, 17.0))


def rigid_truth() -> sitk.Transform:
    return sitk.Euler2DTransform(CENTRE, math.radians(10.0), (13.0, 16.0))


def similarity_truth() -> sitk.Transform:
    resampling = sitk.Similarity2DTransform(1.2, math.radians(10.0), (13.0, 17.0), CENTRE)
    return resampling.GetInverse().Downcast()


@dataclass(frozen=True)
class RealCase:
    name: str
    fixed: str
    moving: str
    setup: Setup
    description: str
    truth: Callable[[], sitk.Transform] | None = None
    tags: tuple[str, ...] = ()

    def load(self) -> CaseData:
        truth = self.truth() if self.truth else None
        return CaseData(fixed=read(self.fixed), moving=read(self.moving), truth=truth)

    def case(self) -> Case:
        missing = [f for f in (self.fixed, self.moving) if not (data_dir() / f).is_file()]
        hint = None
        if missing:
            hint = (
                "needs the ITK Software Guide images: `sudo apt-get install insighttoolkit5-examples`, or set "
                f"{DATA_ENV} to a directory holding them ({', '.join(missing)} not found in {data_dir()})"
            )
        return Case(
            self.name,
            partial(RealCase.load, self),
            self.setup,
            description=self.description,
            tags=("real", "2d", *self.tags),
            default=False,
            unavailable=hint,
        )


PYRAMID: dict[str, Any] = {"shrink_factors": (4, 2, 1), "smoothing_sigmas": (2.0, 1.0, 0.0)}
# Each seed ≥ 1 starts from its own misalignment, seed 0 from the identity (the Software Guide's problem): per axis
# a shift of σ = 1 px, a rotation of σ = 2° where the model rotates, a scale of σ = 2% where it scales; the rat
# lung B-spline gets the shift. Small beside the truths (13–17 px, 10°, 1.2×).
JITTER: dict[str, float] = {"shift": 1.0, "angle": 2.0, "scale": 0.02}


def _setup(transform: str, **extra: Any) -> Setup:
    return Setup(transform=transform, **extra).jittered(**JITTER)


CASES = (
    RealCase(
        "brainweb-pd-shift",
        PD,
        SHIFTED,
        _setup("translation", **PYRAMID),
        "BrainWeb PD slice 221×257 moved by (13, 17) px; translation model, mean squares",
        truth=shift_truth,
        tags=("mono", "translation"),
    ),
    RealCase(
        "brainweb-t1-pd",
        T1,
        SHIFTED,
        _setup("rigid", metric="mattes", histogram_bins=32, **PYRAMID),
        "BrainWeb T1 (fixed) and PD moved by (13, 17) px (moving), 221×257; rigid model, Mattes MI",
        truth=shift_truth,
        tags=("multi", "rigid"),
    ),
    RealCase(
        "brainweb-pd-rigid",
        PD,
        "BrainProtonDensitySliceR10X13Y17.png",
        _setup("rigid", **PYRAMID),
        "BrainWeb PD slice 221×257 rotated 10° and shifted (file R10X13Y17); rigid model, mean squares",
        truth=rigid_truth,
        tags=("mono", "rigid"),
    ),
    RealCase(
        "brainweb-pd-similarity",
        PD,
        "BrainProtonDensitySliceR10X13Y17S12.png",
        _setup("similarity", **PYRAMID),
        "BrainWeb PD slice 221×257 rotated 10°, shifted (13, 17) and scaled 1.2; similarity model, mean squares",
        truth=similarity_truth,
        tags=("mono", "similarity"),
    ),
    RealCase(
        "ratlung-bspline",
        "RatLungSlice1.mha",
        "RatLungSlice2.mha",
        _setup("bspline", mesh_size=(6,), shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)),
        "Rat lung slices 128×128, two time points; B-spline 6×6 mesh, mean squares; no truth (dense metric only)",
        tags=("mono", "bspline", "deformable", "no-truth"),
    ),
)


@regbench.hookimpl
def regbench_register_cases(register: Callable[[Case], None]) -> None:
    for spec in CASES:
        register(spec.case())
