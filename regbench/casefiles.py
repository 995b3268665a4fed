"""User cases from a TOML file (``regbench run --cases my.toml``); see docs/cases.md for the format.

Every problem is found when the file is loaded, not in the middle of a benchmark: each image is read and
checked, and a bad input raises :class:`~regbench.cases.CaseError` naming the file (and the TOML line) and
what is wrong.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import locale
import math
import os
import re
import struct
import types
import typing
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases import Case, CaseData, CaseError, Setup
from regbench.itktext import without_addresses
from regbench.tomllines import TomlLines

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
#: Each setup key's type, read from :class:`Setup`'s annotations: a new field parses by its type with no edit here.
SETUP_TYPES: dict[str, Any] = typing.get_type_hints(Setup)


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
    places: tuple[tuple[str, str], ...] = ()  # (key, "file:line: case 'name'") of each key given

    def at(self, key: str) -> str:
        """``file:line: case 'name'`` of ``key``'s line (else of the case's header), to prefix messages."""
        return dict(self.places).get(key, self.where)


def load_case_file(path: str | os.PathLike) -> list[Case]:
    """The cases a TOML file describes, each loaded and checked. Raises :class:`CaseError` on bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(f"{path}: case file not found") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CaseError(f"{path}:{line}: cannot read the case file: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
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
    setup = parse_setup(
        {**defaults, **setup_table},
        lines.where(index, "setup"),
        locate=lambda key: lines.where(index, key) if key in setup_table else lines.where(None, key),
    )
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
        places=tuple(
            (key, f"{lines.where(index, key)}: case {name!r}")
            for key in ("fixed", "moving", "fixed_mask", "moving_mask", "initial_transform", "truth", "landmarks")
            if key in table
        ),
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
        identity={"inputs": _file_digests(entry, base)},
    )
    try:
        case.load()  # read and check everything now: a bad file is a usage error, not a failed run
    except CaseError as exc:
        message, prefix = str(exc), f"case {name!r}: "
        if not message.startswith(prefix):
            raise
        rest = message[len(prefix) :]
        key = rest.split(" ", 1)[0]  # "fixed image ...", "fixed_mask ...", "truth ..."
        place = entry.at(key) if key in CASE_KEYS else where
        raise CaseError(f"{place}: {rest}") from None
    return case


def _file_digests(entry: CaseEntry, base: Path) -> dict[str, Any]:
    """Every input's path relative to the case file and a SHA-256 of its bytes (a directory: of each file in
    it), so an edited input changes the run key while a touched input (``touch``), or a copied or moved project
    (``cp -a``, another absolute path), keeps it: keys follow content, never modification times or where the
    project lies."""
    out: dict[str, Any] = {}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if isinstance(value, Path) and value.exists():
            files = sorted(value.iterdir()) if value.is_dir() else [value]
            out[f.name] = [[_relative(p, base), p.stat().st_size, _sha256(p)] for p in files if p.is_file()]
    return out


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """The file's SHA-256, remembered per (path, size, mtime) within the process (a case file is read by the
    runner and again by each worker)."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        _DIGESTS[memo] = digest.hexdigest()
    return _DIGESTS[memo]


def parse_setup(table: dict[str, Any], where: str, locate: Callable[[str], str] | None = None) -> Setup:
    """A :class:`Setup` from a TOML table: every value is checked against the type of its :class:`Setup` field
    (lists become tuples; one value where a list is expected is a list of one). A wrong key or type raises a
    :class:`CaseError` naming the place (``locate(key)``, else ``where``), the key and the expected type."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        place = locate(key) if locate is not None else where
        if key not in SETUP_KEYS:
            raise CaseError(f"{place}: unknown setup key {key!r}; valid keys: {', '.join(SETUP_KEYS)}")
        hint = SETUP_TYPES[key]
        try:
            values[key] = convert(value, hint)
        except _WrongType:
            kind = "" if isinstance(value, list) else f" ({_toml_type(value)})"
            raise CaseError(
                f"{place}: setup {key!r} must be {describe_type(hint)}, got {_toml_repr(value)}{kind}"
            ) from None
    try:
        return Setup(**values)
    except CaseError as exc:
        raise CaseError(f"{where}: {exc}") from None


class _WrongType(Exception):
    pass


def _unwrap_optional(hint: Any) -> Any:
    """``X | None`` → ``X`` (TOML has no null: an optional field is given by its value, or left out)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def convert(value: Any, hint: Any) -> Any:
    """``value`` (as TOML gives it) as the type ``hint`` names: str, bool, int, float (an int is accepted),
    ``tuple[X, ...]`` (a list, or one value), ``tuple[X, Y]`` (a list of that length), ``Literal[...]``, and
    ``X | None``. Raises :class:`_WrongType` when it does not fit, :class:`TypeError` for a type this parser
    does not know (a new kind of Setup field: teach it here)."""
    hint = _unwrap_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        items = value if isinstance(value, list) else [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0]) for v in items)
        if len(items) != len(args):
            raise _WrongType
        return tuple(convert(v, a) for v, a in zip(items, args, strict=True))
    if origin is typing.Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise _WrongType
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _WrongType
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _WrongType
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _WrongType
    if hint is str:
        if isinstance(value, str):
            return value
        raise _WrongType
    raise TypeError(f"casefiles cannot parse a setup field of type {hint!r}")


# How a type reads in messages: one value, a list of them, and one of a list.
_NAMES = {
    str: ("a string", "strings", "string"),
    bool: ("true or false", "booleans", "boolean"),
    int: ("an integer", "integers", "integer"),
    float: ("a finite number", "finite numbers", "number"),
}


def describe_type(hint: Any) -> str:
    """What a value of type ``hint`` looks like in TOML, for messages: 'a list of integers', 'a finite number'."""
    hint = _unwrap_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] in _NAMES:
                _, many, single = _NAMES[args[0]]
                return f"a list of {many} (or one {single})"
            return f"a list of values, each {describe_type(args[0])}"
        return f"a list of {len(args)} values ({', '.join(describe_type(a) for a in args)})"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint in _NAMES:
        return _NAMES[hint][0]
    return getattr(hint, "__name__", repr(hint))


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float" if math.isfinite(value) else "not finite"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__  # dates and times


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_repr(v) for v in value) + "]"
    return repr(value)


# -- reading and checking the files of one case -----------------------------------------------------------


def load_entry(entry: CaseEntry) -> CaseData:
    """Read the files of a case and check them against each other; messages name the file."""
    fixed = read_image(entry.fixed, "fixed image", entry.at("fixed"))
    moving = read_image(entry.moving, "moving image", entry.at("moving"))
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
        mask = read_image(file, key.replace("_", " "), entry.at(key), check_finite=False)
        if mask.GetDimension() != dim:
            raise CaseError(f"{entry.at(key)}: {key} {file} is {mask.GetDimension()}D but the images are {dim}D")
        if not np.any(sitk.GetArrayViewFromImage(mask)):
            raise CaseError(f"{entry.at(key)}: {key} {file} is empty (no non-zero pixel)")
        setattr(data, key, sitk.Cast(mask > 0, sitk.sitkUInt8))
    for key in ("initial_transform", "truth"):
        file = getattr(entry, key)
        if file is not None:
            setattr(data, key, read_transform(file, key.replace("_", " "), dim, entry.at(key)))
    if entry.landmarks is not None:
        data.landmarks = read_landmarks(entry.landmarks, dim, entry.at("landmarks"))
    return data


def read_image(path: Path, what: str, where: str, check_finite: bool = True) -> sitk.Image:
    """A scalar image from a file SimpleITK reads, or from the DICOM series in a directory."""
    if path.is_dir():
        image = _read_dicom_series(path, what, where)
    elif not path.exists():
        raise CaseError(f"{where}: {what} {path} not found")
    else:
        _check_complete(path, what, where)
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            message = _sitk_message(exc)
            if "No such file or directory" in message:  # ITK's words for a file it could not read to the end
                message = "the file is truncated or corrupt (its data ends before the header says it should)"
            raise CaseError(f"{where}: cannot read {what} {path}: {message}") from None
    if image.GetNumberOfComponentsPerPixel() > 1:
        image = sitk.VectorIndexSelectionCast(image, 0)  # e.g. 8-bit RGB PNGs of grey images
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
        raise CaseError(f"{where}: cannot read {what} {path}: {_sitk_message(exc)}") from None
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
    text = without_addresses(text)
    return " ".join(text.split())[:300]


class _Lines:
    """Where things are in a case file, for messages: its top level, then one region per ``[[case]]``."""

    _HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")

    def __init__(self, path: Path, text: str) -> None:
        self.toml = TomlLines(path, text)
        self.starts = self.toml.matching(self._HEADER)

    def where(self, index: int | None = None, key: str | None = None) -> str:
        """``file:line`` of case ``index``'s header, or of ``key`` inside it (or at top level)."""
        ends = [*self.starts, len(self.toml.lines)]
        if index is None:
            start, end = 0, ends[0]
        elif index < len(self.starts):
            start, end = self.starts[index], ends[index + 1]
        else:
            return self.toml.at(None)
        line = self.toml.key(key, start, end) if key is not None else None
        return self.toml.at(start if line is None else line)
