"""``run_one``: one (strategy, params, case, seed) in this process, to a complete :class:`RunRecord`.

The order is fixed: parse parameters, fix threads and seed, let the strategy drive ``ctx.execute``, evaluate
the returned transform with every ``regbench_evaluate`` hook, classify the stop, judge the outcome, tell
``regbench_run_finished``. Anything a strategy or SimpleITK raises becomes an ``error`` record (``memory`` when it
ran out of memory: :mod:`regbench.util.memory_limit`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case, CaseError, case_digest, initial_mapping
from regbench.evaluation.inverse import measure as measure_inverse_consistency
from regbench.evaluation.outcomes import Evidence, clear_no_overlap_values, judge
from regbench.evaluation.postrun import (
    TracePlan,
    complete_stored,
    complete_trace,
    plan_trace,
    returned_best_on_dense_levels,
)
from regbench.evaluation.stops import CATEGORIES as STOP_CATEGORIES
from regbench.evaluation.stops import is_rounding_failure
from regbench.harness import ExecutionFailed, RunContext
from regbench.plugin.manager import RegbenchPluginManager, make_plugin_manager, name_problem
from regbench.plugin.measures import merge_measures
from regbench.record import RunRecord, Segment
from regbench.strategy import ParameterError, Strategy
from regbench.trace import DEFAULT_POSITIONS, PositionSchedule
from regbench.util.host import host_facts, load_average
from regbench.util.memory_limit import memory_error_text, ran_out_of_memory
from regbench.util.peak_memory import peak_rss_mb, reset_peak_rss
from regbench.util.strict_json import dumps, to_jsonable
from regbench.util.transforms import transform_to_dict
from regbench.version import versions

#: ITK threads per run unless asked otherwise: one, so that the same key gives the same record (Mattes MI is
#: not bit-identical with more; reference §5). Parallelism comes from running several runs at once.
DEFAULT_THREADS = 1

MAX_SEED = 2**31 - 1  # API, run file and CLI: an SQLite integer, and ITK's sampling seed (seed + 1 + 2·level) a uint32


def default_threads() -> int:
    """The cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_key(
    strategy: str,
    params: Mapping[str, Any],
    case: str,
    seed: int,
    threads: int,
    vers: Mapping,
    case_fingerprint: Mapping[str, Any] | None = None,
    repeat: int = 0,
) -> str:
    """The identity of a run: same inputs (the case's definition included), same threads, same software -> same
    key. A repeat (``repeat`` > 0) is its own key, so a store keeps every repeat; repeat 0 is the plain key."""
    payload = {
        "strategy": strategy,
        "params": params,
        "case": case,
        "case_definition": case_fingerprint,
        "seed": seed,
        "threads": threads,
        "versions": vers,
    }
    if repeat:
        payload["repeat"] = int(repeat)
    return hashlib.sha256(dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def instance_key(case: Case, seed: int) -> str:
    """The problem a run on ``case`` with ``seed`` solves: the case's definition, where it starts and, when
    the metric is sampled, the sampling seed. Seeds that change neither give the same instance (copies); a
    simulated case's seeds are distinct instances (its definition holds the seed: :meth:`Case.for_seed`)."""
    case = case.for_seed(seed)
    data = case.load()
    start = transform_to_dict(initial_mapping(case.setup, data, seed))
    sampling = int(seed) + 1 if case.setup.sampling != "none" else None
    payload = dumps({"case": case.name, "definition": case.fingerprint(), "start": start, "sampling": sampling})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def is_deterministic(case: Case, threads: int) -> bool | None:
    """Whether the same key gives a bit-identical record (reference §5): yes with one ITK thread; no for
    Mattes MI with more (its joint histogram is summed in thread order); measured yes for mean squares; not
    known for the other metrics."""
    if threads == 1:
        return True
    if case.setup.metric == "mattes":
        return False
    return True if case.setup.metric == "mean_squares" else None


@contextmanager
def itk_globals(threads: int) -> Iterator[None]:
    """Fix ITK's global thread count (metric, filters) and silence its warnings for one run."""
    previous_threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    previous_warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous_threads)
        sitk.ProcessObject.SetGlobalWarningDisplay(previous_warnings)


def new_record(
    strategy: Strategy,
    case: Case,
    seed: int,
    params: Mapping[str, Any] | None,
    threads: int | None,
    repeat: int = 0,
) -> tuple[RunRecord, Any]:
    """The record a run starts from (its key and inputs), and the parsed parameters.

    Raises ``ParameterError`` for bad parameters: that is a usage error, not a run result.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ParameterError(f"threads must be an integer ≥ 1 (or None for {DEFAULT_THREADS}), got {threads!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 0:
        raise ParameterError(f"repeat must be an integer ≥ 0, got {repeat!r}")
    # the names plugins may register, for objects given directly too: a name reaches every report and file name
    if problem := name_problem(strategy.name, "strategy"):
        raise ParameterError(problem)
    if problem := name_problem(case.name, "case"):
        raise CaseError(problem)
    if strategy.unavailable:
        raise ParameterError(f"strategy {strategy.name!r} is unavailable: {strategy.unavailable}")
    parsed = strategy.parse_params(params)
    threads = int(threads or DEFAULT_THREADS)
    vers = {**versions(), **strategy.engine_versions()}  # another engine's version is part of the key too
    param_dict = to_jsonable(dataclasses.asdict(parsed))
    record = RunRecord(
        strategy=strategy.name,
        case=case.name,
        seed=int(seed),
        params=param_dict,
        threads=threads,
        sampling_seed=int(seed) + 1,
        repeat=int(repeat),
        provenance={
            "strategy": strategy.provenance.as_dict() if strategy.provenance else None,
            "case": case.provenance.as_dict() if case.provenance else None,
            # which definition of the case ran: show, reports and audit find it again by it
            # (regbench.report.load.case_of_run)
            "case_digest": case_digest(case),
        },
        versions=vers,
    )
    if case.simulation is not None:  # where the result comes from, in words and numbers, from the store alone
        record.provenance["simulation"] = {
            "simulated_from": case.simulated_from,
            "description": case.description,
            **dataclasses.asdict(case.simulation),
        }
    record.key = run_key(
        strategy.name, param_dict, case.name, record.seed, threads, vers, case.fingerprint(), record.repeat
    )
    return record, parsed


def run_one(
    strategy: str | Strategy,
    case: str | Case,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    threads: int | None = None,
    pm: RegbenchPluginManager | None = None,
    positions: PositionSchedule | None = None,
) -> RunRecord:
    """Run one registration and return its complete record (never raises for a failing registration).

    ``strategy`` and ``case`` are names (looked up in ``pm``, a fresh plugin manager by default) or objects.
    ``params`` override the strategy's defaults; unknown names or bad values raise ``ParameterError``.
    ``threads`` is the ITK thread count for the run (default :data:`DEFAULT_THREADS`, as ``regbench run``: the
    same call gives the same record). ``positions`` is which optimizer positions the trace keeps and evaluates
    after the run (:class:`~regbench.trace.PositionSchedule`; default geometric in iterations).
    """
    pm = pm or make_plugin_manager()
    strategy = pm.get_strategy(strategy) if isinstance(strategy, str) else strategy
    case = pm.get_case(case) if isinstance(case, str) else case
    record, parsed = new_record(strategy, case, seed, params, threads)
    return execute_record(record, strategy, case, parsed, pm, positions)


def execute_record(
    record: RunRecord,
    strategy: Strategy,
    case: Case,
    params: Any,
    pm: RegbenchPluginManager,
    positions: PositionSchedule | None = None,
    instance_known: Callable[[str], None] | None = None,
    evaluate_later: bool = False,
) -> RunRecord:
    """Fill ``record`` by running ``strategy`` on ``case`` (on its instance for the record's seed, where the case
    is simulated: :meth:`Case.for_seed`). ``instance_known`` is told the run's instance before the registration
    starts (a worker tells its runner, which records it if the run then crashes or times out).

    ``evaluate_later``: leave the kept trace positions unevaluated, the record holding what evaluating them needs
    (``evaluation_plan``) for :func:`complete_evaluation`, which gives the same numbers later, elsewhere: what a
    matrix run does, so a run costs little more than its executions."""
    try:  # before the run's clock: an engine's first use in this process (Strategy.prepare_process)
        strategy.prepare_process()
        unprepared: Exception | None = None
    except Exception as exc:
        unprepared = exc
    # where it runs, read here (in the worker, on its host; once per process, before the run's clock), with the
    # load before and after (it slows a run)
    host = record.host = {**host_facts(), "load_start": load_average()}
    wall, cpu = time.perf_counter(), time.process_time()
    reset_peak_rss()
    ctx: RunContext | None = None
    threads = record.threads if record.threads is not None else DEFAULT_THREADS  # new_record always sets it
    with itk_globals(threads):
        try:
            if unprepared is not None:
                raise unprepared
            case = case.for_seed(record.seed)
            record.instance = instance_key(case, record.seed)
            if instance_known is not None:
                instance_known(record.instance)
            # the default tolerance (half the finest spacing) comes from the store alone, case file or not
            record.fixed_spacing = [float(s) for s in case.load().fixed.GetSpacing()]
            record.deterministic = is_deterministic(case, threads)
            ctx, returned = _drive(strategy, case, params, pm, record, positions)
            evaluation = time.perf_counter()
            _summarize(record, returned, case, pm)
            plan = plan_trace(record, ctx, ended_s=evaluation - ctx.started)
            if evaluate_later:
                record.evaluation_plan = plan.to_dict()
            else:
                complete_trace(record, ctx.case, plan)
            record.evaluation_time_s = time.perf_counter() - evaluation
            if case.inverse_consistency:  # the reverse run, kept out of the run's own times
                reverse_wall, reverse_cpu = measure_inverse_consistency(
                    record, returned, case, lambda rc, scratch: _drive(strategy, rc, params, pm, scratch, positions)[1]
                )
                wall, cpu = wall + reverse_wall, cpu + reverse_cpu
        except ExecutionFailed as exc:
            # An observer that raised inside Execute left a note naming it; SimpleITK's own text does not.
            observer = next((n for n in record.notes if " failed in regbench_record_iteration: " in n), None)
            record.status, record.error = "error", f"Execute failed: {observer or exc}"
            _out_of_memory(record, exc)
        except Exception as exc:
            record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
            record.notes.append("traceback: " + "".join(traceback.format_exc(limit=-3)).strip())
            _out_of_memory(record, exc)
    _finish(record, _cap(strategy, params, record), pm)
    record.wall_time_s = time.perf_counter() - wall
    record.cpu_time_s = time.process_time() - cpu
    record.peak_rss_mb = peak_rss_mb()
    host["load_end"] = load_average()
    pm.run_finished(record, ctx)
    return record


def complete_evaluation(record: RunRecord, case: Case) -> RunRecord:
    """Evaluate the kept trace positions of a record run with ``evaluate_later`` (``case``: its case, the instance
    of its seed, as :func:`execute_record` ran it), with the run's thread count: the trace columns, the anytime
    curve and the best-or-last answer that evaluating during the run gives, to the bit. Clears
    ``evaluation_plan``; a complete record is returned as it is."""
    if record.evaluation_plan is None:
        return record
    plan = TracePlan.from_dict(record.evaluation_plan)
    with itk_globals(record.threads if record.threads is not None else DEFAULT_THREADS):
        complete_stored(record, case, plan)
    record.evaluation_plan = None
    return record


def _out_of_memory(record: RunRecord, exc: BaseException) -> None:
    """Record an error that ran out of memory as ``memory``: here, so the outcome and every
    ``regbench_run_finished`` hook see the status that is stored."""
    if ran_out_of_memory(exc, record.error):
        record.status, record.error = "memory", memory_error_text(exc, record.error or "")


def _drive(
    strategy: Strategy,
    case: Case,
    params: Any,
    pm: RegbenchPluginManager,
    record: RunRecord,
    positions: PositionSchedule | None,
) -> tuple[RunContext, sitk.Transform]:
    """Let ``strategy`` run on ``case`` into ``record``: its context and the fixed → moving mapping it returned."""
    ctx = RunContext(
        case,
        record.seed,
        record.threads if record.threads is not None else DEFAULT_THREADS,
        pm,
        record,
        count_iterations=strategy.count_iterations,
        metric_pairing=strategy.metric_pairing,
        positions=positions or DEFAULT_POSITIONS,
    )
    returned = strategy.run(ctx, params)
    if returned is None and record.segments:
        returned = kept_segments(record)[-1].transform
    if returned is None:
        raise RuntimeError(f"strategy {strategy.name!r} returned no transform and ran no execution")
    return ctx, ctx.full_transform(returned)


def _cap(strategy: Strategy, params: Any, record: RunRecord) -> int | None:
    """The strategy's declared per-level cap for ``params``; a declaration that fails is noted, not fatal."""
    if record.status != "ok":
        return None
    try:
        cap = strategy.iteration_cap(params)
    except Exception as exc:
        record.notes.append(f"iteration cap unknown: {type(strategy).__name__}.iteration_cap raised {exc!r:.200}")
        return None
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, np.integer))):
        record.notes.append(f"iteration cap unknown: {type(strategy).__name__}.iteration_cap returned {cap!r:.80}")
        return None
    return int(cap) if cap else None


def _summarize(record: RunRecord, transform: sitk.Transform, case: Case, pm: RegbenchPluginManager) -> None:
    record.transform = transform_to_dict(transform)
    for measures in pm.evaluate(case, transform, record):
        merge_measures(record, measures)
    record.returned_best = returned_best_on_dense_levels(record)


def kept_segments(record: RunRecord) -> list[Segment]:
    """The executions whose results the run kept (a strategy marks the attempts it discarded ``rejected``)."""
    kept = [s for s in record.segments if not s.rejected]
    return kept or record.segments[-1:]


def _finish(record: RunRecord, cap: int | None, pm: RegbenchPluginManager | None = None) -> None:
    record.iterations = sum(s.iterations for s in record.segments)  # every execution's cost, rejected ones too
    # What the result went through: the stop, the reported value and the caps of the kept executions.
    segments = kept_segments(record)
    if segments:
        last = segments[-1]
        record.stop_condition, record.stop_category = last.stop_condition, last.stop_category
        record.final_metric = last.final_metric
        if record.final_metric == 0.0 and last.levels and last.levels[-1].iterations == 0 and not last.error:
            # SimpleITK reads 0 for a metric it never computed: a level that ran no iteration evaluated nothing.
            record.final_metric = None
            record.notes.append(
                "final metric unknown: the last level ran no iteration, so SimpleITK never evaluated the metric "
                "(it reports 0.0 then)"
            )
    if pm is not None:
        for segment in record.segments:
            answer = pm.refused_stop_category(segment.stop_condition) if segment.stop_category == "unknown" else None
            note = (
                f"stop text {segment.stop_condition!r:.120} was classified {answer} by a regbench_classify_stop "
                f"plugin, which is not a stop category ({', '.join(STOP_CATEGORIES)}): recorded as unknown"
            )
            if answer is not None and note not in record.notes:
                record.notes.append(note)
    record.rounding_failure = any(is_rounding_failure(s.stop_condition) for s in segments)
    # The stop text describes only the last level; earlier levels hit the cap when SimpleITK's counter did. The cap
    # is the one the strategy declares (Strategy.iteration_cap_param / iteration_cap), never guessed.
    levels = [level for segment in segments for level in segment.levels]
    record.hit_iteration_limit = any(s.stop_category == "max_iterations" for s in segments) or bool(
        cap and any(lvl.optimizer_iteration is not None and lvl.optimizer_iteration >= cap for lvl in levels)
    )
    evidence = Evidence.of(record)
    record.outcome, flags = judge(evidence)
    clear_no_overlap_values(record)  # after judging, which reads DBL_MAX: the record holds None, as documented
    record.registered, record.tolerance, record.accuracy = evidence.registered, evidence.tolerance, evidence.accuracy
    if record.deterministic is False:
        flags.append("nondeterministic")
    record.flags = flags
