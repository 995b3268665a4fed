"""The built-in measures (the ``regbench_evaluate`` of ``regbench_plugins.evaluation``, and the toolkit of any
evaluation plugin): dense metric, error against ground truth, landmark TRE, label overlap (Dice,
HD95), Jacobian statistics.

Dense means the case's metric at full resolution, unsmoothed, with every voxel (no sampling): the only value
comparable across optimizers, levels and sampling settings (reference §3.4, §5). Errors are distances in
physical units between where the returned mapping and the truth send each fixed-image voxel centre, over the
whole fixed domain and over the foreground (reference §10). The Jacobian is that of the mapping x → T(x) on
the fixed grid, computed here rather than by ITK's ``DisplacementFieldJacobianDeterminant``, which ignores the
image direction and halves the derivative on the border. Where the case has label images (``fixed_labels`` and
``moving_labels``), the moving labels are resampled by nearest neighbour onto the fixed grid, at the start and
for the returned transform, and scored by Dice per label and HD95 (:mod:`regbench.evaluation.labels`, which defines
both); the start's scores are computed once per case and start, like the other constants of a case.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case, CaseData, as_float, configure_masks, configure_metric, initial_mapping
from regbench.evaluation.labels import LabelOverlap, label_measures, overlap
from regbench.evaluation.stops import is_no_overlap_error
from regbench.record import RunRecord
from regbench.util.strict_json import finite_or_none
from regbench.util.transforms import is_deformable, transform_to_dict


def dense_metric(case: Case, transform: sitk.Transform, threads: int | None = None) -> float | None:
    """The case's metric for ``transform`` (fixed → moving), dense, at full resolution."""
    data = case.load()
    return metric_value(value_method(case, data, threads), transform, as_float(data.fixed), as_float(data.moving))


def value_method(case: Case, data: CaseData, threads: int | None) -> sitk.ImageRegistrationMethod:
    """A method that evaluates ``case``'s metric, value only: with no gradient-image filters, which a value
    never reads (the same bits) and which made each ``MetricEvaluate`` rebuild a gradient image (1.5–2× the
    time: 2.6 → 1.7 ms on a 128² image, 9.1 → 4.4 ms on 40³)."""
    method = sitk.ImageRegistrationMethod()
    if threads:
        method.SetNumberOfWorkUnits(int(threads))
    configure_metric(method, case.setup)
    configure_masks(method, data)
    method.SetMetricUseFixedImageGradientFilter(False)
    method.SetMetricUseMovingImageGradientFilter(False)
    return method


def metric_value(
    method: sitk.ImageRegistrationMethod, transform: sitk.Transform, fixed: sitk.Image, moving: sitk.Image
) -> float | None:
    """``method``'s metric (set up with no pyramid and no sampling) for the fixed → moving ``transform``."""
    method.SetMovingInitialTransform(transform)
    method.SetInitialTransform(sitk.TranslationTransform(fixed.GetDimension()), inPlace=False)
    try:
        return finite_or_none(method.MetricEvaluate(fixed, moving))
    except RuntimeError as exc:
        # Mattes MI raises when every sample maps outside the moving image; the other metrics return DBL_MAX
        # there: give the same value so the outcome is no_overlap whatever the metric. Anything else is a bug.
        if is_no_overlap_error(str(exc)):
            return sys.float_info.max
        raise


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
    """The case's fixed mask, or where the fixed image is above 10% of its intensity range (reference §10).

    The image is first smoothed by one voxel and its range taken between the 0.5th and 99.5th percentiles, so
    that noise neither stretches the range nor speckles the background into the foreground.
    """
    if data.fixed_mask is not None:
        return sitk.GetArrayFromImage(data.fixed_mask) > 0
    fixed = as_float(data.fixed)
    smooth = sitk.SmoothingRecursiveGaussian(fixed, [float(s) for s in fixed.GetSpacing()])
    array = sitk.GetArrayViewFromImage(smooth)
    low, high = (float(v) for v in np.percentile(array, [0.5, 99.5]))
    return array > low + 0.1 * (high - low)


def error_stats(distances: np.ndarray, suffix: str = "") -> dict[str, float | None]:
    """Mean, 95th percentile (linear interpolation) and maximum of ``distances``; None when there are none."""
    if distances.size == 0:
        return {f"error_mean{suffix}": None, f"error_p95{suffix}": None, f"error_max{suffix}": None}
    return {
        f"error_mean{suffix}": float(distances.mean()),
        f"error_p95{suffix}": float(np.percentile(distances, 95)),
        f"error_max{suffix}": float(distances.max()),
    }


def truth_errors(
    data: CaseData,
    transform: sitk.Transform,
    initial: sitk.Transform,
    moved: np.ndarray | None = None,
    reference: _Reference | None = None,
) -> dict[str, Any]:
    """Distance between ``transform`` and the truth, over the whole fixed domain and over the foreground.

    ``moved`` is ``transform``'s displacement on the fixed grid if already computed; ``reference`` the case's
    constant fields (truth and initial displacements, foreground), computed here when not given.
    """
    reference = reference or _Reference.of(data, initial)
    if moved is None:
        moved = displacement(transform, data.fixed)
    out: dict[str, Any] = {}
    distances = np.linalg.norm(moved - reference.truth, axis=-1)
    out.update(error_stats(distances))
    out.update(error_stats(distances[reference.mask], "_fg"))
    out["initial_error_mean"] = float(reference.initial_distances.mean())
    fg = reference.initial_distances[reference.mask]
    out["initial_error_mean_fg"] = float(fg.mean()) if fg.size else None
    return out


@dataclass
class _Reference:
    """What the truth errors of every run on a case share: computed once per case."""

    truth: np.ndarray
    initial_distances: np.ndarray
    mask: np.ndarray

    @classmethod
    def of(cls, data: CaseData, initial: sitk.Transform) -> _Reference:
        assert data.truth is not None, "truth errors need a case with a known truth"
        truth = displacement(data.truth, data.fixed)
        start = np.linalg.norm(displacement(initial, data.fixed) - truth, axis=-1)
        return cls(truth, start, foreground(data))


def physical_points(image: sitk.Image) -> np.ndarray:
    """The physical point of every voxel centre of ``image``, shape (*array shape, dim)."""
    dim = image.GetDimension()
    index = np.indices(sitk.GetArrayViewFromImage(image).shape[:dim], dtype=float)[::-1]  # image axis order
    index = np.moveaxis(index, 0, -1) * np.asarray(image.GetSpacing(), dtype=float)
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)
    return index @ direction.T + np.asarray(image.GetOrigin(), dtype=float)


def inside_fraction(points: np.ndarray, image: sitk.Image) -> float | None:
    """Share of physical ``points`` (shape (n, dim)) inside ``image``'s buffer (voxel centres ± half a voxel,
    as ITK's interpolators test it); None when there are no points."""
    if not len(points):
        return None
    dim = image.GetDimension()
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)
    index = (points - np.asarray(image.GetOrigin(), dtype=float)) @ np.linalg.inv(direction).T
    index /= np.asarray(image.GetSpacing(), dtype=float)
    size = np.asarray(image.GetSize(), dtype=float)
    return float(np.all((index >= -0.5) & (index <= size - 0.5), axis=-1).mean())


@dataclass
class _Grid:
    """The metric's sample domain at full resolution: the fixed voxel centres (within the fixed mask, if any)."""

    points: np.ndarray  # (n, dim) physical points
    where: np.ndarray  # boolean, array shape of the fixed image: which voxels are in the domain
    all_points: np.ndarray  # (*array shape, dim): every voxel centre

    @classmethod
    def of(cls, data: CaseData) -> _Grid:
        points = physical_points(data.fixed)
        where = (
            sitk.GetArrayViewFromImage(data.fixed_mask) > 0
            if data.fixed_mask is not None
            else np.ones(points.shape[:-1], dtype=bool)
        )
        return cls(points[where], where, points)

    def overlap(self, moving: sitk.Image, moved: np.ndarray) -> float | None:
        """Share of the domain that a transform with displacement ``moved`` maps inside ``moving``."""
        return inside_fraction(self.points + moved[self.where], moving)


def landmark_distances(landmarks: tuple[np.ndarray, np.ndarray], transform: sitk.Transform) -> np.ndarray:
    """‖T(fixed point) − moving point‖ for each landmark pair."""
    fixed_points, moving_points = landmarks
    mapped = np.array([transform.TransformPoint([float(c) for c in p]) for p in fixed_points])
    return np.linalg.norm(mapped - np.asarray(moving_points, dtype=float), axis=1)


def landmark_errors(data: CaseData, transform: sitk.Transform, initial: sitk.Transform | None = None) -> dict[str, Any]:
    """Target registration error on the case's landmark pairs (mean, 95th percentile, max; and at the start)."""
    assert data.landmarks is not None, "landmark errors need a case with landmarks"
    tre = landmark_distances(data.landmarks, transform)
    out: dict[str, Any] = {
        "tre_mean": float(tre.mean()),
        "tre_p95": float(np.percentile(tre, 95)),
        "tre_max": float(tre.max()),
        "landmarks": len(tre),
    }
    if initial is not None:
        out["initial_tre_mean"] = float(landmark_distances(data.landmarks, initial).mean())
    return out


def jacobian_determinant(transform: sitk.Transform, reference: sitk.Image) -> np.ndarray:
    """det(∂T/∂x) of the mapping x → T(x) at every voxel centre of ``reference`` (array order).

    Derivatives of the displacement T(x) − x by central differences (one-sided on the border), taken along
    the image axes and rotated into physical space with the image direction.
    """
    return jacobian_of_displacement(displacement(transform, reference), reference)


def jacobian_of_displacement(field: np.ndarray, reference: sitk.Image) -> np.ndarray:
    """det(I + ∇u) for a displacement ``field`` of shape (*array shape, dim) on ``reference``'s grid."""
    dim = reference.GetDimension()
    spacing = reference.GetSpacing()
    # Array axis a is image axis dim-1-a; g[..., i, k] = ∂u_i/∂s_k along image axis k (physical units).
    g = np.empty((*field.shape[:-1], dim, dim))
    for k in range(dim):
        axis = dim - 1 - k
        if field.shape[axis] > 1:
            g[..., k] = np.gradient(field, spacing[k], axis=axis)
        else:
            g[..., k] = 0.0
    direction = np.asarray(reference.GetDirection(), dtype=float).reshape(dim, dim)
    # s_k runs along direction column k, so ∇u = G Dᵀ.
    return np.linalg.det(np.eye(dim) + g @ direction.T)


def jacobian_stats(jac: np.ndarray) -> dict[str, Any]:
    """Minimum, maximum, folding fraction and SDlogJ of a Jacobian-determinant array.

    On the unclipped determinant (Learn2Reg's code adds 3 and clips, so it never counts a fold): a voxel with
    J ≤ 0 is folded. SDlogJ is the population standard deviation of log J over the voxels where it is defined
    (J > 0); folded voxels are left out of it and counted in ``jacobian_nonpositive``, so a folded result shows
    as folding, never as a spuriously large or small SDlogJ. None when no voxel has J > 0.
    """
    jac = np.asarray(jac, dtype=float).ravel()
    positive = jac[jac > 0]
    return {
        "jacobian_min": float(jac.min()),
        "jacobian_max": float(jac.max()),
        "folding_fraction": float((jac <= 0).mean()),
        "jacobian_nonpositive": int((jac <= 0).sum()),
        "sdlogj": float(np.log(positive).std()) if positive.size else None,
    }


# The last few cases' constant parts (a benchmark evaluates many runs of one case in a row). Keyed by id() and
# checked by identity, because cases are mutable dataclasses and not hashable; and by the starting transform,
# which differs per seed when the case jitters its start.
def affine_displacement(transform: sitk.Transform, points: np.ndarray) -> np.ndarray:
    """T(p) − p at ``points`` (shape (..., dim)) for a transform that is an affine map (every global transform
    and composites of them): T read off at the origin and the unit vectors, then applied with numpy, which is
    far cheaper than resampling a displacement field."""
    dim = points.shape[-1]
    origin = np.asarray(transform.TransformPoint((0.0,) * dim), dtype=float)
    columns = [np.asarray(transform.TransformPoint(tuple(np.eye(dim)[i])), dtype=float) - origin for i in range(dim)]
    return points @ np.stack(columns, axis=1).T + origin - points


class PositionEvaluator:
    """The dense metric and truth errors of many transforms of one run (the trace's saved positions): one
    prepared metric reused, and the affine map instead of a displacement field for global transforms."""

    def __init__(self, case: Case, record: RunRecord) -> None:
        data = case.load()
        self.data = data
        self.constants = _case_constants(case, data, initial_mapping(case.setup, data, record.seed), record.threads)
        self.fixed, self.moving = as_float(data.fixed), as_float(data.moving)
        self.method = value_method(case, data, record.threads)

    def measures(self, transform: sitk.Transform) -> dict[str, float | None]:
        """``dense_metric`` and, where the case has truth, ``error_mean`` and ``error_mean_fg`` of ``transform``."""
        out: dict[str, float | None] = {"dense_metric": metric_value(self.method, transform, self.fixed, self.moving)}
        reference = self.constants.reference
        if reference is not None:
            if is_deformable(transform):
                moved = displacement(transform, self.data.fixed)
            else:
                moved = affine_displacement(transform, self.constants.grid.all_points)
            distances = np.linalg.norm(moved - reference.truth, axis=-1)
            foreground = distances[reference.mask]
            out["error_mean"] = float(distances.mean())
            out["error_mean_fg"] = float(foreground.mean()) if foreground.size else None
        return out


@dataclass
class _Constants:
    """What every run from one start on one case shares."""

    case: Case
    data: CaseData
    initial_dense: float | None
    initial_overlap: float | None
    grid: _Grid
    reference: _Reference | None
    labels_start: LabelOverlap | None = None  # the label overlap at the start, where the case has label images


_CACHE: dict[tuple[int, int, str], _Constants] = {}
_CACHE_SIZE = 8


def _case_constants(case: Case, data: CaseData, initial: sitk.Transform, threads: int | None) -> _Constants:
    key = (id(case), int(threads or 0), json.dumps(transform_to_dict(initial)))
    hit = _CACHE.get(key)
    if hit is not None and hit.case is case and hit.data is data:
        return hit
    grid = _Grid.of(data)
    constants = _Constants(
        case,
        data,
        dense_metric(case, initial, threads),
        grid.overlap(data.moving, displacement(initial, data.fixed)),
        grid,
        _Reference.of(data, initial) if data.truth is not None else None,
        overlap(data, initial) if has_labels(data) else None,
    )
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = constants
    return constants


def evaluate_transform(case: Case, transform: sitk.Transform, record: RunRecord) -> dict[str, Any]:
    """The built-in measures of ``transform`` (a fixed → moving mapping) on ``case``, for ``record``'s seed."""
    data = case.load()
    threads = record.threads
    initial = initial_mapping(case.setup, data, record.seed)
    constants = _case_constants(case, data, initial, threads)
    reference = constants.reference
    moved = displacement(transform, data.fixed)
    out: dict[str, Any] = {
        "initial_metric_dense": constants.initial_dense,
        "final_metric_dense": dense_metric(case, transform, threads),
        "initial_overlap_fraction": constants.initial_overlap,
        "overlap_fraction": constants.grid.overlap(data.moving, moved),
    }
    if reference is not None:
        out.update(truth_errors(data, transform, initial, moved, reference))
    if data.landmarks is not None:
        out.update(landmark_errors(data, transform, initial))
    if constants.labels_start is not None:
        out.update(label_measures(data, transform, initial, constants.labels_start))
    if is_deformable(transform):
        out.update(jacobian_stats(jacobian_of_displacement(moved, data.fixed)))
    return out


def has_labels(data: CaseData) -> bool:
    """The case has both label images, so label overlap is measured."""
    return data.fixed_labels is not None and data.moving_labels is not None
