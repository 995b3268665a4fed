"""``regbench calibrate``'s measurement: a fixed reference registration timed on this host, with one ITK thread
and with every core this process may use, so that times from different hosts can be compared as multiples of it.

The reference is the built-in ``gd`` strategy on the built-in ``synth2d-affine`` case (a 2D affine, 140 iterations
over two pyramid levels, a tenth of a second on a laptop core): the same registration everywhere, small enough to
repeat. It runs in this process, once untimed (imports, the case's images, SimpleITK's first-call costs), then
``repeats`` times; the figure is the median of its ``Execute`` time. No trace position is kept, so nothing is
evaluated after each run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime, timezone

from regbench.plugin.manager import RegbenchPluginManager, make_plugin_manager
from regbench.run import default_threads, run_one
from regbench.store.calibration import Calibration, this_host
from regbench.trace import NO_POSITIONS
from regbench.util.host import load_average

REFERENCE_STRATEGY, REFERENCE_CASE, REFERENCE_SEED = "gd", "synth2d-affine", 0
REFERENCE_PARAMS = {"number_of_iterations": 200}
REFERENCE = f"{REFERENCE_STRATEGY} on {REFERENCE_CASE}, seed {REFERENCE_SEED}, number_of_iterations=200"
DEFAULT_REPEATS = 7


class CalibrationError(RuntimeError):
    """The reference registration cannot run here (its plugin is blocked or broken, or it failed)."""


def thread_counts() -> list[int]:
    """1 and every core this process may use (once on a 1-core machine)."""
    return sorted({1, default_threads()})


def calibrate(
    repeats: int = DEFAULT_REPEATS,
    threads: list[int] | None = None,
    pm: RegbenchPluginManager | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Calibration]:
    """Time the reference registration ``repeats`` times with each of ``threads`` ITK thread counts (default
    :func:`thread_counts`): one :class:`Calibration` per thread count, keyed by :func:`this_host`."""
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, not {repeats}")
    pm = pm or make_plugin_manager()
    try:
        strategy, case = pm.get_strategy(REFERENCE_STRATEGY), pm.get_case(REFERENCE_CASE)
    except Exception as exc:  # the plugin manager's own error names the missing plugin
        raise CalibrationError(f"the reference registration ({REFERENCE}) is not available: {exc}") from exc
    out = []
    for count in threads or thread_counts():
        if progress:
            progress(f"{count} thread{'s' if count > 1 else ''}: {repeats} runs of {REFERENCE}")
        load = load_average()
        runs = [
            run_one(strategy, case, REFERENCE_SEED, REFERENCE_PARAMS, threads=count, pm=pm, positions=NO_POSITIONS)
            for _ in range(repeats + 1)  # the first is a warm-up
        ][1:]
        failed = next((r for r in runs if r.status != "ok"), None)
        if failed is not None:
            raise CalibrationError(f"the reference registration ({REFERENCE}) failed: {failed.error}")
        times = [sum(segment.wall_time_s for segment in r.segments) for r in runs]
        walls = [r.wall_time_s for r in runs if r.wall_time_s is not None]
        out.append(
            Calibration(
                host=this_host(),
                threads=count,
                seconds=statistics.median(times),
                repeats=repeats,
                wall_s=statistics.median(walls) if walls else None,
                times=times,
                reference=REFERENCE,
                load_average=load,
                measured=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
    return out
