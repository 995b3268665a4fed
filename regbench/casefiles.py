"""User cases from a TOML file (``regbench run --cases my.toml``); see docs/cases.md for the format.

Every problem is found when the file is loaded, not in the middle of a benchmark: each image is read and
checked, and a bad input raises :class:`~regbench.cases.CaseError` naming the file (and the TOML line) and
what is wrong.
"""

from __future__ import annotations

import csv
import locale
import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases import Case, CaseData, CaseError, Setup

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

CASE_KEYS = {
    "name": "a unique name (required)",
    "fixed": "fixed image file or DICOM directory (required)",
    "moving": "moving image file or DICOM directory (required)",
    "fixed_mask": "mask over the fixed image (metric and foreground errors)",
    "moving_mask": "mask over the moving image (metric)",
    "initial_transform": "transform file where every strategy starts (fixed → moving)",
    "truth": "transform file mapping fixed to moving points, or a CSV of landmark pairs",
    "landmarks": "CSV of landmark pairs: fixed point then moving point per row",
    "description": "one line for `regbench list`",
    "tags": "list of strings",
    "default": "part of the default selection (true unless said otherwise)",
    "setup": "table of registration settings (transform, metric, sampling, pyramid, interpolator)",
}
TOP_KEYS = ("setup", "case")
SETUP_KEYS = tuple(f.name for f in fields(Setup))
_SEQUENCES = {"mesh_size", "mesh_scale_factors", "sampling_percentage", "shrink_factors", "smoothing_sigmas"}
_INTEGERS = {"mesh_size", "mesh_scale_factors", "shrink_factors", "histogram_bins", "ants_radius"}


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
    where: str = ""  # "file:line: case 'name'", to prefix messages


def load_case_file(path: str | os.PathLike) -> list[Case]:
    """The cases a TOML file describes, each loaded and checked. Raises :class:`CaseError` on bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(f"{path}: case file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"{path}: cannot read the case file: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: TOML syntax error: {exc}") from None
    lines = _Lines(path, text)
    unknown = sorted(set(document) - set(TOP_KEYS))
    if unknown:
        raise CaseError(
            f"{lines.where(key=unknown[0])}: unknown top-level key {unknown[0]!r}; expected a [setup] table of "
            "defaults and [[case]] tables"
        )
    defaults = document.get("setup", {})
    if not isinstance(defaults, dict):
        raise CaseError(f"{lines.where(key='setup')}: 'setup' must be a table")
    entries = document.get("case")
    if not isinstance(entries, list) or not entries:
        raise CaseError(f"{path}: no [[case]] table: the file describes no case")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for index, table in enumerate(entries):
        case = _case(path, lines, index, table, defaults)
        if case.name in seen:
            raise CaseError(f"{lines.where(index)}: case name {case.name!r} is used twice (first at {seen[case.name]})")
        seen[case.name] = lines.where(index)
        cases.append(case)
    return cases


def _case(path: Path, lines: _Lines, index: int, table: Any, defaults: dict) -> Case:
    where = lines.where(index)
    if not isinstance(table, dict):
        raise CaseError(f"{where}: each [[case]] must be a table")
    unknown = sorted(set(table) - set(CASE_KEYS))
    if unknown:
        valid = ", ".join(CASE_KEYS)
        raise CaseError(f"{lines.where(index, unknown[0])}: unknown key {unknown[0]!r}; valid keys: {valid}")
    for key in ("name", "fixed", "moving"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise CaseError(f"{lines.where(index, key)}: {key!r} is required and must be a non-empty string")
    name = table["name"].strip()
    where = f"{where}: case {name!r}"
    setup_table = table.get("setup", {})
    if not isinstance(setup_table, dict):
        raise CaseError(f"{lines.where(index, 'setup')}: 'setup' must be a table")
    setup = parse_setup({**defaults, **setup_table}, lines.where(index, "setup"))
    base = path.parent

    def resolve(key: str) -> Path | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise CaseError(f"{lines.where(index, key)}: {key!r} must be a path (a non-empty string)")
        return (base / os.path.expanduser(value)).resolve()

    truth, landmarks = resolve("truth"), resolve("landmarks")
    if truth is not None and truth.suffix.lower() == ".csv":
        if landmarks is not None:
            raise CaseError(f"{lines.where(index, 'truth')}: give landmarks either as 'truth' or as 'landmarks'")
        truth, landmarks = None, truth
    entry = CaseEntry(
        name=name,
        fixed=resolve("fixed"),
        moving=resolve("moving"),
        fixed_mask=resolve("fixed_mask"),
        moving_mask=resolve("moving_mask"),
        initial_transform=resolve("initial_transform"),
        truth=truth,
        landmarks=landmarks,
        where=where,
    )
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CaseError(f"{lines.where(index, 'tags')}: 'tags' must be a list of strings")
    default = table.get("default", True)
    if not isinstance(default, bool):
        raise CaseError(f"{lines.where(index, 'default')}: 'default' must be true or false")
    case = Case(
        name,
        partial(load_entry, entry),
        setup,
        description=str(table.get("description") or f"{entry.fixed.name} ← {entry.moving.name} ({path.name})"),
        tags=("user", *tags),
        default=default,
        identity={"file": str(path), "inputs": _file_stats(entry)},
    )
    case.load()  # read and check everything now: a bad file is a usage error, not a failed run
    return case


def _file_stats(entry: CaseEntry) -> dict[str, Any]:
    """Path, size and modification time of every input (a directory: of each file in it), so an edited input
    changes the run key (checked like make does: no hashing of large images)."""
    out: dict[str, Any] = {}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if isinstance(value, Path) and value.exists():
            files = sorted(value.iterdir()) if value.is_dir() else [value]
            out[f.name] = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files if p.is_file()]
    return out


def parse_setup(table: dict[str, Any], where: str) -> Setup:
    """A :class:`Setup` from a TOML table; lists become tuples; a wrong key or type names the key."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in SETUP_KEYS:
            raise CaseError(f"{where}: unknown setup key {key!r}; valid keys: {', '.join(SETUP_KEYS)}")
        if key in _SEQUENCES:
            items = value if isinstance(value, list) else [value]
            kind = int if key in _INTEGERS else float
            if not items or not all(_is_number(v, kind) for v in items):
                raise CaseError(f"{where}: setup {key!r} must be a list of {kind.__name__}s, got {value!r}")
            values[key] = tuple(kind(v) for v in items)
        elif key in _INTEGERS:
            if not _is_number(value, int):
                raise CaseError(f"{where}: setup {key!r} must be an integer, got {value!r}")
            values[key] = int(value)
        else:
            if not isinstance(value, str):
                raise CaseError(f"{where}: setup {key!r} must be a string, got {value!r}")
            values[key] = value
    try:
        return Setup(**values)
    except CaseError as exc:
        raise CaseError(f"{where}: {exc}") from None


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


# -- reading and checking the files of one case -----------------------------------------------------------


def load_entry(entry: CaseEntry) -> CaseData:
    """Read the files of a case and check them against each other; messages name the file."""
    fixed = read_image(entry.fixed, "fixed image", entry.where)
    moving = read_image(entry.moving, "moving image", entry.where)
    dim = fixed.GetDimension()
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
        mask = read_image(file, key.replace("_", " "), entry.where, check_finite=False)
        if mask.GetDimension() != dim:
            raise CaseError(f"{entry.where}: {key} {file} is {mask.GetDimension()}D but the images are {dim}D")
        if not np.any(sitk.GetArrayViewFromImage(mask)):
            raise CaseError(f"{entry.where}: {key} {file} is empty (no non-zero pixel)")
        setattr(data, key, sitk.Cast(mask > 0, sitk.sitkUInt8))
    for key in ("initial_transform", "truth"):
        file = getattr(entry, key)
        if file is not None:
            setattr(data, key, read_transform(file, key.replace("_", " "), dim, entry.where))
    if entry.landmarks is not None:
        data.landmarks = read_landmarks(entry.landmarks, dim, entry.where)
    return data


def read_image(path: Path, what: str, where: str, check_finite: bool = True) -> sitk.Image:
    """A scalar image from a file SimpleITK reads, or from the DICOM series in a directory."""
    if path.is_dir():
        image = _read_dicom_series(path, what, where)
    elif not path.exists():
        raise CaseError(f"{where}: {what} {path} not found")
    else:
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise CaseError(f"{where}: cannot read {what} {path}: {_sitk_message(exc)}") from None
    if image.GetNumberOfComponentsPerPixel() > 1:
        image = sitk.VectorIndexSelectionCast(image, 0)  # e.g. 8-bit RGB PNGs of grey images
    if check_finite and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        bad = int((~np.isfinite(sitk.GetArrayViewFromImage(image))).sum())
        if bad:
            raise CaseError(f"{where}: {what} {path} has {bad} NaN or infinite pixels")
    return image


@contextmanager
def preserve_locale():
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
            message = f"{where}: cannot read the DICOM series of {what} {path}: {_sitk_message(exc)}"
            raise CaseError(message) from None


def read_transform(path: Path, what: str, dim: int, where: str) -> sitk.Transform:
    if not path.is_file():
        raise CaseError(f"{where}: {what} {path} not found")
    try:
        transform = sitk.ReadTransform(str(path))
    except RuntimeError as exc:
        raise CaseError(f"{where}: cannot read {what} {path} as a transform: {_sitk_message(exc)}") from None
    transform = transform.Downcast()
    if transform.GetDimension() != dim:
        raise CaseError(f"{where}: {what} {path} is a {transform.GetDimension()}D transform but the images are {dim}D")
    return transform


def read_landmarks(path: Path, dim: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Landmark pairs from a CSV: per row the fixed point's dim coordinates, then the moving point's.

    A first row that is not numeric is a header. Coordinates are physical (the images' units).
    """
    if not path.is_file():
        raise CaseError(f"{where}: landmarks {path} not found")
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


def _sitk_message(exc: Exception) -> str:
    text = str(exc)
    for marker in ("sitk::ERROR:", "ITK ERROR:"):
        if marker in text:
            text = text.split(marker, 1)[1]
    return " ".join(text.split())[:300]


class _Lines:
    """Where things are in the TOML text, for messages (tomllib reports lines only for syntax errors)."""

    _HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.starts = [i for i, line in enumerate(self.lines) if self._HEADER.match(line)]

    def where(self, index: int | None = None, key: str | None = None) -> str:
        """``file:line`` of case ``index``'s header, or of ``key`` inside it (or at top level)."""
        if index is None:
            start, end = 0, self.starts[0] if self.starts else len(self.lines)
        elif index < len(self.starts):
            start = self.starts[index]
            end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines)
        else:
            return str(self.path)
        line = start
        if key is not None:
            pattern = re.compile(rf"^\s*(\[\s*(case\.)?{re.escape(key)}\s*\]|{re.escape(key)}\s*=)")
            line = next((i for i in range(start, end) if pattern.match(self.lines[i])), start)
        return f"{self.path}:{line + 1}"
