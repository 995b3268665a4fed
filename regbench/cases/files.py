"""User cases from a TOML file (``regbench run --cases my.toml``); see docs/cases.md for the format.

This module reads the file and builds a :class:`~regbench.cases.case.Case` from each ``[[case]]`` (its keys, paths,
tags and input digests); the ``[setup]`` values are parsed by :mod:`regbench.cases.setup_tables`, the input files read
and checked by :mod:`regbench.cases.inputs`.

Every problem is found when the file is loaded, not in the middle of a benchmark: each image is read and
checked, and a bad input raises :class:`~regbench.cases.case.CaseError` naming the file (and the TOML line) and
what is wrong.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from regbench.cases.case import Case, CaseError
from regbench.cases.inputs import CaseEntry, load_entry
from regbench.cases.setup_tables import parse_setup, parse_table
from regbench.cases.simulation import Simulation
from regbench.util.provenance import name_problem
from regbench.util.safe_files import file_problem, parse_nested, resolved
from regbench.util.toml_lines import RUN_FILE_KEYS, TomlLines, read_toml_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASE_KEYS = {
    "name": "a unique name (required)",
    "fixed": "fixed image file or DICOM directory (required)",
    "moving": "moving image file or DICOM directory (required)",
    "fixed_mask": "mask over the fixed image (metric and foreground errors)",
    "moving_mask": "mask over the moving image (metric)",
    "initial_transform": "transform file where every strategy starts (fixed → moving)",
    "truth": "transform file mapping fixed to moving points, or a CSV of landmark pairs",
    "landmarks": "CSV of landmark pairs: fixed point then moving point per row",
    "fixed_labels": "integer label image (segmentation) on the fixed image's grid: Dice and HD95",
    "moving_labels": "integer label image on the moving image's grid, the same label values (with fixed_labels)",
    "description": "one line for `regbench list`",
    "tags": "list of strings",
    "default": "part of the default selection (true unless said otherwise)",
    "setup": "table of registration settings (transform, metric, sampling, pyramid, interpolator)",
    "inverse_consistency": "also run every strategy moving onto fixed and measure T_bwd ∘ T_fwd (twice the work)",
    "simulate": "table: also register '<name>-sim', simulated deformations of the fixed image with an exact truth",
}
TOP_KEYS = ("setup", "case")


def load_case_file(path: str | os.PathLike) -> list[Case]:
    """The cases a TOML file describes, each loaded and checked. Raises :class:`CaseError` on bad input."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:  # before opening it: a FIFO would block
        raise CaseError(f"{path}: case file {problem}")
    try:
        text = read_toml_text(path)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CaseError(f"{path}:{line}: cannot read the case file: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot read the case file: {exc}") from None
    try:
        document = parse_nested(tomllib.loads, text, "the case file")
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: TOML syntax error: {exc}") from None
    except ValueError as exc:  # nested too deeply
        raise CaseError(f"{path}: {exc}") from None
    lines = _Lines(path, text)
    unknown = sorted(set(document) - set(TOP_KEYS))
    if "case" not in document and (run_keys := [key for key in unknown if key in RUN_FILE_KEYS]):
        raise CaseError(
            f"{lines.where(key=run_keys[0])}: this is a run file (it sets {run_keys[0]!r}), not a case file: a case "
            f"file holds [[case]] tables; give a run file as `regbench run --config {path}`"
        )
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
        for one in (case, *_simulated(lines, index, table, case)):
            if one.name in seen:
                raise CaseError(
                    f"{lines.where(index)}: case name {one.name!r} is used twice (first at {seen[one.name]})"
                )
            seen[one.name] = lines.where(index)
            cases.append(one)
    return cases


def _simulated(lines: _Lines, index: int, table: dict, case: Case) -> list[Case]:
    """The companion case of simulated instances that a ``simulate`` table asks for (none without one), its first
    instance built now: a bad key, value or B-spline magnitude is a usage error naming its line."""
    if "simulate" not in table:
        return []
    where = lines.where(index, "simulate")
    if not isinstance(table["simulate"], dict):
        raise CaseError(f"{where}: 'simulate' must be a table ([case.simulate])")
    spec = table["simulate"]
    simulation = parse_table(
        Simulation, "simulate", spec, where, lambda key: lines.where(index, key), value_errors_at_key=True
    )
    try:
        companion = case.simulated(simulation)
        companion.load()
    except CaseError as exc:
        message = str(exc)
        key = message.removeprefix("simulate: ").split(" ", 1)[0]
        place = lines.where(index, key) if message.startswith("simulate: ") and key in spec else where
        raise CaseError(f"{place}: case {case.name!r}: {message}") from None
    return [companion]


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
    # checked here, with the line: registration would name only the file (the case file is the "plugin")
    for checked in (name, f"{name}-sim") if "simulate" in table else (name,):
        if problem := name_problem(checked, "case"):
            raise CaseError(f"{lines.where(index, 'name')}: {problem}")
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

    def path_at(key: str) -> Path:
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise CaseError(f"{lines.where(index, key)}: {key!r} must be a path (a non-empty string)")
        return resolved(base / os.path.expanduser(value))

    def resolve(key: str) -> Path | None:
        return None if table.get(key) is None else path_at(key)

    truth, landmarks = resolve("truth"), resolve("landmarks")
    if truth is not None and truth.suffix.lower() == ".csv":
        if landmarks is not None:
            raise CaseError(f"{lines.where(index, 'truth')}: give landmarks either as 'truth' or as 'landmarks'")
        truth, landmarks = None, truth
    entry = CaseEntry(
        name=name,
        fixed=path_at("fixed"),  # required: checked above
        moving=path_at("moving"),
        fixed_mask=resolve("fixed_mask"),
        moving_mask=resolve("moving_mask"),
        initial_transform=resolve("initial_transform"),
        truth=truth,
        landmarks=landmarks,
        fixed_labels=resolve("fixed_labels"),
        moving_labels=resolve("moving_labels"),
        where=where,
        places=tuple(
            (key, f"{lines.where(index, key)}: case {name!r}")
            for key in (
                "fixed",
                "moving",
                "fixed_mask",
                "moving_mask",
                "initial_transform",
                "truth",
                "landmarks",
                "fixed_labels",
                "moving_labels",
            )
            if key in table
        ),
    )
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CaseError(f"{lines.where(index, 'tags')}: 'tags' must be a list of strings")
    default, inverse = table.get("default", True), table.get("inverse_consistency", False)
    for key, value in (("default", default), ("inverse_consistency", inverse)):
        if not isinstance(value, bool):
            raise CaseError(f"{lines.where(index, key)}: {key!r} must be true or false, got {value!r}")
    case = Case(
        name,
        partial(load_entry, entry),
        setup,
        description=str(table.get("description") or f"{entry.fixed.name} ← {entry.moving.name} ({path.name})"),
        tags=("user", *tags),
        default=default,
        identity={"inputs": _file_digests(entry, base)},
        inverse_consistency=inverse,
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
