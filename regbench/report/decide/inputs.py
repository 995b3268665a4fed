"""What a recommendation is judged against: each case's tolerance in its physical units (``--tolerance``, or half
the smallest voxel spacing of its fixed image, recorded by every run) and the strategies registered as
demonstrations of a failure (shown, never recommended); and a case's data for the spread over seeds, found again
from the runs' records (:mod:`~regbench.report.load.case_of_run`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import numpy as np

from regbench.cases.case import CaseData
from regbench.evaluation.tolerance import registration_tolerance
from regbench.record import RunRecord
from regbench.report.load.case_of_run import CaseResolver
from regbench.report.load.columns import Runs
from regbench.report.stats.anytime_curves import INITIAL_OF

DEFAULT_TOLERANCE = 0.5  # where a case's spacing is unknown (no run recorded it and it cannot be loaded here)


def demonstrations() -> dict[str, str]:
    """Strategy name → what it demonstrates, for the strategies registered as demonstrations of a failure."""
    return dict(_demonstrations())


@lru_cache(maxsize=1)
def _demonstrations() -> tuple[tuple[str, str], ...]:
    from regbench.plugin.manager import make_plugin_manager

    try:
        pm = make_plugin_manager(strict=False)
        return tuple((n, what) for n, s in pm.strategies().items() if (what := getattr(s, "demonstrates", None)))
    except Exception:  # a report must not fail because a plugin does
        return ()


def starts_of(runs: Runs, error: str) -> np.ndarray:
    """Each run's ``error`` at the start (NaN where unknown)."""
    name = INITIAL_OF.get(error)  # the start of each error column (none exists for a p95 or a maximum)
    return runs[name].copy() if name is not None and name in runs.columns else np.full(len(runs), np.nan)


def case_tolerances(
    cases: Iterable[str],
    tolerance: float | None = None,
    *,
    runs: Runs | None = None,
    case_files: Sequence[str] = (),
    error: str = "error_mean",
) -> dict[str, tuple[float, str]]:
    """Per case: (tolerance, where it came from). ``tolerance`` given: that, for every case.

    Otherwise :func:`regbench.evaluation.tolerance.registration_tolerance`: the smaller of half the smallest voxel
    spacing of the case's fixed image (on anisotropic voxels the finest axis decides, docs/recommend.md) and a share of
    the median starting ``error`` of the case's runs, so that doing nothing never meets it. The spacing as a run of
    ``runs`` recorded it (``fixed_spacing``: from
    the store alone), else from the case found again as :mod:`~regbench.report.load.case_of_run` says (a registered
    case, a file of ``case_files``, the run's own case file), else :data:`DEFAULT_TOLERANCE`.
    """
    cases = list(cases)
    if tolerance is not None:
        return {case: (float(tolerance), "--tolerance") for case in cases}
    records = first_records(runs, cases) if runs is not None else {}
    resolver: CaseResolver | None = None
    out = {}
    for case in cases:
        record = records.get(case)
        start = _median_start(runs, case, error) if runs is not None else None
        spacing = record.fixed_spacing if record is not None else None
        if not spacing:
            resolver = resolver or CaseResolver(case_files=case_files)
            try:
                spacing = resolver.resolve(record or case).load().fixed.GetSpacing()
            except Exception:  # a report must not fail because a case cannot be loaded: the default, said so
                spacing = None
        if not spacing and start is None:
            out[case] = (DEFAULT_TOLERANCE, "case not loadable here: default")
            continue
        value, rule = registration_tolerance(spacing, start)
        out[case] = (value, rule + ("" if spacing else "; the case's spacing is unknown here"))
    return out


def _median_start(runs: Runs, case: str, error: str) -> float | None:
    """The median starting error of ``case``'s runs (None where no run knows it)."""
    mine = runs["case"] == case
    values = starts_of(runs, error)[mine]
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def case_loader(runs: Runs | None = None, case_files: Sequence[str] = ()) -> Callable[[str], CaseData | None]:
    """A case's data by name (for the spread over seeds), found again from a run of ``runs`` on it (its case file
    and digest) or ``case_files`` as :mod:`~regbench.report.load.case_of_run` says; None where it cannot be loaded
    here."""
    resolver: CaseResolver | None = None
    loaded: dict[str, CaseData | None] = {}

    def load(name: str) -> CaseData | None:
        nonlocal resolver
        if name not in loaded:
            resolver = resolver or CaseResolver(case_files=case_files)
            record = first_records(runs, [name]).get(name) if runs is not None else None
            try:
                loaded[name] = resolver.resolve(record or name).load()
            except Exception:  # a report must not fail because a case cannot be loaded: no spread then
                loaded[name] = None
        return loaded[name]

    return load


def first_records(runs: Runs, cases: Iterable[str]) -> dict[str, RunRecord]:
    """Per case of ``cases``, the full record of its first run in ``runs`` (where the source holds records)."""
    names = runs["case"].astype(str)
    keys = {}
    for case in cases:
        index = np.flatnonzero(names == case)
        if index.size:
            keys[case] = str(runs["key"][index[0]])
    found = {record.key: record for record in runs.records(list(keys.values()))}
    return {case: found[key] for case, key in keys.items() if key in found}
