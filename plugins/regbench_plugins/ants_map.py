"""A case's setup as an ``antsRegistration`` command line, its diagnostic output read back, and its affine result
as a SimpleITK transform of the case's model (no antspyx here: plain text and SimpleITK).

The mapping (docs/engines.md has it as a table): metric → ANTs' metric (the same ITK v4 metrics SimpleITK uses),
sampling → ANTs' sampling strategy and percentage, pyramid → ``--shrink-factors`` and ``--smoothing-sigmas`` in mm
(regbench's sigmas are physical), start → ``--initial-moving-transform``. The optimizer settings are ANTs' own (as
antspyx passes them for ``type_of_transform`` 'Rigid' and 'Affine'): gradient step 0.25, convergence threshold
1e-6 over a window of 10. What has no counterpart is refused with :class:`regbench.UnsupportedSetup`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

import regbench
from regbench import UnsupportedSetup

#: antspyx's ``--transform`` gradient step for 'Rigid' and 'Affine' (``Rigid[0.25]``, ``Affine[0.25]``).
GRADIENT_STEP = 0.25
#: antsRegistration's ``--convergence`` defaults (threshold, window), which antspyx keeps for 'Rigid'/'Affine'.
CONVERGENCE_THRESHOLD = 1e-6
CONVERGENCE_WINDOW = 10
#: antspyx's ``aff_iterations`` for 'Rigid' and 'Affine' (4 levels, shrink 6×4×2×1); a case's n levels get the
#: last n (the finest level keeps ANTs' 10), a longer pyramid 2100 for each extra coarse level.
DEFAULT_SCHEDULE = (2100, 1200, 1200, 10)
#: regbench's transform model → ANTs' linear stage (``--transform``), each with the gradient step above.
STAGES = {"translation": "Translation", "rigid": "Rigid", "similarity": "Similarity", "affine": "Affine"}


def schedule(levels: int, number_of_iterations: int) -> list[int]:
    """The per-level iteration caps: ``number_of_iterations`` for every level, or ANTs' schedule when it is 0."""
    if number_of_iterations > 0:
        return [int(number_of_iterations)] * levels
    extra = max(0, levels - len(DEFAULT_SCHEDULE))
    return ([DEFAULT_SCHEDULE[0]] * extra + list(DEFAULT_SCHEDULE))[-levels:]


def metric_argument(setup: regbench.Setup, fixed: str, moving: str) -> tuple[str, str]:
    """``--metric`` for the case (images at paths ``fixed`` and ``moving``), and the engine's metric name."""
    sampling = {"none": "None", "regular": "Regular", "random": "Random"}[setup.sampling]
    percentages = {setup.percentage(level) for level in range(setup.levels)}
    if setup.sampling != "none" and len(percentages) > 1:
        raise UnsupportedSetup(
            f"sampling percentages per level {setup.sampling_percentage} have no ANTs counterpart: antsRegistration "
            "takes one percentage per stage; give one value"
        )
    percentage = 1.0 if setup.sampling == "none" else percentages.pop()
    # ANTs' names for the ITK v4 metrics SimpleITK uses; the fourth field is the bins (MI) or the radius (CC)
    metrics = {
        "mean_squares": ("MeanSquares", 0),
        "correlation": ("GC", 0),
        "mattes": ("Mattes", setup.histogram_bins),
        "jhmi": ("MI", setup.histogram_bins),
        "ants_nc": ("CC", setup.ants_radius),
    }
    name, extra = metrics[setup.metric]
    return f"{name}[{fixed},{moving},1,{extra},{sampling},{_num(percentage)}]", f"ANTs {name}"


def command(
    setup: regbench.Setup,
    stage: str,
    paths: dict[str, str],
    caps: Sequence[int],
    seed: int,
    single_precision: bool,
    dimension: int,
) -> list[str]:
    """The antsRegistration arguments of a case: ``paths`` has ``fixed``, ``moving``, ``start`` (the initial moving
    transform), ``out`` (the output prefix) and optionally ``fixed_mask``, ``moving_mask``."""
    if setup.interpolator != "linear":
        raise UnsupportedSetup(
            f"interpolator {setup.interpolator!r} has no ANTs counterpart: ANTs' metrics interpolate linearly "
            "(its --interpolation is for the warped output only)"
        )
    if not 0 < seed < 2**31:  # ANTs reads 0 as "seed from the clock" and parses the seed as a C int
        raise UnsupportedSetup(f"ANTs' random seed must be in 1..2**31-1 (ANTs reads 0 as 'from the clock'): {seed}")
    metric, _ = metric_argument(setup, paths["fixed"], paths["moving"])
    masks = f"[{paths.get('fixed_mask', 'NA')},{paths.get('moving_mask', 'NA')}]"
    return [
        "--dimensionality", str(int(dimension)),
        "--initial-moving-transform", paths["start"],
        "--metric", metric,
        "--transform", f"{stage}[{GRADIENT_STEP}]",
        "--convergence", f"[{'x'.join(str(c) for c in caps)},{CONVERGENCE_THRESHOLD},{CONVERGENCE_WINDOW}]",
        "--smoothing-sigmas", "x".join(_num(s) for s in setup.smoothing_sigmas) + "mm",
        "--shrink-factors", "x".join(str(int(f)) for f in setup.shrink_factors),
        "--use-histogram-matching", "0",
        "--collapse-output-transforms", "1",
        "--output", f"[{paths['out']}]",
        "--masks", masks,
        "--random-seed", str(int(seed)),
        "--float", str(int(single_precision)),
        "--verbose", "1",  # the DIAGNOSTIC blocks are printed only with it
    ]  # fmt: skip


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


# -- the diagnostic output ------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*DIAGNOSTIC,Iteration,metricValue,convergenceValue")
# " 2DIAGNOSTIC,     1, 1.76e-02, 1.79e+308, 1.62e-03, 1.62e-03, " (a "*" before it when it wrote images)
_ROW = re.compile(r"^\s*\*?\s*\d*DIAGNOSTIC,\s*(\d+),\s*([^,\s]+),\s*([^,\s]+),\s*([^,\s]+),")


@dataclass
class DiagnosticLevel:
    """One pyramid level's DIAGNOSTIC block: per iteration its number, ANTs' metric value, its convergence value
    (the windowed slope; ITK's largest double until the window fills) and the seconds since the stage began."""

    iteration: list[int] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    convergence: list[float | None] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)


def read_diagnostics(text: str) -> list[DiagnosticLevel]:
    """The DIAGNOSTIC blocks of antsRegistration's output (``--verbose 1``), one per level that iterated."""
    levels: list[DiagnosticLevel] = []
    for line in text.splitlines():
        if _HEADER.match(line):
            levels.append(DiagnosticLevel())
            continue
        row = _ROW.match(line)
        if row and levels:
            level = levels[-1]
            level.iteration.append(int(row.group(1)))
            level.metric.append(float(row.group(2)))
            value = float(row.group(3))
            level.convergence.append(value if math.isfinite(value) and value < 1e300 else None)
            level.time_s.append(float(row.group(4)))
    return levels


def stop_text(level: int, iterations: int, cap: int) -> str:
    """The stop regbench infers for a level: ANTs prints none. At its cap, the cap; before, the convergence window
    (ITK's optimizer stops there without an iteration event, so the last printed value is above the threshold)."""
    if iterations >= cap:
        return f"ANTs (inferred): iteration cap reached at level {level} ({iterations} of {cap} iterations)"
    return (
        f"ANTs (inferred): convergence window at level {level}: stopped after {iterations} of {cap} iterations "
        f"(window {CONVERGENCE_WINDOW}, threshold {CONVERGENCE_THRESHOLD:g})"
    )


#: The inferred stop texts above, each anchored at the start, and their category.
STOP_RULES: tuple[tuple[str, str], ...] = (
    (r"ANTs \(inferred\): iteration cap reached", "max_iterations"),
    (r"ANTs \(inferred\): convergence window", "converged"),
)


# -- the result -----------------------------------------------------------------------------------------------------


#: The case's linear models as SimpleITK transforms, 2D then 3D.
_MODELS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "rigid": (sitk.Euler2DTransform, sitk.Euler3DTransform),
    "similarity": (sitk.Similarity2DTransform, sitk.Similarity3DTransform),
    "affine": (lambda: sitk.AffineTransform(2), lambda: sitk.AffineTransform(3)),
}


def to_model(result: sitk.Transform, model: str, like: sitk.Transform) -> sitk.Transform:
    """ANTs' collapsed affine result (``x ↦ A x + o``, fixed → moving) as a transform of the case's ``model`` with
    the centre of ``like`` (the start): the same map. A rigid or similarity model's matrix is its nearest rotation
    (times the scale): ANTs computes in single precision by default, so A is orthogonal to about 1e-7."""
    dim = result.GetDimension()
    affine = result.Downcast()  # ANTs writes a MatrixOffsetTransformBase: SimpleITK reads it as an AffineTransform
    matrix = np.asarray(affine.GetMatrix(), dtype=float).reshape(dim, dim)
    given = np.asarray(affine.GetCenter(), dtype=float)
    offset = np.asarray(affine.GetTranslation(), dtype=float) + given - matrix @ given
    if model == "translation":
        return sitk.TranslationTransform(dim, [float(v) for v in offset])
    if model not in _MODELS:
        raise UnsupportedSetup(f"transform {model!r} has no ANTs linear stage; ANTs' stages here: {', '.join(STAGES)}")
    if model in ("rigid", "similarity"):
        u, _, vt = np.linalg.svd(matrix)
        scale = abs(np.linalg.det(matrix)) ** (1.0 / dim) if model == "similarity" else 1.0
        matrix = scale * (u @ vt)
    center = np.asarray(like.GetFixedParameters()[:dim], dtype=float)
    out: Any = _MODELS[model][dim - 2]()
    out.SetCenter([float(c) for c in center])
    out.SetMatrix([float(v) for v in matrix.ravel()])
    out.SetTranslation([float(v) for v in offset - center + matrix @ center])
    return out


def as_affine(transform: sitk.Transform) -> sitk.AffineTransform:
    """A linear transform (translation, Euler, similarity, affine) as an AffineTransform of the same map, for ANTs."""
    dim = transform.GetDimension()
    linear = transform.Downcast()
    out = sitk.AffineTransform(dim)
    if isinstance(linear, sitk.TranslationTransform):
        out.SetTranslation(linear.GetOffset())
        return out
    out.SetCenter(linear.GetCenter())
    out.SetMatrix(linear.GetMatrix())
    out.SetTranslation(linear.GetTranslation())
    return out
