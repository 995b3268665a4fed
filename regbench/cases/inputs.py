"""The input files of one user case (:class:`CaseEntry`, its paths resolved): images, masks, label images,
transforms and landmarks read and checked against each other into its :class:`~regbench.cases.case.CaseData`; a bad
one raises :class:`~regbench.cases.case.CaseError` naming the file.
"""

from __future__ import annotations

import csv
import gzip
import locale
import math
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import LABEL_PIXEL_IDS, CaseData, CaseError
from regbench.cases.data import components_differ, dimension_problem, mask_problem
from regbench.util.itk_text import itk_message
from regbench.util.safe_files import file_problem


@dataclass(frozen=True)
class CaseEntry:
    """One ``[[case]]`` of a file with its paths resolved (picklable: a loader for worker processes)."""

    name: str
    fixed: Path
    moving: Path
    fixed_mask: Path | None = None
    moving_mask: Path | None = None
    initial_transform: Path | None = None
    truth: Path | None = None
    landmarks: Path | None = None
    fixed_labels: Path | None = None
    moving_labels: Path | None = None
    where: str = ""  # "file:line: case 'name'", to prefix messages
    places: tuple[tuple[str, str], ...] = ()  # (key, "file:line: case 'name'") of each key given

    def at(self, key: str) -> str:
        """``file:line: case 'name'`` of ``key``'s line (else of the case's header), to prefix messages."""
        return dict(self.places).get(key, self.where)


# -- reading and checking the files of one case -----------------------------------------------------------


def load_entry(entry: CaseEntry) -> CaseData:
    """Read the files of a case and check them against each other; messages name the file."""
    fixed = read_image(entry.fixed, "fixed image", entry.at("fixed"))
    moving = read_image(entry.moving, "moving image", entry.at("moving"))
    dim = fixed.GetDimension()
    for key, image, file in (("fixed", fixed, entry.fixed), ("moving", moving, entry.moving)):
        if image.GetDimension() not in (2, 3):
            raise CaseError(f"{entry.at(key)}: {key} image {file} {dimension_problem(image.GetDimension())}")
    if moving.GetDimension() != dim:
        raise CaseError(
            f"{entry.where}: moving image {entry.moving} is {moving.GetDimension()}D but fixed image "
            f"{entry.fixed} is {dim}D"
        )
    data = CaseData(fixed=fixed, moving=moving)
    for key in ("fixed_mask", "moving_mask"):
        file = getattr(entry, key)
        if file is None:
            continue
        mask = read_image(file, key.replace("_", " "), entry.at(key), check_finite=False)
        if mask.GetDimension() != dim:
            raise CaseError(f"{entry.at(key)}: {key} {file} is {mask.GetDimension()}D but the images are {dim}D")
        if problem := mask_problem(mask):
            raise CaseError(f"{entry.at(key)}: {key} {file} {problem}")
        setattr(data, key, sitk.Cast(mask > 0, sitk.sitkUInt8))
    for key in ("fixed_labels", "moving_labels"):
        file = getattr(entry, key)
        if file is not None:
            setattr(data, key, read_labels(file, key, dim, entry.at(key)))
    for key in ("initial_transform", "truth"):
        file = getattr(entry, key)
        if file is not None:
            setattr(data, key, read_transform(file, key.replace("_", " "), dim, entry.at(key)))
    if entry.landmarks is not None:
        data.landmarks = read_landmarks(entry.landmarks, dim, entry.at("landmarks"))
    return data


def read_labels(path: Path, key: str, dim: int, where: str) -> sitk.Image:
    """A label image (read like a mask, kept as its integer labels): refused unless ``dim``-D with an integer
    pixel type; the grid and the labels present are checked against the images by ``check_case_data``."""
    labels = read_image(path, key.replace("_", " "), where, check_finite=False)
    if labels.GetDimension() != dim:
        raise CaseError(f"{where}: {key} {path} is {labels.GetDimension()}D but the images are {dim}D")
    if labels.GetPixelID() not in LABEL_PIXEL_IDS:
        raise CaseError(
            f"{where}: {key}: label images must have an integer pixel type, {path} is {labels.GetPixelIDTypeAsString()}"
        )
    return labels


def read_image(path: Path, what: str, where: str, check_finite: bool = True) -> sitk.Image:
    """A scalar image from a file SimpleITK reads, or from the DICOM series in a directory."""
    if path.is_dir():
        image = _read_dicom_series(path, what, where)
    else:
        _require_file(path, what, where)
        _check_complete(path, what, where)
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            message = itk_message(exc)
            if "No such file or directory" in message:  # ITK's words for a file it could not read to the end
                message = "the file is truncated or corrupt (its data ends before the header says it should)"
            raise CaseError(f"{where}: cannot read {what} {path}: {message}") from None
    if image.GetNumberOfComponentsPerPixel() > 1:
        if components_differ(image):
            raise CaseError(
                f"{where}: {what} {path} has {image.GetNumberOfComponentsPerPixel()} different components per "
                "pixel: registration needs one value per pixel; save the component to register, e.g. "
                "sitk.VectorIndexSelectionCast(image, 0)"
            )
        image = sitk.VectorIndexSelectionCast(image, 0)  # a grey image saved as RGB (e.g. 8-bit PNGs): all alike
    if check_finite and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        bad = int((~np.isfinite(sitk.GetArrayViewFromImage(image))).sum())
        if bad:
            raise CaseError(f"{where}: {what} {path} has {bad} NaN or infinite pixels")
    return image


def _check_complete(path: Path, what: str, where: str) -> None:
    """Refuse a file cut short: SimpleITK reads a truncated NIfTI (plain or gzipped) without error, filling the
    missing pixels with zeros. The header's expected data size is compared with what the file holds."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise CaseError(f"{where}: cannot read {what} {path}: {itk_message(exc)}") from None
    pixel_bytes = _PIXEL_BYTES.get(reader.GetPixelID())
    if pixel_bytes is None:
        return
    expected = math.prod(reader.GetSize()) * reader.GetNumberOfComponents() * pixel_bytes
    name = path.name.lower()
    if name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as handle:
                held = 0
                while chunk := handle.read(1 << 20):
                    held += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise CaseError(f"{where}: {what} {path} is truncated or corrupt ({exc})") from None
        if name.endswith((".nii.gz", ".hdr.gz")) and held < expected:
            raise CaseError(
                f"{where}: {what} {path} is truncated: its header promises {expected} bytes of pixel data, "
                f"the file holds at most {held}"
            )
        return
    offset = 0
    if name.endswith(".nii"):
        with path.open("rb") as handle:
            header = handle.read(352)
        if len(header) >= 112:
            little = int.from_bytes(header[:4], "little") == 348
            offset = int(struct.unpack("<f" if little else ">f", header[108:112])[0])
    elif name.endswith(".mha"):
        text = path.read_bytes()[:65536]
        match = re.search(rb"^ElementDataFile\s*=\s*LOCAL[^\n]*\n", text, re.MULTILINE)
        if match is None or re.search(rb"^CompressedData\s*=\s*True", text, re.MULTILINE | re.IGNORECASE):
            return
        offset = match.end()
    elif not name.endswith((".nrrd", ".mhd", ".hdr", ".img", ".vtk", ".tif", ".tiff")):
        return  # compressed formats (PNG, JPEG) and others: their readers report a short file
    if name.endswith((".mhd", ".hdr")):
        return  # the data is in another file, which the reader checks
    size = path.stat().st_size
    if name.endswith((".tif", ".tiff", ".nrrd")):
        offset = 0  # a lower bound: the data alone must fit
    if size < offset + expected:
        raise CaseError(
            f"{where}: {what} {path} is truncated: its header promises {expected} bytes of pixel data"
            f"{f' after {offset} header bytes' if offset else ''}, the file has {size} bytes in all"
        )


_PIXEL_BYTES = {
    sitk.sitkUInt8: 1,
    sitk.sitkInt8: 1,
    sitk.sitkUInt16: 2,
    sitk.sitkInt16: 2,
    sitk.sitkUInt32: 4,
    sitk.sitkInt32: 4,
    sitk.sitkUInt64: 8,
    sitk.sitkInt64: 8,
    sitk.sitkFloat32: 4,
    sitk.sitkFloat64: 8,
    sitk.sitkVectorUInt8: 1,
    sitk.sitkVectorInt8: 1,
    sitk.sitkVectorUInt16: 2,
    sitk.sitkVectorInt16: 2,
    sitk.sitkVectorUInt32: 4,
    sitk.sitkVectorInt32: 4,
    sitk.sitkVectorFloat32: 4,
    sitk.sitkVectorFloat64: 8,
}


@contextmanager
def preserve_locale() -> Iterator[None]:
    """GDCM (DICOM I/O) switches the process to the C locale; put it back, or Python's default text encoding
    becomes ASCII for the rest of the process."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def _read_dicom_series(path: Path, what: str, where: str) -> sitk.Image:
    with preserve_locale():
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path))
        if not files:
            raise CaseError(f"{where}: {what} {path} is a directory without a DICOM series")
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(files)
        try:
            return reader.Execute()
        except RuntimeError as exc:
            message = f"{where}: cannot read the DICOM series of {what} {path}: {itk_message(exc)}"
            raise CaseError(message) from None


def _require_file(path: Path, what: str, where: str) -> None:
    """Refuse anything but a regular file before it is opened: a FIFO or a device would hang the load."""
    problem = file_problem(path)
    if problem is not None:
        raise CaseError(f"{where}: {what} {path} {problem}")


def read_transform(path: Path, what: str, dim: int, where: str) -> sitk.Transform:
    _require_file(path, what, where)
    try:
        transform = sitk.ReadTransform(str(path))
    except RuntimeError as exc:
        raise CaseError(f"{where}: cannot read {what} {path} as a transform: {itk_message(exc)}") from None
    transform = transform.Downcast()
    if transform.GetDimension() != dim:
        raise CaseError(f"{where}: {what} {path} is a {transform.GetDimension()}D transform but the images are {dim}D")
    return transform


def read_landmarks(path: Path, dim: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Landmark pairs from a CSV: per row the fixed point's dim coordinates, then the moving point's.

    A first row that is not numeric is a header. Coordinates are physical (the images' units).
    """
    _require_file(path, "landmarks", where)
    rows: list[list[float]] = []
    header_allowed = True
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells or cells[0].startswith("#"):
                continue
            try:
                values = [float(c) for c in cells]
            except ValueError:
                if header_allowed:  # the first row may name the columns
                    header_allowed = False
                    continue
                raise CaseError(f"{where}: {path}:{number}: not a number in {row!r}") from None
            header_allowed = False
            if len(values) != 2 * dim:
                raise CaseError(
                    f"{where}: {path}:{number}: expected {2 * dim} numbers ({dim}D fixed point, then moving "
                    f"point), got {len(values)}"
                )
            if not all(math.isfinite(v) for v in values):
                raise CaseError(f"{where}: {path}:{number}: coordinates must be finite")
            rows.append(values)
    if not rows:
        raise CaseError(f"{where}: landmarks {path} holds no landmark pair")
    array = np.array(rows)
    return array[:, :dim], array[:, dim:]
