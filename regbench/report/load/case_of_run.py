"""The case a stored run was run on, found again after the run: for ``show --images/--resample``, the HTML
report's pictures, the recommendation's tolerance and ``audit``.

A run records where its case came from (docs/cases.md, "After the run"): ``provenance["case_digest"]``, a SHA-256 of
the case's definition (:meth:`regbench.cases.case.Case.fingerprint`: its setup, and for a case file every input's path
relative to the file, size and SHA-256), and for a case from a TOML file ``provenance["case_file"]`` (relative to
the directory the run was started in, as a user types it) and ``provenance["case_file_abs"]`` (absolute, for a
report made from another directory). :class:`CaseResolver` looks, in this order:

1. a registered (plugin) case of that name, for a run that did not come from a case file;
2. the case files given (``--cases FILE``, repeatable);
3. the run's own case file: its recorded path relative to the working directory, then its absolute path.

A case read from a file is used only when its digest is the run's (a run recorded before digests were: any), so a
picture or a tolerance never comes from another problem than the one the run solved. When nothing fits,
:class:`~regbench.cases.case.CaseError` says why, precisely: the file is not there any more, it no longer defines the
case, or it has changed since the run; the command line turns that into a usage error (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from regbench.cases.case import Case, CaseError, case_digest
from regbench.record import RunRecord

if TYPE_CHECKING:
    from regbench.plugin.manager import RegbenchPluginManager

#: Provenance keys a run's record keeps about its case (see the module's docstring).
CASE_FILE, CASE_FILE_ABS, CASE_DIGEST = "case_file", "case_file_abs", "case_digest"

_CHANGED = "its setup or an input file's content differs"


class CaseResolver:
    """Finds the cases of stored runs (or cases by name), reading each case file once.

    ``pm`` gives the registered cases (default: a fresh plugin manager, made when first needed); ``case_files`` are
    the files given with ``--cases``: each is read at once, so a bad one is a :class:`CaseError` naming it.
    """

    def __init__(self, pm: RegbenchPluginManager | None = None, case_files: Sequence[str | os.PathLike] = ()) -> None:
        self._pm = pm
        self._files: dict[Path, dict[str, Case] | CaseError] = {}
        self.given: dict[Path, dict[str, Case]] = {}  # the --cases files' cases by name, per file
        for path in map(Path, case_files):
            found = self._read(path)
            if isinstance(found, CaseError):
                raise found
            self.given[path] = found

    @property
    def pm(self) -> RegbenchPluginManager:
        if self._pm is None:
            from regbench.plugin.manager import make_plugin_manager

            self._pm = make_plugin_manager(strict=False)
        return self._pm

    def resolve(self, record_or_name: RunRecord | str) -> Case:
        """The case of a run (its instance for the run's seed, where the case has per-seed instances), or the case
        of that name. Raises :class:`CaseError` saying why it cannot be found."""
        record = record_or_name if isinstance(record_or_name, RunRecord) else None
        name = record.case if record is not None else str(record_or_name)
        provenance = (record.provenance if record is not None else None) or {}
        recorded = provenance.get(CASE_FILE) if isinstance(provenance.get(CASE_FILE), str) else None
        digest = provenance.get(CASE_DIGEST) if isinstance(provenance.get(CASE_DIGEST), str) else None
        if not recorded:
            registered = self.pm.cases().get(name)
            if registered is not None:
                return _instance(registered, record)
        reasons = []
        for path, cases in self.given.items():
            case = cases.get(name)
            if case is None:
                continue
            if digest and case_digest(case) != digest:
                reasons.append(f"--cases {path}: its case {name!r} is not the one the run used ({_CHANGED})")
                continue
            return _instance(case, record)
        if record is None:  # a name: registered, or defined by a --cases file
            files = f" and no --cases file defines it ({', '.join(map(str, self.given))})" if self.given else ""
            raise CaseError(
                f"unknown case {name!r}: no plugin registers it{files}; pass its TOML case file with --cases"
            )
        if self.given and not reasons:
            reasons.append(f"no --cases file defines case {name!r} ({', '.join(map(str, self.given))})")
        if recorded:
            case, reason = self._recorded(name, recorded, provenance.get(CASE_FILE_ABS), digest)
            if case is not None:
                return _instance(case, record)
            reasons.append(reason)
        elif not self.given:
            reasons.append(
                f"case {name!r} is not registered here and the run recorded no case file: if it comes from a TOML "
                "case file, pass it with --cases FILE"
            )
        raise CaseError("; ".join(reasons))

    def given_cases(self) -> dict[str, Case]:
        """The cases of the ``--cases`` files by name, in the files' order."""
        return {name: case for cases in self.given.values() for name, case in cases.items()}

    def _recorded(self, name: str, shown: str, absolute: object, digest: str | None) -> tuple[Case | None, str]:
        """The case from the run's own case file (relative to the working directory, then absolute), or why not."""
        places = [Path(shown)] + ([Path(absolute)] if isinstance(absolute, str) and absolute else [])
        existing: dict[Path, Path] = {}  # the same file by both paths is read once
        for place in places:
            if place.is_file():
                existing.setdefault(place.resolve(), place)
        if not existing:
            moved = len(places) > 1 and os.path.abspath(places[1]) != os.path.abspath(shown)
            when = f" ({absolute} when it ran)" if moved else ""
            return None, (
                f"case {name!r} came from {shown}{when}, which is not there any more: pass the case file with "
                "--cases FILE"
            )
        problems = []
        for path in existing.values():
            cases = self._read(path)
            if isinstance(cases, CaseError):
                problems.append(f"the run's case file cannot be read: {cases}")
            elif name not in cases:
                defines = ", ".join(sorted(cases)) or "no case"
                problems.append(
                    f"{path} no longer defines case {name!r} (it defines {defines}): pass the file the run used with "
                    "--cases FILE, or rerun"
                )
            elif digest and case_digest(cases[name]) != digest:
                problems.append(
                    f"{path} has changed since the run (its case {name!r} now has another definition: {_CHANGED}): "
                    "pass the file the run used with --cases FILE, or rerun"
                )
            else:
                return cases[name], ""
        return None, "; ".join(problems)

    def _read(self, path: Path) -> dict[str, Case] | CaseError:
        """The cases of one file by name (read once), or the error reading it."""
        key = path.resolve()
        if key not in self._files:
            from regbench.cases.files import load_case_file

            try:
                self._files[key] = {case.name: case for case in load_case_file(path)}
            except CaseError as exc:
                self._files[key] = exc
        return self._files[key]


def resolve_case(
    record_or_name: RunRecord | str,
    pm: RegbenchPluginManager | None = None,
    case_files: Sequence[str | os.PathLike] = (),
) -> Case:
    """The case of a stored run, or of a name (:class:`CaseResolver`, for one look-up)."""
    return CaseResolver(pm, case_files).resolve(record_or_name)


def _instance(case: Case, record: RunRecord | None) -> Case:
    """The case a run with the record's seed solved: a case with per-seed instances (simulated ones) gives its
    instance for that seed."""
    for_seed = getattr(case, "for_seed", None)
    return for_seed(record.seed) if record is not None and callable(for_seed) else case
