"""The built-in evaluation plugin: dense metric, error against ground truth, Jacobian statistics.

Dense means the case's metric at full resolution, unsmoothed, with every voxel (no sampling): the only value
comparable across optimizers, levels and sampling settings (reference §3.4, §5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases import Case, CaseData, as_float, configure_masks, configure_metric, initial_mapping
from regbench.hookspecs import hookimpl
from regbench.record import RunRecord, finite_or_none
from regbench.transforms import is_deformable


def dense_metric(case: Case, transform: sitk.Transform, threads: int | None = None) -> float | None:
    """The case's metric for ``transform`` (fixed → moving), dense, at full resolution."""
    data = case.load()
    method = sitk.ImageRegistrationMethod()
    if threads:
        method.SetNumberOfWorkUnits(int(threads))
    configure_metric(method, case.setup)
    configure_masks(method, data)
    method.SetMovingInitialTransform(transform)
    method.SetInitialTransform(sitk.TranslationTransform(data.fixed.GetDimension()), inPlace=False)
    try:
        return finite_or_none(method.MetricEvaluate(as_float(data.fixed), as_float(data.moving)))
    except RuntimeError:
        # Mattes MI raises when every sample maps outside the moving image: no overlap.
        return None


def displacement(transform: sitk.Transform, reference: sitk.Image) -> np.ndarray:
    """T(p) − p at every voxel centre of ``reference``, shape (*array shape, dim), physical units."""
    field = sitk.TransformToDisplacementField(
        transform,
        sitk.sitkVectorFloat64,
        reference.GetSize(),
        reference.GetOrigin(),
        reference.GetSpacing(),
        reference.GetDirection(),
    )
    return sitk.GetArrayFromImage(field)


def foreground(data: CaseData) -> np.ndarray:
    """The case's fixed mask, or the fixed image above 10% of its intensity range (reference §10)."""
    if data.fixed_mask is not None:
        return sitk.GetArrayFromImage(data.fixed_mask) > 0
    array = sitk.GetArrayViewFromImage(as_float(data.fixed))
    low, high = float(array.min()), float(array.max())
    return array > low + 0.1 * (high - low)


def error_stats(distances: np.ndarray, suffix: str = "") -> dict[str, float | None]:
    if distances.size == 0:
        return {f"error_mean{suffix}": None, f"error_p95{suffix}": None, f"error_max{suffix}": None}
    return {
        f"error_mean{suffix}": float(distances.mean()),
        f"error_p95{suffix}": float(np.percentile(distances, 95)),
        f"error_max{suffix}": float(distances.max()),
    }


def truth_errors(data: CaseData, transform: sitk.Transform, initial: sitk.Transform) -> dict[str, Any]:
    """Distance between ``transform`` and the truth, over the whole fixed domain and over the foreground."""
    reference = data.fixed
    truth = displacement(data.truth, reference)
    mask = foreground(data)
    out: dict[str, Any] = {}
    distances = np.linalg.norm(displacement(transform, reference) - truth, axis=-1)
    out.update(error_stats(distances))
    out.update(error_stats(distances[mask], "_fg"))
    start = np.linalg.norm(displacement(initial, reference) - truth, axis=-1)
    out["initial_error_mean"] = float(start.mean())
    out["initial_error_mean_fg"] = float(start[mask].mean()) if mask.any() else None
    return out


def landmark_errors(data: CaseData, transform: sitk.Transform) -> dict[str, Any]:
    fixed_points, moving_points = data.landmarks
    mapped = np.array([transform.TransformPoint([float(c) for c in p]) for p in fixed_points])
    tre = np.linalg.norm(mapped - np.asarray(moving_points, dtype=float), axis=1)
    return {
        "tre_mean": float(tre.mean()),
        "tre_p95": float(np.percentile(tre, 95)),
        "tre_max": float(tre.max()),
    }


def jacobian_stats(transform: sitk.Transform, reference: sitk.Image, mask: np.ndarray | None = None):
    """Jacobian determinant of the mapping: minimum, folding fraction (J ≤ 0) and SDlogJ.

    Computed on the unclipped determinant (unlike Learn2Reg's code, which adds 3 and clips). SDlogJ is the
    standard deviation of log J over voxels with J > 0; the voxels with J ≤ 0 (where log J is undefined) are
    counted in ``jacobian_nonpositive`` and left out.
    """
    field = sitk.TransformToDisplacementField(
        transform,
        sitk.sitkVectorFloat64,
        reference.GetSize(),
        reference.GetOrigin(),
        reference.GetSpacing(),
        reference.GetDirection(),
    )
    jac = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(field))
    if mask is not None:
        jac = jac[mask]
    positive = jac[jac > 0]
    return {
        "jacobian_min": float(jac.min()),
        "folding_fraction": float((jac <= 0).mean()),
        "sdlogj": float(np.log(positive).std()) if positive.size else None,
        "jacobian_nonpositive": int((jac <= 0).sum()),
    }


@hookimpl
def regbench_evaluate(case, transform, record: RunRecord):
    data = case.load()
    threads = record.threads
    initial = initial_mapping(case.setup, data)
    out: dict[str, Any] = {
        "initial_metric_dense": dense_metric(case, initial, threads),
        "final_metric_dense": dense_metric(case, transform, threads),
    }
    if data.truth is not None:
        out.update(truth_errors(data, transform, initial))
    if data.landmarks is not None:
        out.update(landmark_errors(data, transform))
    if is_deformable(transform):
        out.update(jacobian_stats(transform, data.fixed))
    return out
