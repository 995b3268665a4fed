"""Where the runs of a store ran, and which run keys gave different records on different hosts.

A record says where it ran (``record.host``: :mod:`regbench.util.host`). A store with one host says nothing more
here; one whose runs come from several (a merged store, ``regbench merge``, or a Dask cluster of several machines)
gets :func:`hosts` (one row per host: its facts, runs and load) and :func:`host_drift`: the run keys run on more
than one host whose records differ, and by how much. Same key means same inputs, threads and software, so a
difference is the machine's: its CPU, its BLAS, a thread setting (the same seed on one thread giving different
results on different computers is a known report, ANTsPy#707).

Records of one key are grouped by ``run_key`` (a merged repeat's run key, else its own key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from regbench.report.load.columns import Runs

#: The accuracy figure compared, first one a run has: truth error, then landmark TRE.
ERROR_COLUMNS = ("error_mean", "tre_mean")
#: The metric compared: the dense one (the same measurement on every host), else SimpleITK's reported one.
METRIC_COLUMNS = ("final_metric_dense", "final_metric")


@dataclass(frozen=True)
class Host:
    """One host of a store: how many of its runs ran there, the median 1-minute load at their start, and the facts
    one of its records gives (name, cpu, cores, memory_gb, os, python, blas, thread_env...)."""

    name: str
    runs: int
    load_start: float | None
    facts: dict[str, Any]


@dataclass(frozen=True)
class Drift:
    """A run key whose records differ between hosts: how far apart they are (max − min over its records; None
    where no record has the figure). ``transform_diff`` is the largest absolute difference of any transform
    parameter; None with ``transform_note`` saying why when the transforms cannot be compared (other types)."""

    run_key: str
    strategy: str
    case: str
    seed: int
    hosts: tuple[str, ...]
    records: int
    statuses: tuple[str, ...]
    transform_diff: float | None
    transform_note: str | None
    error: str | None  # which error column is compared
    error_diff: float | None
    metric: str | None
    metric_diff: float | None


def host_names(runs: Runs) -> list[str]:
    """The distinct hosts of ``runs`` that records name, sorted; runs recorded without a host are not one."""
    if "host" not in runs.columns:
        return []
    return sorted({str(h) for h in runs["host"].tolist() if h is not None})


def hosts(runs: Runs) -> list[Host]:
    """One :class:`Host` per host of ``runs``, sorted by name (one full record read per host, for its facts)."""
    out = []
    names = runs["host"].tolist()
    for name in host_names(runs):
        index = [i for i, h in enumerate(names) if h == name]
        loads = runs["load_start"][index]
        loads = loads[np.isfinite(loads)]
        first = runs.records([str(runs["key"][index[0]])])
        facts = dict(first[0].host or {}) if first else {}
        out.append(Host(name, len(index), float(np.median(loads)) if loads.size else None, facts))
    return out


def host_drift(runs: Runs) -> list[Drift]:
    """Every run key run on more than one host whose records differ (status, transform, error or metric), sorted
    by strategy, case, seed; full records are read only for keys run on several hosts."""
    groups: dict[str, list[int]] = {}
    for i, (run_key, host) in enumerate(zip(runs["run_key"].tolist(), runs["host"].tolist(), strict=True)):
        if run_key is not None and host is not None:
            groups.setdefault(str(run_key), []).append(i)
    shared = {k: rows for k, rows in groups.items() if len({runs["host"][i] for i in rows}) > 1}
    if not shared:
        return []
    keys = [str(runs["key"][i]) for rows in shared.values() for i in rows]
    transforms = {r.key: r.transform for r in runs.records(keys)}
    out = []
    for run_key, rows in shared.items():
        drift = _drift(runs, run_key, rows, [transforms.get(str(runs["key"][i])) for i in rows])
        if drift is not None:
            out.append(drift)
    return sorted(out, key=lambda d: (d.strategy, d.case, d.seed, d.run_key))


def _drift(runs: Runs, run_key: str, rows: list[int], transforms: Sequence[Any]) -> Drift | None:
    statuses = tuple(str(runs["status"][i]) for i in rows)
    diff, note = transform_distance(transforms)
    error, error_diff = _spread(runs, ERROR_COLUMNS, rows)
    metric, metric_diff = _spread(runs, METRIC_COLUMNS, rows)
    if len(set(statuses)) == 1 and note is None and not diff and not error_diff and not metric_diff:
        return None  # the same result (records that differ only elsewhere: notes, a case file's place)
    first = rows[0]
    return Drift(
        run_key=run_key,
        strategy=str(runs["strategy"][first]),
        case=str(runs["case"][first]),
        seed=int(runs["seed"][first]),
        hosts=tuple(sorted({str(runs["host"][i]) for i in rows})),
        records=len(rows),
        statuses=statuses,
        transform_diff=diff,
        transform_note=note,
        error=error,
        error_diff=error_diff,
        metric=metric,
        metric_diff=metric_diff,
    )


def _spread(runs: Runs, columns: Sequence[str], rows: list[int]) -> tuple[str | None, float | None]:
    """The first of ``columns`` some of ``rows`` have, and its max − min over them."""
    for name in columns:
        if name not in runs.columns:
            continue
        values = runs[name][rows]
        values = values[np.isfinite(values)]
        if values.size:
            return name, float(values.max() - values.min())
    return None, None


def transform_distance(transforms: Sequence[Any]) -> tuple[float | None, str | None]:
    """The largest absolute difference of any parameter (fixed parameters included) between the first transform and
    each other one (JSON dicts of :func:`regbench.util.transforms.transform_to_dict`); (None, why) when they
    cannot be compared: a run without one, or transforms of other types or sizes."""
    if any(t is None for t in transforms):
        return None, "a record has no transform" if any(t is not None for t in transforms) else None
    flat = [_flatten(t) for t in transforms]
    if len({shape for shape, _ in flat}) > 1:
        return None, "transforms of different types"
    first = np.asarray(flat[0][1], dtype=float)
    largest = 0.0
    for _, values in flat[1:]:
        other = np.asarray(values, dtype=float)
        if first.size:
            largest = max(largest, float(np.max(np.abs(other - first))))
    return largest, None


def _flatten(transform: dict[str, Any]) -> tuple[tuple[Any, ...], list[float]]:
    """(types and sizes, every parameter) of a transform dict, composites in order."""
    parts = transform.get("transforms")
    if isinstance(parts, list):
        flat = [_flatten(p) for p in parts]
        return (transform.get("type"), *(shape for shape, _ in flat)), [v for _, vs in flat for v in vs]
    values = [*(transform.get("parameters") or []), *(transform.get("fixed_parameters") or [])]
    return (transform.get("type"), len(transform.get("parameters") or []), len(values)), [
        float("nan") if v is None else v for v in values
    ]
