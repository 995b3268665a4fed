"""Label overlap: how well a transform maps the moving label image (a segmentation) onto the fixed one.

The moving labels are resampled by nearest neighbour onto the fixed grid through the fixed → moving transform
(:func:`warp_labels`; outside the moving image: background 0). Then, over the labels present in the fixed label
image (its non-zero values):

- **Dice** per label ℓ: 2·|F_ℓ ∩ W_ℓ| / (|F_ℓ| + |W_ℓ|), F the fixed labels, W the warped moving labels; a label
  missing after warping has Dice 0. ``dice_mean`` is the mean over the fixed image's labels.
- **HD95** per label (:func:`hd95`): the 95th-percentile symmetric Hausdorff distance between the two labels'
  surfaces, in physical units; ``hd95`` is the mean over the labels present in both (None where none is).

Both are computed for all labels together in a few passes: Dice from one joint count (``np.bincount``), HD95 per
label on the bounding box of the label in either image, which is exact (below) and keeps a 100-label atlas cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import CaseData
from regbench.util.strict_json import finite_or_none


def warp_labels(moving_labels: sitk.Image, transform: sitk.Transform, reference: sitk.Image) -> sitk.Image:
    """``moving_labels`` resampled by nearest neighbour onto ``reference``'s grid (the fixed grid) through the
    fixed → moving ``transform``: each fixed voxel centre x takes the label of the moving voxel nearest to T(x),
    0 (background) where T(x) falls outside the moving image. Nearest neighbour creates no new label value."""
    return sitk.Resample(moving_labels, reference, transform, sitk.sitkNearestNeighbor, 0, moving_labels.GetPixelID())


def label_values(labels: np.ndarray) -> np.ndarray:
    """The non-zero values of a label array, sorted."""
    values = np.unique(labels)
    return values[values != 0]


def _codes(array: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each voxel's position in the sorted ``labels`` (0 … n−1), or n for a value not among them."""
    n = labels.size
    if not n:
        return np.zeros(array.shape, dtype=np.intp)
    at = np.searchsorted(labels, array).clip(0, n - 1)
    return np.where(labels[at] == array, at, n)


def _joint_counts(f: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label code 0 … n−1: voxels with it in both code arrays, in ``f``, in ``w`` (three bincounts)."""
    both = np.bincount(f[f == w], minlength=n + 1)[:n]
    return both, np.bincount(f.ravel(), minlength=n + 1)[:n], np.bincount(w.ravel(), minlength=n + 1)[:n]


def dice_per_label(fixed: np.ndarray, warped: np.ndarray, labels: Sequence[int]) -> dict[int, float | None]:
    """Dice 2·|F ∩ W| / (|F| + |W|) of each label between two label arrays of one shape; 0 for a label in one
    array only, None for a label in neither (undefined). One joint count for all labels, not a pass per label."""
    values = np.unique(np.asarray(labels, dtype=np.int64))
    both, in_f, in_w = _joint_counts(_codes(fixed, values), _codes(warped, values), values.size)
    sizes = in_f + in_w
    return {int(v): (float(2 * both[i] / sizes[i]) if sizes[i] else None) for i, v in enumerate(values.tolist())}


def surface(mask: np.ndarray) -> np.ndarray:
    """The surface voxels of a boolean mask: voxels of the mask with a face neighbour outside it, or on the image
    border (outside the array counts as outside the mask)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask
    from scipy import ndimage  # here, not at import: `regbench --help` loads no scipy

    structure = ndimage.generate_binary_structure(mask.ndim, 1)  # face neighbours only
    return mask & ~ndimage.binary_erosion(mask, structure, border_value=0)


def hd95(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> float | None:
    """The 95th-percentile symmetric Hausdorff distance between the surfaces of boolean masks ``a`` and ``b``
    (numpy arrays of one shape), in physical units.

    ``spacing`` is the voxel spacing in image axis order (x, y, z), as SimpleITK gives it; arrays are in numpy
    order (z, y, x). Surface voxels are :func:`surface`'s. For every surface voxel centre of A, the distance to the
    nearest surface voxel centre of B (``scipy.ndimage.distance_transform_edt`` of B's non-surface with
    ``sampling`` = the spacing in array order), and the same from B to A; HD95 = max(p95(A→B), p95(B→A)), each
    95th percentile by linear interpolation (``np.percentile``). That is the convention of the surface-distance
    code Learn2Reg scores with (``compute_robust_hausdorff``), without its weighting of each surface point by
    its surface element's area. Image directions are orthonormal, so index distances scaled by the spacing are
    physical distances. None when either mask is empty.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"hd95: masks of shapes {a.shape} and {b.shape}: they must have one shape")
    sampling = np.asarray(spacing, dtype=float)[::-1]
    if sampling.size != a.ndim:
        raise ValueError(f"hd95: {sampling.size} spacings for {a.ndim}D masks")
    if not a.any() or not b.any():
        return None
    # The bounding box of A ∪ B holds every surface voxel of both, and outside it both masks are empty: eroding
    # and measuring within it gives the same surfaces and nearest distances as on the whole image.
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(a | b))
    return _hd95_in_box(a[box], b[box], sampling)


def _hd95_in_box(a: np.ndarray, b: np.ndarray, sampling: np.ndarray) -> float:
    from scipy import ndimage

    surface_a, surface_b = surface(a), surface(b)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=sampling)[surface_a]
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=sampling)[surface_b]
    return float(max(np.percentile(to_b, 95), np.percentile(to_a, 95)))


@dataclass(frozen=True)
class LabelOverlap:
    """Dice and HD95 of each label of the fixed label image for one transform."""

    dice: dict[int, float]  # every label of the fixed label image; 0 where the warped labels lack it
    hd95: dict[int, float]  # the labels present in both

    @property
    def dice_mean(self) -> float | None:
        return finite_or_none(float(np.mean(list(self.dice.values())))) if self.dice else None

    @property
    def hd95_mean(self) -> float | None:
        return finite_or_none(float(np.mean(list(self.hd95.values())))) if self.hd95 else None


def overlap(data: CaseData, transform: sitk.Transform, labels: np.ndarray | None = None) -> LabelOverlap:
    """Dice and HD95 per label of ``data``'s fixed label image, the moving labels warped by ``transform``.
    ``labels`` are the fixed label image's non-zero values if already known (:func:`label_values`); each must be
    present in the fixed label image."""
    assert data.fixed_labels is not None and data.moving_labels is not None, "label overlap needs label images"
    fixed = sitk.GetArrayViewFromImage(data.fixed_labels)
    warped_image = warp_labels(data.moving_labels, transform, data.fixed_labels)  # kept alive: the view reads it
    warped = sitk.GetArrayViewFromImage(warped_image)
    values = label_values(fixed) if labels is None else np.asarray(labels)
    n = values.size
    f, w = _codes(fixed, values), _codes(warped, values)
    both, count_f, count_w = _joint_counts(f, w, n)
    dice = {int(v): float(2 * both[i] / (count_f[i] + count_w[i])) for i, v in enumerate(values.tolist())}
    # One pass finds every label's bounding box in each image (codes + 1: background and other values are 0).
    from scipy import ndimage

    sampling = np.asarray(data.fixed_labels.GetSpacing(), dtype=float)[::-1]
    boxes_f = ndimage.find_objects(np.where(f < n, f + 1, 0), max_label=n)
    boxes_w = ndimage.find_objects(np.where(w < n, w + 1, 0), max_label=n)
    distances: dict[int, float] = {}
    for i, v in enumerate(values.tolist()):
        if not (count_f[i] and count_w[i]):
            continue
        box = tuple(
            slice(min(p.start, q.start), max(p.stop, q.stop)) for p, q in zip(boxes_f[i], boxes_w[i], strict=True)
        )
        distances[int(v)] = _hd95_in_box(f[box] == i, w[box] == i, sampling)
    return LabelOverlap(dice, distances)


def label_measures(
    data: CaseData, transform: sitk.Transform, initial: sitk.Transform, start: LabelOverlap | None = None
) -> dict[str, Any]:
    """The record's label fields for ``transform``, and at the start (the ``initial`` mapping): ``dice_mean``,
    ``initial_dice_mean``, ``hd95``, ``initial_hd95``, ``label_count`` (how many the fixed label image has) and
    ``dice_per_label`` (label value as text → Dice, for ``transform``). ``start`` is ``initial``'s overlap if
    already computed (the same for every run from one start: the evaluation caches it)."""
    if start is None:
        start = overlap(data, initial)
    end = overlap(data, transform, np.fromiter(start.dice, dtype=np.int64))
    return {
        "initial_dice_mean": start.dice_mean,
        "dice_mean": end.dice_mean,
        "initial_hd95": start.hd95_mean,
        "hd95": end.hd95_mean,
        "label_count": len(end.dice),
        "dice_per_label": {str(k): v for k, v in end.dice.items()},
    }
