"""A case's setup as an elastix parameter map, and its log read back (no itk here: plain text both ways).

The mapping (docs/engines.md has it as a table): transform model → elastix transform, metric → elastix's
"Advanced" metric, sampling → image sampler, pyramid → the generic pyramid with the case's shrink factors and
smoothing sigmas (physical units, as regbench's), interpolator → interpolator. What has no counterpart is refused
with :class:`regbench.UnsupportedSetup` naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import regbench
from regbench import UnsupportedSetup

TRANSFORMS = {
    "translation": "TranslationTransform",
    "rigid": "EulerTransform",
    "similarity": "SimilarityTransform",
    "affine": "AffineTransform",
    "bspline": "BSplineTransform",
}
METRICS = {
    "mean_squares": "AdvancedMeanSquares",
    "correlation": "AdvancedNormalizedCorrelation",
    "mattes": "AdvancedMattesMutualInformation",
}
#: Metrics of regbench with no elastix counterpart, and why.
NO_METRIC = {
    "ants_nc": "elastix has no ANTS neighbourhood correlation metric",
    "jhmi": "elastix's NormalizedMutualInformation is normalized MI, not SimpleITK's joint-histogram MI",
}
INTERPOLATORS = {
    "linear": ("LinearInterpolator", None),
    "nearest": ("NearestNeighborInterpolator", None),
    "bspline": ("BSplineInterpolator", "3"),
}


def parameter_map(
    setup: regbench.Setup,
    size: Sequence[int],
    spacing: Sequence[float],
    optimizer: str,
    iterations: int,
    seed: int,
    new_samples: bool,
    extra: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """The elastix parameter map of a case (fixed image ``size`` voxels of ``spacing``) for ``optimizer``."""
    dim = len(size)
    if setup.metric in NO_METRIC:
        raise UnsupportedSetup(f"metric {setup.metric!r} has no elastix counterpart: {NO_METRIC[setup.metric]}")
    if setup.sampling == "regular":
        raise UnsupportedSetup(
            "sampling 'regular' has no elastix counterpart: SimpleITK takes every k-th voxel in memory order with a "
            "random offset, elastix's Grid sampler a lattice; use sampling 'random' or 'none'"
        )
    levels = setup.levels
    interpolator, order = INTERPOLATORS[setup.interpolator]
    pm: dict[str, list[str]] = {
        "Registration": ["MultiResolutionRegistration"],
        "Transform": [TRANSFORMS[setup.transform]],
        "Metric": [METRICS[setup.metric]],
        "Optimizer": [optimizer],
        "Interpolator": [interpolator],
        "ResampleInterpolator": ["FinalLinearInterpolator"],
        "Resampler": ["DefaultResampler"],
        "NumberOfResolutions": [str(levels)],
        "FixedImagePyramid": ["FixedGenericImagePyramid"],
        "MovingImagePyramid": ["MovingGenericImagePyramid"],
        "ImagePyramidRescaleSchedule": [str(int(f)) for f in setup.shrink_factors for _ in range(dim)],
        "ImagePyramidSmoothingSchedule": [_num(s) for s in setup.smoothing_sigmas for _ in range(dim)],
        "MaximumNumberOfIterations": [str(int(iterations))],
        "AutomaticScalesEstimation": ["true"],
        "AutomaticParameterEstimation": ["true"],  # the step size of the stochastic descents (SP_a), as elastix's maps
        "AutomaticTransformInitialization": ["false"],
        "HowToCombineTransforms": ["Compose"],
        "RandomSeed": [str(int(seed))],
        "WriteResultImage": ["false"],
        "WriteIterationInfo": ["false"],
        "ShowExactMetricValue": ["false"],
    }
    if order is not None:
        pm["BSplineInterpolationOrder"] = [order]
    if setup.metric == "mattes":
        pm["NumberOfHistogramBins"] = [str(int(setup.histogram_bins))]
    if setup.sampling == "none":
        pm["ImageSampler"] = ["Full"]
        pm["NewSamplesEveryIteration"] = ["false"]
    else:
        voxels = math.prod(int(n) for n in size)
        counts = [
            str(max(1, round(setup.percentage(x) * voxels / float(setup.shrink_factors[x]) ** dim)))
            for x in range(levels)
        ]
        pm["ImageSampler"] = ["RandomCoordinate"]
        pm["NumberOfSpatialSamples"] = counts
        pm["NewSamplesEveryIteration"] = ["true" if new_samples else "false"]
    if setup.transform == "bspline":
        pm.update(_bspline(setup, size, spacing))
    pm.update({name: [value] for name, value in (extra or {}).items()})
    return pm


def _bspline(setup: regbench.Setup, size: Sequence[int], spacing: Sequence[float]) -> dict[str, list[str]]:
    """The control-point spacing of the case's mesh (cells over the image's physical extent) per level."""
    dim = len(size)
    mesh = list(setup.mesh_size) * (dim if len(setup.mesh_size) == 1 else 1)
    factors = [int(f) for f in setup.mesh_scale_factors] or [1] * setup.levels
    finest = factors[-1] or 1
    final = [float(n) * float(s) / (int(m) * finest) for n, s, m in zip(size, spacing, mesh, strict=True)]
    schedule = [_num(finest / (f or 1)) for f in factors for _ in range(dim)]
    return {
        "FinalGridSpacingInPhysicalUnits": [_num(x) for x in final],
        "GridSpacingSchedule": schedule,
        "BSplineTransformSplineOrder": ["3"],
    }


def _num(value: float) -> str:
    return repr(float(value))


# -- the log --------------------------------------------------------------------------------------------------

_RESOLUTION = re.compile(r"^Resolution: (\d+)\s*$")
_HEADER = re.compile(r"^1:ItNr\t")
_STOP = re.compile(r"^Stopping condition: (.*?)\s*$")
_SETTING = re.compile(r"^\( (SP_a|SP_A|SP_alpha) ([-+0-9.eE]+) \)\s*$")
_TIME_IN_LEVEL = re.compile(r"^Time spent in resolution (\d+)")


@dataclass
class LogLevel:
    """One resolution of an elastix log: its iteration table's columns and stop text."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    stop: str | None = None
    settings: dict[str, float] = field(default_factory=dict)

    def column(self, prefix: str) -> list[float] | None:
        """The column whose header starts with ``prefix`` after its number (``"Metric"``, ``"StepSize"``)."""
        for i, name in enumerate(self.columns):
            if name.split(":", 1)[-1].startswith(prefix):
                return [row[i] for row in self.rows if i < len(row)]
        return None


def read_log(text: str) -> list[LogLevel]:
    """The resolutions of an ``elastix.log``, in order: iteration table, ``Stopping condition:`` text and, for
    ASGD, the per-resolution ``SP_a``, ``SP_A``, ``SP_alpha`` settings."""
    levels: list[LogLevel] = []
    current: LogLevel | None = None
    in_table = settled = False
    for line in text.splitlines():
        if m := _RESOLUTION.match(line):
            current = LogLevel()
            levels.append(current)
            in_table = settled = False
            continue
        if current is None:
            continue
        if _HEADER.match(line):
            current.columns, in_table = line.split("\t"), True
            continue
        if in_table:
            cells = line.split("\t")
            if cells and cells[0].strip().isdigit():
                current.rows.append([_float(c) for c in cells])
                continue
            in_table = False
        if m := _STOP.match(line):
            current.stop = m.group(1)
        elif _TIME_IN_LEVEL.match(line):
            settled = True
        elif settled and (m := _SETTING.match(line)):
            current.settings[m.group(1)] = float(m.group(2))
        elif line.startswith("Settings of ") and " for all resolutions" in line:
            current = None  # the summary repeats every level's settings: already read
    return levels


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
