"""A case's :class:`Setup` (transform model, metric, sampling, pyramid, interpolator, the start's jitter) and its
validation: the choices and ranges a setup must keep, and the :class:`CaseError` a malformed case raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import SimpleITK as sitk

TRANSFORMS = ("translation", "rigid", "similarity", "affine", "bspline")
METRICS = ("mean_squares", "correlation", "mattes", "ants_nc", "jhmi")
#: Metrics SimpleITK offers that no setup can use, and why (checked by Setup, so a case file says so at load).
UNSUPPORTED_METRICS = {
    "demons": "SimpleITK's demons metric (SetMetricAsDemons) needs a displacement-field transform (ITK 5.4 raises "
    "'The moving transform must be a displacement field transform' for translation, affine and B-spline models), "
    "and no setup model is one; use mean_squares, its intensity-difference counterpart"
}
SAMPLINGS = ("none", "regular", "random")
INTERPOLATORS = {
    "nearest": sitk.sitkNearestNeighbor,
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline,
}


class CaseError(ValueError):
    """A case is malformed: the message names the case (and file) and what is wrong."""


#: Ranges of the setup's numbers, checked when a case is defined (an out-of-range value fails inside ITK, or
#: allocates without bound, in every run).
MIN_HISTOGRAM_BINS, MAX_HISTOGRAM_BINS = 5, 4096  # ITK's Mattes MI needs at least 5 bins
MAX_ANTS_RADIUS = 64
MAX_SHRINK = 1024
MAX_MESH = 4096
#: Voxels per axis an image needs at the coarsest pyramid level (fewer leave the metric without a gradient).
MIN_VOXELS_PER_AXIS = 4


#: The start's seeded misalignments: Setup field, unit, and the models it applies to.
JITTERS = (
    ("initial_jitter", "physical units", TRANSFORMS),
    ("initial_jitter_angle", "degrees", ("rigid", "similarity", "affine")),
    ("initial_jitter_scale", "standard deviation of the log scale", ("similarity", "affine")),
)


@dataclass(frozen=True)
class Setup:
    """The registration problem's configuration, shared by every strategy run on the case."""

    transform: str = "affine"
    mesh_size: tuple[int, ...] = (4,)  # B-spline control-point mesh at the first level (one value per axis)
    mesh_scale_factors: tuple[int, ...] = ()  # per level; empty means a fixed mesh
    metric: str = "mean_squares"
    histogram_bins: int = 32  # Mattes MI and joint-histogram MI
    ants_radius: int = 2  # ANTS neighbourhood correlation
    sampling: str = "none"
    sampling_percentage: tuple[float, ...] = (1.0,)  # one value, or one per level
    shrink_factors: tuple[int, ...] = (1,)
    smoothing_sigmas: tuple[float, ...] = (0.0,)  # physical units
    interpolator: str = "linear"
    # A seeded misalignment of the start, so that seeds are distinct instances (with a dense metric every seed is
    # otherwise the same problem). Seed 0 is the nominal start, unperturbed; seed k ≥ 1 draws, from k alone:
    # initial_jitter: standard deviation (physical units) of a translation per axis, for every model (a B-spline
    # is shifted by moving all its control points alike: a pure translation over the image domain);
    initial_jitter: float = 0.0
    # initial_jitter_angle: standard deviation (degrees) of a rotation about the transform's centre (about a
    # random axis in 3D), for rigid, similarity and affine models;
    initial_jitter_angle: float = 0.0
    # initial_jitter_scale: standard deviation of the log of an isotropic scale about the centre (0.02: about 2%),
    # for similarity and affine models.
    initial_jitter_scale: float = 0.0

    def __post_init__(self) -> None:
        _choice("transform", self.transform, TRANSFORMS)
        if self.metric in UNSUPPORTED_METRICS:
            raise CaseError(f"setup: metric {self.metric!r} is not supported: {UNSUPPORTED_METRICS[self.metric]}")
        _choice("metric", self.metric, METRICS)
        _choice("sampling", self.sampling, SAMPLINGS)
        _choice("interpolator", self.interpolator, tuple(INTERPOLATORS))
        if len(self.shrink_factors) != len(self.smoothing_sigmas):
            raise CaseError(
                f"setup: shrink_factors {list(self.shrink_factors)} and smoothing_sigmas "
                f"{list(self.smoothing_sigmas)} must have one value per level"
            )
        if not self.shrink_factors or any(int(f) < 1 for f in self.shrink_factors):
            raise CaseError(f"setup: shrink_factors must be integers ≥ 1, got {list(self.shrink_factors)}")
        if any(s < 0 for s in self.smoothing_sigmas):
            raise CaseError(f"setup: smoothing_sigmas must be ≥ 0, got {list(self.smoothing_sigmas)}")
        if len(self.sampling_percentage) not in (1, self.levels):
            raise CaseError("setup: sampling_percentage needs one value or one per level")
        if any(not 0 < p <= 1 for p in self.sampling_percentage):
            raise CaseError(f"setup: sampling_percentage must be in (0, 1], got {list(self.sampling_percentage)}")
        for name, unit, models in JITTERS:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")):
                raise CaseError(f"setup: {name} must be a finite number ≥ 0 ({unit}), got {value!r}")
            if value and self.transform not in models:
                raise CaseError(
                    f"setup: {name} applies to {', '.join(models)} models, not {self.transform} (set it to 0)"
                )
        if not self.mesh_size or any(int(m) < 1 for m in self.mesh_size):
            raise CaseError(f"setup: mesh_size must be integers ≥ 1 (cells per axis), got {list(self.mesh_size)}")
        if any(int(f) < 0 for f in self.mesh_scale_factors):
            raise CaseError(f"setup: mesh_scale_factors must be ≥ 0, got {list(self.mesh_scale_factors)}")
        if self.mesh_scale_factors and len(self.mesh_scale_factors) != self.levels:
            raise CaseError("setup: mesh_scale_factors needs one value per level")
        if not MIN_HISTOGRAM_BINS <= self.histogram_bins <= MAX_HISTOGRAM_BINS:
            raise CaseError(
                f"setup: histogram_bins must be an integer from {MIN_HISTOGRAM_BINS} to {MAX_HISTOGRAM_BINS}, "
                f"got {self.histogram_bins!r}"
            )
        if not 1 <= self.ants_radius <= MAX_ANTS_RADIUS:
            raise CaseError(
                f"setup: ants_radius must be an integer from 1 to {MAX_ANTS_RADIUS}, got {self.ants_radius!r}"
            )
        if any(int(f) > MAX_SHRINK for f in self.shrink_factors):
            raise CaseError(f"setup: shrink_factors must be ≤ {MAX_SHRINK}, got {list(self.shrink_factors)}")
        if any(not 0 <= float(s) < float("inf") for s in self.smoothing_sigmas):
            raise CaseError(f"setup: smoothing_sigmas must be finite, got {list(self.smoothing_sigmas)}")
        if any(int(m) > MAX_MESH for m in self.mesh_size):
            raise CaseError(f"setup: mesh_size must be ≤ {MAX_MESH} cells per axis, got {list(self.mesh_size)}")
        if any(int(f) > MAX_MESH for f in self.mesh_scale_factors):
            raise CaseError(f"setup: mesh_scale_factors must be ≤ {MAX_MESH}, got {list(self.mesh_scale_factors)}")

    @property
    def levels(self) -> int:
        return len(self.shrink_factors)

    def jittered(self, shift: float = 0.0, angle: float = 0.0, scale: float = 0.0) -> Setup:
        """This setup with each seed's start misaligned by these standard deviations (``shift`` in physical units,
        ``angle`` in degrees, ``scale`` of the log scale), keeping those that apply to its model: a family of cases
        states one misalignment for all its models (``Setup(transform="rigid").jittered(1.0, 2.0, 0.02)`` sets
        the shift and the angle)."""
        wanted = {"initial_jitter": shift, "initial_jitter_angle": angle, "initial_jitter_scale": scale}
        # mypy: the float values against every field's type (once hidden by the override of regbench.cases.case)
        return dataclasses.replace(
            self,
            **{name: float(wanted[name]) for name, _, models in JITTERS if self.transform in models},  # type: ignore[arg-type]
        )

    def percentage(self, level: int) -> float:
        return self.sampling_percentage[level if len(self.sampling_percentage) > 1 else 0]


def _choice(name: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise CaseError(f"setup: {name} {value!r} is not one of {', '.join(valid)}")
