"""Stability audit: does a setup's outcome change under noise the user did not mean to vary?

Per strategy × case, the audit runs the registration again under each source of noise, one at a time, each on
the key ``regbench run`` runs by default (:data:`~regbench.run.DEFAULT_THREADS`, one ITK thread) so that no
source mixes in another's noise:

* ``repeat``: the same run key (seed 0) several times: a deterministic setup gives copies, so any difference
  is the strategy's or the engine's own nondeterminism;
* ``threads``: seed 0 once per ITK thread count asked for, the only source run on other thread counts: the
  change of count (every metric's last digits) and, with a count above one, thread-order noise (Mattes MI sums
  its joint histogram in thread order, reference §5; a count given twice repeats that key);
* ``sampling``: seeds 1…K with the start's jitter removed, so only the metric's sampling seed (and a random
  strategy's seed) changes; a dense metric gives copies;
* ``perturbation``: seeds 1…K with the start misaligned by a small seeded shift (``perturbation`` physical
  units, standard deviation per axis); for a sampled metric the sampling seed changes with it.

For each source it reports the spread of the error against the truth (max − min of ``error_mean``), the spread
of the returned transform (the largest mean distance, over the fixed image's grid, between a run's returned
mapping and the source's first one; physical units), the outcomes seen and the thread counts run. A source is
*identical* when every returned transform is bit-identical, *unstable* when a spread exceeds ``tolerance``
(physical units) or the outcome changes, else *stable*. A setup is flagged when any source is unstable; it is
*reproducible* when its ``repeat`` source is identical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case
from regbench.evaluation.measures import displacement
from regbench.evaluation.outcomes import succeeded
from regbench.run import DEFAULT_THREADS, run_one
from regbench.util.transforms import transform_from_dict

if TYPE_CHECKING:
    from regbench.plugin.manager import RegbenchPluginManager
    from regbench.record import RunRecord

SOURCES = ("repeat", "threads", "sampling", "perturbation")


@dataclass
class SourceSpread:
    source: str
    runs: int
    error_spread: float | None  # max − min of error_mean (physical units); None without truth
    error_min: float | None
    error_max: float | None
    transform_spread: float | None  # largest mean distance to the first run's mapping (physical units)
    outcomes: list[str]
    identical: bool
    unstable: bool
    errors: list[str] = field(default_factory=list)  # runs that raised
    threads: list[int] = field(default_factory=list)  # the ITK thread counts its runs used

    @property
    def verdict(self) -> str:
        return "unstable" if self.unstable else "identical" if self.identical else "stable"


@dataclass
class AuditResult:
    strategy: str
    case: str
    tolerance: float
    sources: list[SourceSpread]

    @property
    def flagged(self) -> bool:
        return any(s.unstable for s in self.sources)

    @property
    def reproducible(self) -> bool | None:
        repeat = next((s for s in self.sources if s.source == "repeat"), None)
        return None if repeat is None else repeat.identical

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "case": self.case,
            "tolerance": self.tolerance,
            "flagged": self.flagged,
            "reproducible": self.reproducible,
            "sources": [{**dataclasses.asdict(s), "verdict": s.verdict} for s in self.sources],
        }


def _variant(case: Case, **setup_changes: Any) -> Case:
    if not setup_changes:
        return case
    # replace keeps everything else, a simulated case's simulation included (its loader gives the source pair)
    return dataclasses.replace(case, setup=dataclasses.replace(case.setup, **setup_changes))


def _no_jitter(case: Case) -> dict[str, float]:
    return {"initial_jitter": 0.0, "initial_jitter_angle": 0.0, "initial_jitter_scale": 0.0}


def _plan(
    case: Case, seeds: int, threads: tuple[int, ...], repeats: int, perturbation: float, sources: tuple[str, ...]
) -> list[tuple[str, Case, int, int]]:
    """(source, case variant, seed, threads) for every run of the audit: only the ``threads`` source leaves the
    default thread count."""
    key = DEFAULT_THREADS
    plan: list[tuple[str, Case, int, int]] = []
    quiet = _variant(case, **_no_jitter(case))
    if "repeat" in sources:
        plan += [("repeat", quiet, 0, key)] * repeats
    if "threads" in sources:
        plan += [("threads", quiet, 0, t) for t in threads]
    if "sampling" in sources:
        plan += [("sampling", quiet, s, key) for s in range(1, seeds + 1)]
    if "perturbation" in sources and perturbation > 0:
        shaken = _variant(case, **{**_no_jitter(case), "initial_jitter": float(perturbation)})
        plan += [("perturbation", shaken, s, key) for s in range(1, seeds + 1)]
    return plan


def _spread(source: str, records: list[RunRecord], reference: sitk.Image, tolerance: float) -> SourceSpread:
    ok = [r for r in records if r.transform is not None]
    errors = [r.error for r in records if r.error]
    values = [r.error_mean for r in ok if r.error_mean is not None]
    returned = [r.transform for r in ok if r.transform is not None]  # every one of ok's: the test narrows the type
    transforms = [transform_from_dict(t) for t in returned]
    params = [repr(t) for t in returned]
    spread = None
    if len(transforms) > 1:
        first = displacement(transforms[0], reference)
        spread = max(
            float(np.mean(np.linalg.norm(displacement(t, reference) - first, axis=-1))) for t in transforms[1:]
        )
    elif transforms:
        spread = 0.0
    outcomes = sorted({str(r.outcome) for r in records})
    error_spread = (max(values) - min(values)) if values else None
    verdicts = {succeeded(r) for r in records}
    unstable = (
        len(verdicts) > 1
        or (error_spread is not None and error_spread > tolerance)
        or (spread is not None and spread > tolerance)
    )
    return SourceSpread(
        source,
        len(records),
        error_spread,
        min(values) if values else None,
        max(values) if values else None,
        spread,
        outcomes,
        identical=len(set(params)) <= 1 and len(ok) == len(records),
        unstable=unstable,
        errors=errors,
        threads=sorted({r.threads for r in records if r.threads is not None}),
    )


def audit(
    strategy: str,
    case: Case | str,
    *,
    seeds: int = 3,
    threads: tuple[int, ...] = (1, 2),
    repeats: int = 3,
    perturbation: float = 0.5,
    tolerance: float = 0.1,
    sources: tuple[str, ...] = SOURCES,
    params: dict[str, Any] | None = None,
    pm: RegbenchPluginManager | None = None,
    progress: Callable[[str, RunRecord], None] | None = None,
) -> AuditResult:
    """Audit ``strategy`` on ``case`` (see the module's docstring). ``tolerance`` is in physical units."""
    from regbench.plugin.manager import make_plugin_manager

    pm = pm or make_plugin_manager()
    case = pm.get_case(case) if isinstance(case, str) else case
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown audit sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    by_source: dict[str, list] = {}
    for source, variant, seed, t in _plan(case, seeds, tuple(threads), repeats, perturbation, sources):
        record = run_one(strategy, variant, seed=seed, params=params, threads=t, pm=pm)
        by_source.setdefault(source, []).append(record)
        if progress:
            progress(source, record)
    reference = case.load().fixed
    spreads = [_spread(s, by_source[s], reference, tolerance) for s in SOURCES if s in by_source]
    return AuditResult(strategy, case.name, tolerance, spreads)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def audit_lines(result: AuditResult) -> list[str]:
    """The audit as text lines (the ``regbench audit`` output)."""
    head = "UNSTABLE" if result.flagged else "stable"
    key = f"at threads={DEFAULT_THREADS}"  # the repeat source's key, as regbench run's
    repro = {
        True: f"reproducible {key}",
        False: f"not reproducible {key} (same key differs)",
        None: "reproducibility not tested",
    }
    lines = [
        f"{result.strategy} on {result.case}: {head} at tolerance {result.tolerance:g} physical units; "
        f"{repro[result.reproducible]}"
    ]
    for s in result.sources:
        error = f"error {_fmt(s.error_min)}–{_fmt(s.error_max)} (spread {_fmt(s.error_spread)})"
        line = (
            f"  {s.source:<12} {s.runs} runs  {s.verdict:<9} {error}; transform spread {_fmt(s.transform_spread)}; "
            f"outcomes {', '.join(s.outcomes)}"
        )
        if s.errors:
            line += f"; {len(s.errors)} raised"
        lines.append(line)
    return lines
