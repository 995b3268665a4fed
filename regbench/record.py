"""The run record: everything one run produced, as dataclasses that round-trip through strict JSON.

Strict JSON means no NaN or Infinity (they become null) and no numpy scalars. Field names are the public schema:
add, don't rename.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from regbench.trace import (  # noqa: F401  (re-exported: the old import path)
    AFTER_RUN_COLUMNS,
    EVENT_COLUMNS,
    TRACE_COLUMNS,
    Anytime,
    IterationEvent,
    Trace,
)
from regbench.util.strict_json import dumps, to_jsonable  # also re-exported: the old import path
from regbench.util.strict_json import finite_or_none as finite_or_none  # re-exported: the old import path

SCHEMA_VERSION = 1
#: Record fields that measure the machine, not the run (``host``: where it ran, its load; see below).
TIMING_FIELDS = ("wall_time_s", "cpu_time_s", "peak_rss_mb", "evaluation_time_s", "host")


#: The record fields a ``regbench_evaluate`` implementation may fill (numbers or None). Any other key that names a
#: record field (the run's identity, status, segments, stop, timings...) is refused with a note; other keys go to
#: ``record.measures``, and so do the items of a ``"measures"`` dict.
MEASURE_FIELDS = (
    "initial_metric_dense",
    "final_metric_dense",
    "initial_overlap_fraction",
    "overlap_fraction",
    "initial_error_mean",
    "error_mean",
    "error_p95",
    "error_max",
    "initial_error_mean_fg",
    "error_mean_fg",
    "error_p95_fg",
    "error_max_fg",
    "jacobian_min",
    "folding_fraction",
    "sdlogj",
    "initial_dice_mean",
    "dice_mean",
    "initial_hd95",
    "hd95",
    "label_count",
    "dice_per_label",
    "inverse_consistency_mean",
    "inverse_consistency_p95",
)


@dataclass
class Level:
    """One pyramid level of one execution."""

    index: int
    iterations: int = 0
    first_metric: float | None = None
    last_metric: float | None = None
    best_metric: float | None = None
    best_iteration: int | None = None
    learning_rate_first: float | None = None
    learning_rate_last: float | None = None
    # SimpleITK's own iteration counter at the end of the level (differs from the event count for some
    # optimizers, e.g. LBFGS2 runs twice per level, LBFGSB emits one event per evaluation).
    optimizer_iteration: int | None = None
    shrink_factor: int | None = None
    smoothing_sigma: float | None = None
    sampling_percentage: float | None = None
    # An execution another engine made (regbench.ExternalExecution): this level's own stop text and category (a
    # SimpleITK execution has one stop text, the segment's), whether regbench inferred the stop rather than read
    # it from the engine, the metric its values are on (the engine's, not the case's SimpleITK metric: never
    # compared with a dense value) and the engine's own per-level values (elastix: SP_a, SP_A, SP_alpha), with
    # what it cannot give under "unavailable" (name → reason).
    stop_condition: str | None = None
    stop_category: str | None = None
    stop_inferred: bool | None = None
    metric_source: str | None = None
    engine: dict[str, Any] | None = None

    @property
    def is_dense(self) -> bool:
        """Its metric values are on the full-resolution, unsmoothed, unsampled metric: comparable with the
        dense value of a transform (never those of another engine's metric)."""
        return (
            self.metric_source is None
            and self.shrink_factor == 1
            and not self.smoothing_sigma
            and (self.sampling_percentage is None or self.sampling_percentage >= 1.0)
        )


@dataclass
class Segment:
    """One ``Execute()``: what the harness captured of it."""

    index: int
    levels: list[Level] = field(default_factory=list)
    stop_condition: str = ""
    stop_category: str = "unknown"
    iterations: int = 0
    final_metric: float | None = None
    learning_rate: float | None = None
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    error: str | None = None
    # The strategy ran this execution and then discarded its result (e.g. gd's retry of a level at a lower
    # rate when the better attempt was another one): shown as rejected, never mistaken for a level change.
    rejected: bool = False
    # An execution another engine made (regbench.ExternalExecution): the engine, its version, optimizer, threads,
    # seed, settings and what it cannot give (name → reason). None: SimpleITK's Execute.
    engine: dict[str, Any] | None = None
    # The transform Execute returned (not serialized here; the record keeps the run's returned transform).
    transform: Any = field(default=None, repr=False, compare=False, metadata={"json": False})


@dataclass
class RunRecord:
    """Everything one (strategy, params, case, seed) run produced. Failed runs are records too."""

    strategy: str
    case: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    sampling_seed: int | None = None
    # Which execution of the same key this is (``regbench run --repeat K``): 0 for the first; part of the key
    # when > 0, so the store keeps every repeat.
    repeat: int = 0
    # The problem this run solved: a hash of the case's definition, the starting transform and, when the metric
    # is sampled, the sampling seed. Two seeds with the same instance are copies, not two instances.
    instance: str | None = None
    # Same key, same record? True where it is known to hold (1 ITK thread, or a metric measured to be
    # bit-identical with more); False where it is known not to (Mattes MI with more than one thread);
    # None where it is not known.
    deterministic: bool | None = None
    # The fixed image's voxel spacing (physical units per axis): the recommendation's default tolerance is half
    # its smallest value, known from the store alone.
    fixed_spacing: list[float] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    # Where it ran (regbench.util.host.host_facts): name, cpu, cores, cores_usable, memory_gb, os, machine, python,
    # blas, thread_env, and load_start / load_end (1, 5, 15 minute load averages). None in records written before
    # regbench recorded it, and in records of runs that never started in a worker (crashed before it).
    host: dict[str, Any] | None = None
    status: str = "ok"
    error: str | None = None
    segments: list[Segment] = field(default_factory=list)
    iterations: int = 0
    stop_condition: str | None = None
    stop_category: str | None = None
    outcome: str | None = None
    # Accuracy, judged apart from the stop (regbench.evaluation.outcomes.Evidence): whether the error `accuracy` names
    # ("truth_fg" foreground, "truth" whole domain, "landmarks" TRE) ended within `tolerance`, physical units:
    # min(half the finest spacing, a quarter of the starting error), regbench.evaluation.tolerance. None where nothing
    # judges it ("labels" judge progress only: no physical tolerance; no truth at all: accuracy None).
    registered: bool | None = None
    tolerance: float | None = None
    accuracy: str | None = None
    rounding_failure: bool = False
    hit_iteration_limit: bool = False
    final_metric: float | None = None
    initial_metric_dense: float | None = None
    final_metric_dense: float | None = None
    returned_best: bool | None = None
    initial_error_mean: float | None = None
    error_mean: float | None = None
    error_p95: float | None = None
    error_max: float | None = None
    initial_error_mean_fg: float | None = None
    error_mean_fg: float | None = None
    error_p95_fg: float | None = None
    error_max_fg: float | None = None
    jacobian_min: float | None = None
    folding_fraction: float | None = None
    sdlogj: float | None = None
    # Label overlap where the case has label images (fixed_labels, moving_labels): the moving labels resampled by
    # nearest neighbour onto the fixed grid, at the start and for the returned transform. Dice averaged over the
    # labels of the fixed label image; HD95 (physical units) averaged over the labels present in both.
    initial_dice_mean: float | None = None
    dice_mean: float | None = None
    initial_hd95: float | None = None
    hd95: float | None = None
    label_count: int | None = None  # how many labels the fixed label image has
    dice_per_label: dict[str, float | None] | None = None  # label value (as text) → Dice, returned transform
    # Where the case asks for it (regbench.evaluation.inverse): ‖T_bwd(T_fwd(p)) − p‖ over the fixed foreground,
    # physical units
    inverse_consistency_mean: float | None = None
    inverse_consistency_p95: float | None = None
    # Share of fixed-image samples (within the fixed mask, if any) that the transform maps inside the moving
    # image, at the start and for the returned transform.
    initial_overlap_fraction: float | None = None
    overlap_fraction: float | None = None
    # Best or last (regbench.evaluation.best_or_last): the best, on the dense metric, of the positions kept at the last
    # level and the optimizer's own best visited, evaluated after the run; regret = returned minus best (> 0: worse).
    best_visited_metric_dense: float | None = None
    best_visited_error_mean: float | None = None
    regret_metric_dense: float | None = None
    regret_error_mean: float | None = None
    # Evidence against the result that the outcome may or may not reflect (e.g. "folding", "low_overlap",
    # "worse_than_start", "diverged", "nondeterministic"): every one that applies, in precedence order.
    flags: list[str] = field(default_factory=list)
    wall_time_s: float | None = None
    # Of the wall time: the evaluation after the run (returned transform, best visited, trace positions).
    evaluation_time_s: float | None = None
    # Set while the evaluation of the kept trace positions waits (regbench.evaluation.postrun.TracePlan, as JSON):
    # a matrix run stores its record without it, and the first report completes it (trace columns, anytime curve,
    # best or last) with the same numbers. None: complete. Left out of the JSON when None.
    evaluation_plan: dict[str, Any] | None = None
    cpu_time_s: float | None = None
    peak_rss_mb: float | None = None
    measures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    transform: dict[str, Any] | None = None
    trace: Trace = field(default_factory=Trace)
    anytime: Anytime = field(default_factory=Anytime)
    key: str | None = None
    schema: int = SCHEMA_VERSION

    # -- JSON ----------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = to_jsonable(self)
        if data["evaluation_plan"] is None:  # a complete record's JSON is what it was before plans existed
            del data["evaluation_plan"]
        return data

    def to_json(self, **kwargs: Any) -> str:
        # to_dict is strict-JSON-ready already: walking it again in dumps() doubled the cost of every commit.
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """A record from its JSON dict. Bad input (not an object, a field of the wrong type) raises
        :class:`RecordError` naming the field."""
        if not isinstance(data, dict):
            raise RecordError(f"not a run record: a JSON {type(data).__name__}, not an object")
        data = dict(data)
        _check_types(cls, data)
        try:
            segments = [_segment_from_dict(s) for s in data.pop("segments", None) or []]
            trace = Trace(**(data.pop("trace", None) or {}))
            anytime = Anytime(**(data.pop("anytime", None) or {}))
        except (TypeError, ValueError, AttributeError) as exc:
            raise RecordError(f"not a run record: bad segments, trace or anytime ({exc})") from None
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        extra = {k: data.pop(k) for k in unknown}
        try:
            record = cls(**data, segments=segments, trace=trace, anytime=anytime)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"not a run record: {exc}") from None
        # Fields written by a newer regbench are kept, not dropped.
        record.measures.update({f"unknown:{k}": v for k, v in extra.items()})
        return record

    def without_timings(self) -> dict[str, Any]:
        """The record as JSON without what measures the machine rather than the run (wall and CPU times, peak
        memory, the trace's and anytime curve's clocks): what two executions of one deterministic key share."""
        data = self.to_dict()
        data.pop("evaluation_plan", None)  # the run's clock and cost, kept until the trace is evaluated
        for name in TIMING_FIELDS:
            data.pop(name, None)
        for segment in data["segments"]:
            segment.pop("wall_time_s", None)
            segment.pop("cpu_time_s", None)
        for part in ("trace", "anytime"):
            for name in ("time_s", "exec_time_s"):
                data[part].pop(name, None)
        return data

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(json.loads(text))

    # -- convenience ---------------------------------------------------------------------------------------

    @property
    def levels(self) -> list[Level]:
        """The levels of every segment, in order."""
        return [level for segment in self.segments for level in segment.levels]

    def summary(self) -> dict[str, Any]:
        """The flat summary fields (no trace, segments or transform): for tables, CSV and extra_info."""
        skip = {
            "segments",
            "trace",
            "anytime",
            "transform",
            "provenance",
            "versions",
            "host",
            "measures",
            "params",
            "notes",
            "flags",
            "evaluation_plan",
        }
        out = {k: v for k, v in self.to_dict().items() if k not in skip}
        out["params"] = dumps(self.params, sort_keys=True)
        if self.dice_per_label is not None:  # a mapping: one JSON text cell, like params
            out["dice_per_label"] = dumps(self.dice_per_label, sort_keys=True)
        out["flags"] = ",".join(self.flags)
        out["host"] = (self.host or {}).get("name")  # the name alone: the facts are a mapping
        for name, value in self.measures.items():
            out[f"measures.{name}"] = to_jsonable(value)
        return out


class RecordError(ValueError):
    """A JSON value is not a run record: the message names the field at fault."""


# The JSON types each kind of record field accepts (None is accepted for every optional field).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def _check_types(cls: type, data: dict[str, Any]) -> None:
    """Refuse a field whose JSON value has the wrong type (``"iterations": "many"``), naming it; the record's
    annotations are strings (``from __future__ import annotations``) and read as such."""
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], str(f.type).replace(" ", "")
        optional = "None" in hint.split("|")
        if value is None:
            if optional or f.name in ("segments", "trace", "anytime"):
                continue
            raise RecordError(f"not a run record: field {f.name!r} is null")
        base = hint.split("|")[0].split("[")[0]
        kinds = {"Trace": (dict,), "Anytime": (dict,)}.get(base) or _JSON_TYPES.get(base)
        if kinds is None:
            continue
        if isinstance(value, bool) and bool not in kinds:
            kinds = ()
        if not isinstance(value, kinds):
            raise RecordError(f"not a run record: field {f.name!r} is {type(value).__name__} {value!r:.40}")


def _segment_from_dict(data: dict[str, Any]) -> Segment:
    data = dict(data)
    levels = [Level(**level) for level in data.pop("levels", [])]
    return Segment(**data, levels=levels)
