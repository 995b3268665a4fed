"""Pictures of one run, and its transform: ``regbench show RUN --images DIR --save-transform F --resample F``.

A record keeps the returned transform as the full mapping from fixed to moving space (the case's initial transform
included), so the moving image resampled onto the fixed grid with it is what the registration produced. The
pictures (definitions: docs/recommend.md):

- ``overlay.png``: fixed in magenta, moving in green, before (the run's starting mapping) and after; grey where they
  agree.
- ``checkerboard.png``: tiles alternating between the fixed image and the resampled moving image, before and after.
- ``difference.png``: fixed − resampled moving (intensities rescaled to [0, 1] each), before and after.
- for a deformable transform, ``jacobian.png``: the Jacobian determinant of the mapping, folded voxels
  (determinant ≤ 0) marked in red, and ``grid.png``: a regular grid on the fixed image drawn through the mapping.

2D images are drawn whole; a 3D image as its three orthogonal slices through the centre.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from regbench.caseresolve import CaseResolver
from regbench.cases import CaseError

# The Jacobian the record's folding figures come from (regbench.evaluate), so the map and the count agree.
from regbench.evaluate import jacobian_determinant
from regbench.record import RunRecord
from regbench.transforms import is_deformable, transform_from_dict


class ImageError(ValueError):
    """A run whose pictures or transform cannot be made (no transform recorded, case not available)."""


def record_transform(record: RunRecord) -> sitk.Transform:
    """The transform the run returned (fixed → moving, full mapping), rebuilt from the record."""
    if record.transform is None:
        raise ImageError(f"run {record.key}: no transform recorded (status {record.status}, outcome {record.outcome})")
    return transform_from_dict(record.transform)


def save_transform(record: RunRecord, path: str | Path) -> Path:
    """Write the run's transform as an ITK transform file (``.tfm``, ``.txt``, ``.h5``...)."""
    path = Path(path)
    sitk.WriteTransform(record_transform(record), str(path))
    return path


def resample(moving: sitk.Image, fixed: sitk.Image, transform: sitk.Transform, default: float = 0.0) -> sitk.Image:
    """The moving image on the fixed image's grid through ``transform`` (linear interpolation)."""
    return sitk.Resample(moving, fixed, transform, sitk.sitkLinear, default, moving.GetPixelID())


def case_data(record: RunRecord, pm=None, resolver: CaseResolver | None = None):
    """The run's case and its data, found as :mod:`regbench.caseresolve` says (a registered case, a ``--cases``
    file given to ``resolver``, or the run's own case file); :class:`ImageError` saying why not."""
    resolver = resolver or CaseResolver(pm)
    try:
        case = resolver.resolve(record)
        return case, case.load()
    except CaseError as exc:
        raise ImageError(f"run {record.key}: {exc}") from exc
    except Exception as exc:
        raise ImageError(f"run {record.key}: case {record.case!r} cannot be loaded here: {exc}") from exc


def initial_transform(record: RunRecord, case, data) -> sitk.Transform:
    from regbench.cases import initial_mapping

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
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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

    def figure(name, panels, suptitle):
        if dim == 2:  # before and after side by side
            panels = [[p for row in panels for p in row]]
        rows = len(panels)
        cols = max(len(p) for p in panels)
        fig, axes = plt.subplots(rows, cols, figsize=(max(3.2 * cols, 5.0), 3.2 * rows + 0.6), squeeze=False)
        for r, row in enumerate(panels):
            for c in range(cols):
                ax = axes[r][c]
                ax.set_axis_off()
                if c < len(row):
                    row[c](ax)
        fig.suptitle(textwrap.fill(suptitle, 70), fontsize=8)
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path)

    def image_panel(array, label, cmap="gray", vmin=None, vmax=None):
        def draw(ax):
            ax.imshow(array, cmap=cmap, origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(label, fontsize=8)

        return draw

    f_norm = normalized(fixed_a)
    panels = {"overlay": [], "checkerboard": [], "difference": []}
    for stage, moved in stages.items():
        m_norm = normalized(moved)
        rgb = np.stack([f_norm, m_norm, f_norm], axis=-1)
        board, _ = checkerboard(f_norm, m_norm, tiles)
        diff = f_norm - m_norm
        panels["overlay"].append([image_panel(s, f"{stage} {lab}".strip()) for lab, s in _slices_of(rgb, dim)])
        panels["checkerboard"].append([image_panel(s, f"{stage} {lab}".strip()) for lab, s in _slices_of(board, dim)])
        panels["difference"].append(
            [image_panel(s, f"{stage} {lab}".strip(), "RdBu_r", -1, 1) for lab, s in _slices_of(diff, dim)]
        )
    figure("overlay.png", panels["overlay"], f"{title}: fixed magenta, moving green (grey: agree)")
    figure("checkerboard.png", panels["checkerboard"], f"{title}: checkerboard fixed / resampled moving")
    figure("difference.png", panels["difference"], f"{title}: fixed − resampled moving (red +, blue −)")

    folded = None
    if is_deformable(after):
        jac = jacobian_determinant(after, fixed)
        folded = int((jac <= 0).sum())

        def jac_panel(array, mask, label):
            def draw(ax):
                im = ax.imshow(array, cmap="viridis", origin="lower", interpolation="nearest")
                ax.figure.colorbar(im, ax=ax, fraction=0.046)
                if mask.any():
                    red = np.zeros((*mask.shape, 4))
                    red[mask] = (1, 0, 0, 1)
                    ax.imshow(red, origin="lower", interpolation="nearest")
                ax.set_title(label, fontsize=8)

            return draw

        figure(
            "jacobian.png",
            [
                [
                    jac_panel(s, m, lab)
                    for (lab, s), (_, m) in zip(_slices_of(jac, dim), _slices_of(jac <= 0, dim), strict=True)
                ]
            ],
            f"{title}: Jacobian determinant; red: folded ({folded} voxels, det ≤ 0)",
        )
        figure("grid.png", [_grid_panels(after, fixed, dim, grid_step)], f"{title}: deformation grid")
    return Pictures(directory, files, folded)


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
