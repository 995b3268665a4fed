"""A case's loaded data (:class:`CaseData`), and what it must satisfy before any run: checked once, when the
case loads, so that a bad input is a usage error naming the input, never a failed run. Images finite, not
constant and large enough for the pyramid; masks and label images on their image's grid; label images of an
integer pixel type sharing a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from regbench.cases.setup import MIN_VOXELS_PER_AXIS, CaseError, Setup


@dataclass
class CaseData:
    """The loaded images and truths of a case.

    ``truth`` maps fixed-space points to moving space (the same direction as the transform a registration
    returns). ``landmarks`` are (fixed_points, moving_points) arrays of shape (n, dim) in physical units.
    ``fixed_labels`` and ``moving_labels`` are integer label images (0 is background) on their image's grid.
    """

    fixed: sitk.Image
    moving: sitk.Image
    fixed_mask: sitk.Image | None = None
    moving_mask: sitk.Image | None = None
    initial_transform: sitk.Transform | None = None
    truth: sitk.Transform | None = None
    landmarks: tuple[np.ndarray, np.ndarray] | None = None
    # Integer label images (segmentations) on the fixed and the moving image's grid: measured as Dice and HD95.
    fixed_labels: sitk.Image | None = None
    moving_labels: sitk.Image | None = None


def check_case_data(name: str, data: CaseData, setup: Setup | None = None) -> None:
    """Refuse data that would make every run fail for a reason that is not the optimizer's: images that are not
    finite, constant (every pixel alike: no metric can align them), or with fewer than
    :data:`MIN_VOXELS_PER_AXIS` voxels along an axis at the coarsest pyramid level of ``setup``."""
    dim = data.fixed.GetDimension()
    if dim not in (2, 3):
        raise CaseError(f"case {name!r}: fixed image {dimension_problem(dim)}")
    if data.moving.GetDimension() != dim:
        raise CaseError(f"case {name!r}: fixed image is {dim}D but moving image is {data.moving.GetDimension()}D")
    shrink = max(int(f) for f in setup.shrink_factors) if setup is not None else 1
    for label, image in (("fixed", data.fixed), ("moving", data.moving)):
        _require_scalar(name, f"{label} image", image)
        _require_orthonormal(name, f"{label} image", image)
        array = sitk.GetArrayViewFromImage(image)
        if not np.all(np.isfinite(array)):
            raise CaseError(f"case {name!r}: {label} image has {int((~np.isfinite(array)).sum())} NaN/Inf pixels")
        size = image.GetSize()
        if any(n // shrink < MIN_VOXELS_PER_AXIS for n in size):
            at = f" at shrink factor {shrink} (the coarsest level)" if shrink > 1 else ""
            raise CaseError(
                f"case {name!r}: {label} image is {'×'.join(map(str, size))} voxels: every axis needs at least "
                f"{MIN_VOXELS_PER_AXIS} voxels{at}" + (": lower shrink_factors" if shrink > 1 else "")
            )
        if array.size and array.min() == array.max():
            metric = setup.metric if setup is not None else "the metric"
            raise CaseError(
                f"case {name!r}: {label} image is constant (every pixel is {array.flat[0]:g}): {metric} cannot "
                "align it (its gradient is zero everywhere)"
            )
    for label, mask, image in (
        ("fixed_mask", data.fixed_mask, data.fixed),
        ("moving_mask", data.moving_mask, data.moving),
    ):
        if mask is None:
            continue
        if problem := mask_problem(mask):
            raise CaseError(f"case {name!r}: {label} {problem}")
        _require_grid(name, label, mask, image)
    check_labels(name, data)
    for label, tx in (("truth", data.truth), ("initial_transform", data.initial_transform)):
        if tx is not None and tx.GetDimension() != dim:
            raise CaseError(f"case {name!r}: {label} is {tx.GetDimension()}D but the images are {dim}D")
    start = data.initial_transform
    # ITK has no B-spline Jacobian with respect to position: every run of a global model would fail
    if start is not None and setup is not None and setup.transform != "bspline" and _holds_bspline(start):
        raise CaseError(
            f"case {name!r}: initial_transform is a B-spline transform, which cannot start the setup's "
            f"{setup.transform!r} model (ITK cannot use a B-spline as the moving initial transform of a global "
            'model): use transform = "bspline", or a global initial transform'
        )


#: The pixel types a label image may have: integers (a float "label" is refused, it is no segmentation).
LABEL_PIXEL_IDS = frozenset(
    {
        sitk.sitkUInt8,
        sitk.sitkInt8,
        sitk.sitkUInt16,
        sitk.sitkInt16,
        sitk.sitkUInt32,
        sitk.sitkInt32,
        sitk.sitkUInt64,
        sitk.sitkInt64,
    }
)


def check_labels(name: str, data: CaseData) -> None:
    """Refuse label images that cannot be scored: one without the other, a non-integer pixel type, off their
    image's grid, or no non-zero label present in both. Messages start with the key (``fixed_labels ...``)."""
    given = {"fixed_labels": data.fixed_labels, "moving_labels": data.moving_labels}
    present = [key for key, image in given.items() if image is not None]
    if len(present) == 1:
        (key,) = present
        other = "moving_labels" if key == "fixed_labels" else "fixed_labels"
        raise CaseError(f"case {name!r}: {key} is given but {other} is not: give both label images, or neither")
    if not present:
        return
    values = {}
    for key, image, on in (
        ("fixed_labels", data.fixed_labels, data.fixed),
        ("moving_labels", data.moving_labels, data.moving),
    ):
        assert image is not None
        if image.GetPixelID() not in LABEL_PIXEL_IDS:
            raise CaseError(
                f"case {name!r}: {key} is {image.GetPixelIDTypeAsString()}: label images must have an integer "
                "pixel type"
            )
        _require_grid(name, key, image, on)
        found = np.unique(sitk.GetArrayViewFromImage(image))
        values[key] = found[found != 0]
        if not values[key].size:
            raise CaseError(f"case {name!r}: {key} holds no label (every pixel is 0, the background)")
    if not np.intersect1d(values["fixed_labels"], values["moving_labels"]).size:
        shown = {key: _some(v) for key, v in values.items()}
        raise CaseError(
            f"case {name!r}: fixed_labels and moving_labels share no non-zero label (fixed_labels has "
            f"{shown['fixed_labels']}; moving_labels has {shown['moving_labels']}): Dice and HD95 compare the same "
            "label values"
        )


def mask_problem(mask: sitk.Image) -> str | None:
    """What is wrong with a mask (the words after its name), or None: a mask marks its inside with positive values
    (1, or positive labels) on 0; a negative value is neither (a -1 "mask" was called empty, as if it had no
    non-zero pixel)."""
    array = sitk.GetArrayViewFromImage(mask)
    negative = int(np.count_nonzero(array < 0))
    if negative:
        return (
            f"has {negative} negative pixels (lowest {array.min():g}): a mask must be 0 outside and 1 (or a positive "
            "label) inside"
        )
    if not np.any(array):
        return "is empty (no non-zero pixel)"
    return None


def dimension_problem(dim: int) -> str:
    """Why a ``dim``-D image cannot be registered (SimpleITK's transforms are 2D and 3D only: every run fails)."""
    return (
        f"is {dim}D: registration takes 2D or 3D images (SimpleITK's transforms have no other dimension); "
        "extract a 2D or 3D image from it, e.g. one time point with sitk.Extract"
    )


def components_differ(image: sitk.Image) -> bool:
    """Whether a multi-component image's components differ somewhere (a grey image saved as RGB does not)."""
    array = sitk.GetArrayViewFromImage(image)
    return image.GetNumberOfComponentsPerPixel() > 1 and bool(np.any(array != array[..., :1]))


def _require_scalar(name: str, label: str, image: sitk.Image) -> None:
    """Refuse an image whose components differ: registration takes one value per pixel, and keeping the first
    component silently would register something else than the user's image."""
    if components_differ(image):
        raise CaseError(
            f"case {name!r}: {label} has {image.GetNumberOfComponentsPerPixel()} different components per pixel: "
            "registration needs one value per pixel; save the component to register, e.g. "
            "sitk.VectorIndexSelectionCast(image, 0)"
        )


def _require_orthonormal(name: str, label: str, image: sitk.Image) -> None:
    """Refuse direction cosines that are not orthonormal: every physical distance (errors, jitter, Jacobians)
    scales index steps by the spacing alone, which holds only for an orthonormal direction matrix."""
    dim = image.GetDimension()
    direction = np.array(image.GetDirection()).reshape(dim, dim)
    if not np.allclose(direction.T @ direction, np.eye(dim), atol=1e-4):
        rows = "; ".join(" ".join(f"{v:g}" for v in row) for row in direction)
        raise CaseError(
            f"case {name!r}: {label}'s direction cosines are not orthonormal ({rows}): physical distances "
            "assume orthonormal directions (a rotation, possibly with a flip); fix the header's direction"
        )


def _holds_bspline(transform: sitk.Transform) -> bool:
    """Whether ``transform`` is, or a composite of it holds, a B-spline transform."""
    if transform.GetName() == "CompositeTransform":
        composite = sitk.CompositeTransform(transform)
        return any(
            _holds_bspline(composite.GetNthTransform(i).Downcast()) for i in range(composite.GetNumberOfTransforms())
        )
    return transform.GetName().startswith("BSplineTransform")


def _some(values: np.ndarray, shown: int = 8) -> str:
    """The first few of an array's values, as text."""
    text = ", ".join(str(v) for v in values[:shown].tolist())
    return text + (f", … ({values.size} labels)" if values.size > shown else "")


def _require_grid(name: str, key: str, image: sitk.Image, on: sitk.Image) -> None:
    """Refuse ``image`` (a mask or label image, given as ``key``) unless it lies on the grid of ``on``."""
    if not _same_grid(image, on):
        which = key.split("_")[0]
        raise CaseError(
            f"case {name!r}: {key} does not lie on the {which} image's grid (size "
            f"{'×'.join(map(str, image.GetSize()))} vs {'×'.join(map(str, on.GetSize()))}, or another origin, "
            f"spacing or direction): resample it onto the {which} image"
        )


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
        and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=1e-5)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)
    )
