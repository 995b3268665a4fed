"""Pictures of one run, and its transform: ``regbench show RUN --images DIR --save-transform F --resample F``.

A record keeps the returned transform as the full mapping from fixed to moving space (the case's initial transform
included), so the moving image resampled onto the fixed grid with it is what the registration produced. The
pictures (definitions: docs/recommend.md):

- ``overlay.png``: fixed in magenta, moving in green, before (the run's starting mapping) and after; grey where they
  agree.
- ``checkerboard.png``: tiles alternating between the fixed image and the resampled moving image, before and after.
- ``difference.png``: fixed − resampled moving (intensities rescaled to [0, 1] each), before and after.
- for a deformable transform, ``jacobian.png``: the Jacobian determinant of the mapping on a diverging scale
  centred on 1 (:func:`jacobian_norm`), folded voxels (determinant ≤ 0) in solid red, and ``grid.png``: a regular
  grid on the fixed image drawn through the mapping. The overlay after such a run outlines its folded voxels:
  images can look aligned under a mapping that folds.

2D images are drawn whole; a 3D image as its three orthogonal slices through the centre.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import CaseError

# The Jacobian the record's folding figures come from (regbench.evaluation.measures), so the map and the count agree.
from regbench.evaluation.measures import jacobian_determinant
from regbench.record import RunRecord
from regbench.report.load.case_of_run import CaseResolver
from regbench.util.transforms import is_deformable, transform_from_dict


class ImageError(ValueError):
    """A run whose pictures or transform cannot be made (no transform recorded, case not available)."""


def record_transform(record: RunRecord) -> sitk.Transform:
    """The transform the run returned (fixed → moving, full mapping), rebuilt from the record."""
    if record.transform is None:
        raise ImageError(f"run {record.key}: no transform recorded (status {record.status}, outcome {record.outcome})")
    return transform_from_dict(record.transform)


#: The file endings SimpleITK 2.5 writes, each tried: images (the 8-bit formats last: they take no float
#: pixels), and transforms.
IMAGE_SUFFIXES: tuple[str, ...] = (".nii.gz", ".mha", ".nii", ".mhd", ".nrrd", ".nhdr", ".tif", ".tiff", ".vtk")
IMAGE_SUFFIXES += (".hdr", ".img", ".img.gz", ".gipl", ".gipl.gz", ".mnc", ".mnc2", ".h5", ".hdf5", ".hdf", ".mrc")
IMAGE_SUFFIXES += (".nia", ".png", ".jpg", ".jpeg", ".bmp", ".dcm", ".lsm", ".pic")
TRANSFORM_SUFFIXES = (".tfm", ".txt", ".h5", ".hdf5", ".hdf", ".mat")


def output_problem(path: str | Path, suffixes: tuple[str, ...], what: str) -> str | None:
    """Why ITK could not write ``what`` (``"an image"``, ``"a transform"``) to ``path``, checked before any work:
    its directory is missing, or ITK has no writer for its ending (examples given); None when it can try."""
    path = Path(path)
    if not path.parent.exists():
        return f"the directory {path.parent} does not exist"
    if not path.parent.is_dir():
        return f"{path.parent} is not a directory"
    if not path.name.lower().endswith(suffixes):
        ending = f"{path.suffix!r} is not" if path.suffix else "a name without an extension is not"
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        examples = " or ".join(str(path.with_name(stem + suffix)) for suffix in suffixes[:2])
        return f"{ending} {what} format ITK writes: e.g. {examples} (ITK writes {', '.join(suffixes)})"
    return None


def save_transform(record: RunRecord, path: str | Path) -> Path:
    """Write the run's transform as an ITK transform file (``.tfm``, ``.txt``, ``.h5``...)."""
    path = Path(path)
    sitk.WriteTransform(record_transform(record), str(path))
    return path


def resample(moving: sitk.Image, fixed: sitk.Image, transform: sitk.Transform, default: float = 0.0) -> sitk.Image:
    """The moving image on the fixed image's grid through ``transform`` (linear interpolation)."""
    return sitk.Resample(moving, fixed, transform, sitk.sitkLinear, default, moving.GetPixelID())


def case_data(record: RunRecord, pm=None, resolver: CaseResolver | None = None):
    """The run's case and its data, found as :mod:`~regbench.report.load.case_of_run` says (a registered case, a
    ``--cases`` file given to ``resolver``, or the run's own case file); :class:`ImageError` saying why not."""
    resolver = resolver or CaseResolver(pm)
    try:
        case = resolver.resolve(record)
        return case, case.load()
    except CaseError as exc:
        raise ImageError(f"run {record.key}: {exc}") from exc
    except Exception as exc:
        raise ImageError(f"run {record.key}: case {record.case!r} cannot be loaded here: {exc}") from exc


def initial_transform(record: RunRecord, case, data) -> sitk.Transform:
    from regbench.cases.case import initial_mapping

    return initial_mapping(case.setup, data, record.seed)


# -- arrays (testable without a figure) -----------------------------------------------------------------------


def normalized(array: np.ndarray) -> np.ndarray:
    """Intensities rescaled to [0, 1] between the 1st and 99th percentiles."""
    a = np.asarray(array, dtype=float)
    finite = a[np.isfinite(a)]
    if not finite.size:
        return np.zeros_like(a)
    low, high = np.percentile(finite, [1, 99])
    if high <= low:
        high = low + 1.0
    return np.clip((a - low) / (high - low), 0, 1)


def checkerboard(a: np.ndarray, b: np.ndarray, tiles: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(picture, mask): ``a`` where the mask is True, ``b`` elsewhere, in ``tiles`` × ``tiles`` squares."""
    shape = a.shape
    index = np.indices(shape)
    mask = np.zeros(shape, dtype=bool)
    for axis, k in enumerate(index):
        size = max(1, int(np.ceil(shape[axis] / tiles)))
        mask ^= (k // size) % 2 == 1
    mask = ~mask
    return np.where(mask, a, b), mask


def overlay(fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """RGB: fixed in magenta (red + blue), moving in green; equal intensities are grey."""
    f, m = normalized(fixed), normalized(moving)
    return np.stack([f, m, f], axis=-1)


# The Jacobian map: brown where the mapping shrinks, white where it keeps the volume (det = 1), teal where it grows;
# folded voxels (det ≤ 0) in their own solid colour on top, and outlined (with a tint) on the overlay.
JACOBIAN_CMAP = "BrBG"
FOLDED_RGBA = (1.0, 0.0, 0.0, 1.0)
FOLD_OUTLINE = "yellow"
# The colour scale's half-width around 1: the 99th percentile of |det − 1| over unfolded voxels, within these
# bounds (so a near-identity map is not stretched into noise, and det 0..2 is the widest range shown).
JACOBIAN_RANGE = (0.1, 1.0)


def jacobian_norm(jac: np.ndarray):
    """A colour norm for a Jacobian determinant map, centred on 1 and symmetric about it (0 ≤ vmin < 1 < vmax ≤ 2);
    values beyond are clipped to the ends, folded voxels drawn apart."""
    from matplotlib.colors import TwoSlopeNorm

    unfolded = jac[np.isfinite(jac) & (jac > 0)]
    deviation = float(np.percentile(np.abs(unfolded - 1.0), 99)) if unfolded.size else JACOBIAN_RANGE[1]
    half = float(np.clip(deviation, *JACOBIAN_RANGE))
    return TwoSlopeNorm(vcenter=1.0, vmin=1.0 - half, vmax=1.0 + half)


def mark_folds(ax, folded: np.ndarray) -> None:
    """Outline and tint the folded voxels (a boolean slice) on an image already drawn with ``origin="lower"``."""
    if not folded.any():
        return
    tint = np.zeros((*folded.shape, 4))
    tint[folded] = (*FOLDED_RGBA[:3], 0.35)
    ax.imshow(tint, origin="lower", interpolation="nearest")
    ax.contour(folded.astype(float), levels=[0.5], colors=FOLD_OUTLINE, linewidths=1.0, origin="lower")


def _slices_of(array: np.ndarray, dim: int) -> list[tuple[str, np.ndarray]]:
    """2D: the image; 3D: the three orthogonal slices through the centre (numpy order z, y, x)."""
    if dim == 2:
        return [("", array)]
    z, y, x = (s // 2 for s in array.shape[:3])
    return [(f"z = {z}", array[z]), (f"y = {y}", array[:, y]), (f"x = {x}", array[:, :, x])]


# -- pictures ---------------------------------------------------------------------------------------------------


@dataclass
class Pictures:
    directory: Path
    files: list[Path]
    folded_voxels: int | None = None  # where a Jacobian map was drawn
    jacobian_scale: tuple[float, float] | None = None  # its colour scale's ends, centred on 1 (jacobian_norm)


def write_images(
    record: RunRecord,
    directory: str | Path,
    fixed: sitk.Image | None = None,
    moving: sitk.Image | None = None,
    before: sitk.Transform | None = None,
    tiles: int = 8,
    grid_step: int | None = None,
    resolver: CaseResolver | None = None,
) -> Pictures:
    """Write the run's pictures into ``directory``; the images and starting transform come from the case unless
    given (found by ``resolver``: :func:`case_data`)."""
    from matplotlib.figure import Figure

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    after = record_transform(record)
    if fixed is None or moving is None or before is None:
        case, data = case_data(record, resolver=resolver)
        fixed = data.fixed if fixed is None else fixed
        moving = data.moving if moving is None else moving
        before = initial_transform(record, case, data) if before is None else before
    dim = fixed.GetDimension()
    fixed_a = sitk.GetArrayFromImage(fixed).astype(float)
    stages = {
        "before": sitk.GetArrayFromImage(resample(moving, fixed, before)).astype(float),
        "after": sitk.GetArrayFromImage(resample(moving, fixed, after)).astype(float),
    }
    title = f"{record.strategy} on {record.case}, seed {record.seed}"
    files = []

    def figure(name, panels, suptitle, fit=False):
        """Panels without axes in fixed margins (``fit``: fitted by constrained layout, for colour bars)."""
        if dim == 2:  # before and after side by side
            panels = [[p for row in panels for p in row]]
        rows = len(panels)
        cols = max(len(p) for p in panels)
        width, height = max(3.2 * cols, 5.0), 3.2 * rows + 0.6
        # no pyplot: nothing to close, no global state
        fig = Figure(figsize=(width, height), layout="constrained" if fit else None)
        axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw=None if fit else _margins(width, height, rows, cols))
        for r, row in enumerate(panels):
            for c in range(cols):
                ax = axes[r][c]
                ax.set_axis_off()
                if c < len(row):
                    row[c](ax)
        placed = {} if fit else {"y": 1 - 0.06 / height, "va": "top"}
        fig.suptitle(textwrap.fill(suptitle, 70), fontsize=8, **placed)
        path = directory / name
        fig.savefig(path, dpi=90)
        files.append(path)

    def image_panel(array, label, cmap="gray", vmin=None, vmax=None, folds=None):
        def draw(ax):
            ax.imshow(array, cmap=cmap, origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest")
            if folds is not None:
                mark_folds(ax, folds)
            ax.set_title(label, fontsize=8)

        return draw

    # a deformable mapping's Jacobian first: the overlay after the run shows where it folds
    jac = jacobian_determinant(after, fixed) if is_deformable(after) else None
    folded_mask = None if jac is None else jac <= 0
    folded = None if folded_mask is None else int(folded_mask.sum())
    fold_slices = [m for _, m in _slices_of(folded_mask, dim)] if folded_mask is not None and folded else None
    f_norm = normalized(fixed_a)
    panels: dict[str, list] = {"overlay": [], "checkerboard": [], "difference": []}
    for stage, moved in stages.items():
        m_norm = normalized(moved)
        rgb = np.stack([f_norm, m_norm, f_norm], axis=-1)
        board, _ = checkerboard(f_norm, m_norm, tiles)
        diff = f_norm - m_norm
        slices = _slices_of(rgb, dim)
        marks = fold_slices if stage == "after" and fold_slices else [None] * len(slices)
        panels["overlay"].append(
            [image_panel(s, f"{stage} {lab}".strip(), folds=m) for (lab, s), m in zip(slices, marks, strict=True)]
        )
        panels["checkerboard"].append([image_panel(s, f"{stage} {lab}".strip()) for lab, s in _slices_of(board, dim)])
        panels["difference"].append(
            [image_panel(s, f"{stage} {lab}".strip(), "RdBu_r", -1, 1) for lab, s in _slices_of(diff, dim)]
        )
    fold_note = (
        f"; yellow outline, red tint: {folded} folded voxels ({100 * folded / folded_mask.size:.2g}%)"
        if folded and folded_mask is not None
        else ""
    )
    figure("overlay.png", panels["overlay"], f"{title}: fixed magenta, moving green (grey: agree){fold_note}")
    figure("checkerboard.png", panels["checkerboard"], f"{title}: checkerboard fixed / resampled moving")
    figure("difference.png", panels["difference"], f"{title}: fixed − resampled moving (red +, blue −)")

    scale = None
    if jac is not None and folded_mask is not None:
        norm = jacobian_norm(jac)
        scale = (float(norm.vmin), float(norm.vmax))

        def jac_panel(array, mask, label):
            def draw(ax):
                im = ax.imshow(array, cmap=JACOBIAN_CMAP, norm=norm, origin="lower", interpolation="nearest")
                bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, extend="both")
                bar.set_label("det J (1: volume kept)", fontsize=7)
                bar.ax.tick_params(labelsize=7)
                if mask.any():
                    red = np.zeros((*mask.shape, 4))
                    red[mask] = FOLDED_RGBA
                    ax.imshow(red, origin="lower", interpolation="nearest")
                ax.set_title(label, fontsize=8)

            return draw

        figure(
            "jacobian.png",
            [
                [
                    jac_panel(s, m, lab)
                    for (lab, s), (_, m) in zip(_slices_of(jac, dim), _slices_of(folded_mask, dim), strict=True)
                ]
            ],
            f"{title}: Jacobian determinant, centred on 1 (brown: shrinks, teal: grows; scale "
            f"{norm.vmin:.2g}–{norm.vmax:.2g}, beyond clipped); solid red: folded ({folded} voxels, det ≤ 0)",
            fit=True,
        )
        figure("grid.png", [_grid_panels(after, fixed, dim, grid_step)], f"{title}: deformation grid")
    return Pictures(directory, files, folded, scale)


# The pictures' margins in inches: room for a two-line title above, and for a panel's title above each row. Fixed,
# instead of a tight layout that drew each picture once more to measure it (a third of the pictures' time).
TOP_IN, EDGE_IN, ROW_GAP_IN, COLUMN_GAP_IN = 0.55, 0.05, 0.3, 0.1


def _margins(width: float, height: float, rows: int, cols: int) -> dict[str, float]:
    """The subplot parameters (figure fractions) of a ``rows`` × ``cols`` grid in the fixed margins."""
    panel_w = (width - 2 * EDGE_IN - (cols - 1) * COLUMN_GAP_IN) / cols
    panel_h = (height - TOP_IN - EDGE_IN - (rows - 1) * ROW_GAP_IN) / rows
    return {
        "left": EDGE_IN / width,
        "right": 1 - EDGE_IN / width,
        "bottom": EDGE_IN / height,
        "top": 1 - TOP_IN / height,
        "wspace": COLUMN_GAP_IN / panel_w,
        "hspace": ROW_GAP_IN / panel_h,
    }


def _grid_panels(transform: sitk.Transform, fixed: sitk.Image, dim: int, step: int | None):
    """A grid on the fixed image's index space mapped through the transform, drawn in fixed index units."""
    size = fixed.GetSize()
    step = step or max(2, min(size) // 16)
    inverse_direction = np.linalg.inv(np.array(fixed.GetDirection()).reshape(dim, dim))
    origin, spacing = np.array(fixed.GetOrigin()), np.array(fixed.GetSpacing())

    def mapped(index):
        point = fixed.TransformContinuousIndexToPhysicalPoint([float(v) for v in index])
        out = np.array(transform.TransformPoint(point))
        return (inverse_direction @ (out - origin)) / spacing  # continuous index in the fixed grid

    planes = [(0, 1, None)] if dim == 2 else [(0, 1, 2), (0, 2, 1), (1, 2, 0)]  # (u axis, v axis, fixed axis)
    labels = [""] if dim == 2 else [f"z = {size[2] // 2}", f"y = {size[1] // 2}", f"x = {size[0] // 2}"]
    draws = []
    for (u, v, w), label in zip(planes, labels, strict=True):

        def draw(ax, u=u, v=v, w=w, label=label):
            centre = [s // 2 for s in size]
            for fixed_axis, moving_axis in ((u, v), (v, u)):
                for k in range(0, size[fixed_axis], step):
                    points = []
                    for t in np.linspace(0, size[moving_axis] - 1, 64):
                        index = list(centre)
                        index[fixed_axis], index[moving_axis] = k, t
                        points.append(mapped(index))
                    points = np.array(points)
                    ax.plot(points[:, u], points[:, v], lw=0.6, color="k")
            ax.set_aspect("equal")
            ax.set_title(label or "grid through the mapping", fontsize=8)

        draws.append(draw)
    return draws
