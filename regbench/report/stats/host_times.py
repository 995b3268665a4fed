"""Run times across hosts: each run's wall time as a multiple of its host's reference time (``regbench calibrate``).

Seconds from two machines are not comparable: a slower CPU, another BLAS or a loaded host changes them. Where
the runs of a store come from several hosts, each run's wall time is divided by the calibration of its host (the
median ``Execute`` time of one fixed reference registration there, :mod:`regbench.runner.calibrate`): the
1-thread figure for a 1-thread run, the all-threads one for a run with more threads. A run whose host has no
suitable calibration gets NaN, and its host is named so the report can say what to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report.load.columns import Runs
from regbench.store.calibration import Calibration, calibrations, reference_for, run_threads
from regbench.store.sqlite import Store, StoreError


@dataclass(frozen=True)
class HostTimes:
    """The hosts of the runs, the calibrations used, the hosts (with runs) missing one, and per run its wall time
    ÷ its host's reference time (NaN where it has none)."""

    hosts: list[str]
    used: list[Calibration]
    uncalibrated: list[str]
    normalised: np.ndarray


def host_times(runs: Runs, store: str | None) -> HostTimes | None:
    """Normalised times of ``runs`` with the calibrations of ``store`` (a result store's path; None or another
    kind of file: no calibration); None when the runs name fewer than two hosts (seconds are comparable)."""
    names = runs["host"].tolist() if "host" in runs.columns else []
    hosts = sorted({str(h) for h in names if h is not None})
    if len(hosts) < 2:
        return None
    found: list[Calibration] = []
    threads: dict[str, int | None] = {}
    if store is not None:
        try:
            with Store.read_only(store) as db:
                found, threads = calibrations(db), run_threads(db)
        except StoreError:  # not a store (a JSON file of records): nothing is calibrated
            pass
    normalised = np.full(len(runs), np.nan)
    missing: set[str] = set()
    used: dict[tuple[str, int], Calibration] = {}
    for i, (key, host, wall) in enumerate(zip(runs["key"].tolist(), names, runs["wall_time_s"], strict=True)):
        if host is None:
            continue
        reference = reference_for(found, str(host), threads.get(str(key)))
        if reference is None:
            missing.add(str(host))
            continue
        used[reference.host, reference.threads] = reference
        normalised[i] = wall / reference.seconds
    return HostTimes(hosts, [used[k] for k in sorted(used)], sorted(missing), normalised)
