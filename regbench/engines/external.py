"""Executions another engine made (elastix, ANTs...): what a strategy reports of one, and the :class:`Segment` the
harness makes of it (``ctx.record_external``), so the record, the verdict, the trace, the dense re-evaluation and
every report treat it as they treat a SimpleITK ``Execute``.

The engine's values are its own: its metric (elastix's AdvancedMattesMutualInformation is not SimpleITK's Mattes
MI), so levels name it (``Level.metric_source``) and are never compared with a dense value; what the engine
cannot give is None with the reason (``unavailable``), never a guess; a stop regbench inferred rather than read is
marked ``stop_inferred``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.setup import Setup
from regbench.record import Level, Segment
from regbench.trace import IterationEvent, Trace
from regbench.util.strict_json import finite_or_none, to_jsonable


@dataclass
class ExternalLevel:
    """One pyramid level of an external execution, as the engine reported it."""

    #: The engine's metric value at each iteration (its own sampled metric), in order.
    metric: Sequence[float | None]
    #: The engine's stop text for this level; None where it gives none (say why in ``unavailable["stop"]``).
    stop_condition: str | None = None
    #: True when the stop text was inferred (e.g. "the cap was reached") rather than read from the engine.
    stop_inferred: bool = False
    #: The engine's own effective step size per iteration, where it has one (elastix ASGD: its gain a_k).
    learning_rate: Sequence[float | None] | None = None
    #: Seconds since the execution started, per iteration, where the engine reports them.
    time_s: Sequence[float | None] | None = None
    #: Iterations the engine counts for the level (default: one per metric value).
    iterations: int | None = None
    #: Which level of the case this is (default: its position in the execution).
    index: int | None = None
    #: The engine's own per-level values (elastix: SP_a, SP_A, SP_alpha): numbers or text, recorded as given.
    engine: Mapping[str, Any] = field(default_factory=dict)
    #: What cannot be had for this level, each with the reason: name → reason.
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ExternalExecution:
    """One execution another engine made, reported by a strategy through ``ctx.record_external``.

    ``transform`` is the engine's result as a SimpleITK transform of the case's model, in the case's convention
    (fixed → moving, without the case's moving initial transform, which the harness composes in as for
    ``Execute``): what ``Execute`` would have returned. ``threads`` and ``seed`` are what the engine was given.
    ``deterministic`` is whether the same key gives the same record *as measured* for this engine and setup
    (None: not measured); it becomes the record's.
    """

    engine: str
    optimizer: str
    metric: str  # the engine's metric, e.g. "elastix AdvancedMattesMutualInformation"
    levels: Sequence[ExternalLevel]
    transform: Any = None  # SimpleITK transform, None where the execution failed
    version: str | None = None
    threads: int | None = None
    seed: int | None = None
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    #: When it started, on ``time.perf_counter()`` (None: ``wall_time_s`` before it was recorded).
    started_s: float | None = None
    error: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. the parameter map given to the engine
    unavailable: Mapping[str, str] = field(default_factory=dict)
    deterministic: bool | None = None


def build_segment(
    execution: ExternalExecution,
    setup: Setup,
    trace: Trace,
    index: int,
    run_started_s: float,
    classify: Callable[[str, Segment], str],
    observe: Callable[[IterationEvent], None] | None = None,
) -> Segment:
    """The :class:`Segment` of ``execution`` (the ``index``-th of the run), its iterations appended to ``trace``
    (``run_started_s``: the run clock's reading when the execution started) and told to ``observe``, if given.
    ``classify`` is the stop hook chain. Raises ValueError naming what is malformed."""
    _check(execution, setup)
    segment = Segment(index=index, wall_time_s=float(execution.wall_time_s), cpu_time_s=float(execution.cpu_time_s))
    segment.engine = to_jsonable(
        {
            "engine": execution.engine,
            "version": execution.version,
            "optimizer": execution.optimizer,
            "metric": execution.metric,
            "threads": execution.threads,
            "seed": execution.seed,
            "settings": dict(execution.settings),
            "unavailable": dict(execution.unavailable),
        }
    )
    for position, reported in enumerate(execution.levels):
        level = _level(reported, position, setup, execution.metric)
        start = len(trace)
        rates = list(reported.learning_rate) if reported.learning_rate is not None else []
        times = list(reported.time_s) if reported.time_s is not None else []
        for k, value in enumerate(reported.metric):
            rate = finite_or_none(rates[k]) if k < len(rates) else None
            at = finite_or_none(times[k]) if k < len(times) else None
            event = IterationEvent(index, level.index, k, finite_or_none(value), rate, None, None, at)
            if at is not None:
                event.time_s = run_started_s + at
            trace.append(event)
            if observe is not None:
                observe(event)
        metrics = trace.metric[start:]
        finite = [(v, i) for i, v in enumerate(metrics) if v is not None]
        if finite:
            level.first_metric, level.last_metric = metrics[0], metrics[-1]
            level.best_metric, level.best_iteration = min(finite)
        if rates:
            level.learning_rate_first, level.learning_rate_last = finite_or_none(rates[0]), finite_or_none(rates[-1])
        text = reported.stop_condition
        if text is not None:
            level.stop_condition = text
            level.stop_category = classify(text, segment)
        segment.levels.append(level)
    segment.iterations = sum(level.iterations for level in segment.levels)
    segment.learning_rate = segment.levels[-1].learning_rate_last if segment.levels else None
    last = segment.levels[-1] if segment.levels else None
    segment.stop_condition = (last.stop_condition or "") if last is not None else ""
    segment.stop_category = (last.stop_category or "unknown") if last is not None else "unknown"
    if execution.error:
        segment.error, segment.stop_category = execution.error, "error"
    # The engine's final value is on its own metric: the record's final metric is the case metric's or None.
    segment.final_metric = None
    if execution.transform is not None:
        segment.transform = sitk.Transform(execution.transform).Downcast()
    return segment


def _level(reported: ExternalLevel, position: int, setup: Setup, metric: str) -> Level:
    case_level = position if reported.index is None else int(reported.index)
    iterations = len(reported.metric) if reported.iterations is None else int(reported.iterations)
    engine = to_jsonable(dict(reported.engine))
    if reported.unavailable:
        engine["unavailable"] = dict(reported.unavailable)
    return Level(
        index=case_level,
        iterations=iterations,
        optimizer_iteration=iterations,
        shrink_factor=int(setup.shrink_factors[case_level]),
        smoothing_sigma=float(setup.smoothing_sigmas[case_level]),
        sampling_percentage=None if setup.sampling == "none" else setup.percentage(case_level),
        stop_inferred=bool(reported.stop_inferred),
        metric_source=metric,
        engine=engine or None,
    )


def _check(execution: ExternalExecution, setup: Setup) -> None:
    where = f"external execution ({execution.engine} {execution.optimizer})"
    if not execution.levels and not execution.error:
        raise ValueError(f"{where}: no levels and no error: report each level the engine ran")
    for position, level in enumerate(execution.levels):
        index = position if level.index is None else level.index
        if not 0 <= int(index) < setup.levels:
            raise ValueError(f"{where}: level {index} is not one of the case's {setup.levels} levels")
        if level.iterations is not None and level.iterations < 0:
            raise ValueError(f"{where}: level {index} has {level.iterations} iterations")
        for name in ("learning_rate", "time_s"):
            values = getattr(level, name)
            if values is not None and len(values) != len(level.metric):
                raise ValueError(
                    f"{where}: level {index} has {len(values)} {name} values for {len(level.metric)} metric values"
                )
    bad = [v for lvl in execution.levels for v in lvl.metric if v is not None and not _is_number(v)]
    if bad:
        raise ValueError(f"{where}: a metric value is not a number: {bad[0]!r:.40}")


def _is_number(value: Any) -> bool:
    """A number (NaN and infinities included: an engine's "not computed", recorded as None)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
