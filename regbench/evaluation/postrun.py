"""After the run, outside its timed executions: the evaluation of what the optimizer visited.

The trace's kept positions get their dense metric and truth errors (within a budget counted from what the run
did, never from the clock), the record gets its anytime curve (start, kept positions, returned transform), and
"best or last?" is answered on the dense metric against every position kept at the last level and the optimizer's
own best visited (:mod:`regbench.evaluation.best_or_last`). In two halves: :func:`plan_trace` takes from the run
what the record does not keep (a :class:`TracePlan`, plain JSON), :func:`complete_trace` evaluates from the record,
the case and the plan alone, so it may run later, elsewhere, with the same numbers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import SimpleITK as sitk

from regbench.cases.case import Case, full_mapping
from regbench.evaluation import best_or_last as bestorlast
from regbench.evaluation.best_or_last import Compared, within_tolerance
from regbench.evaluation.measures import PositionEvaluator
from regbench.evaluation.outcomes import NO_OVERLAP_FIELDS, clear_no_overlap_values
from regbench.evaluation.stops import is_no_overlap
from regbench.harness import BestVisited, RunContext
from regbench.record import RunRecord
from regbench.trace import Trace
from regbench.util.transforms import transform_from_dict, transform_to_dict


def evaluate_trace(record: RunRecord, ctx: RunContext, ended_s: float) -> None:
    """Fill the trace's ``dense_metric``, ``error_mean`` and ``error_mean_fg`` at its saved positions (after the
    run, outside its timed executions), answer "best or last?" on those of the last level (:func:`_best_or_last`),
    and build the record's anytime curve, which ends at the returned transform when the strategy returned
    (``ended_s`` after the run started): :func:`complete_trace` of :func:`plan_trace`, which may also run later,
    in another process, from the stored record and the plan alone (the same numbers).

    The positions are evaluated within a budget (:attr:`PositionSchedule.evaluation_budget` × the run's Execute
    cost): each level's last position and the best visited first, then an evenly thinned set of the others, every
    8th, 4th, ... until the budget is spent (at least :data:`MIN_EVALUATED` of them). A dense evaluation can cost
    more than an iteration (a sampled or shrunk level iterates on fewer points), so without a budget a cheap run
    would cost several times itself. The budget is counted in evaluations, from what the run did
    (:func:`execute_cost`), never from the clock: the same key must give the same record.
    """
    complete_trace(record, ctx.case, plan_trace(record, ctx, ended_s))


@dataclass
class TracePlan:
    """What evaluating a run's kept positions needs beyond its record and case (which the record does not keep:
    the executions' transforms, the optimizer's best visited): plain JSON values (:meth:`to_dict`)."""

    ended_s: float
    budget: float  # evaluations, from the run's Execute cost
    #: (segment, level) → the transform dict positions of that execution and level are set into; None: none fits
    templates: dict[tuple[int, int], dict[str, Any] | None] = field(default_factory=dict)
    best: BestVisited | None = None
    best_template: dict[str, Any] | None = None  # the layout the best visited position is set into
    #: For completing a record stored after the run (:func:`complete_stored`): how many notes it had when
    #: planned (its own notes go after those, as if made then), and which of its dense values were SimpleITK's
    #: no-overlap value (DBL_MAX), which the record holds as None once judged.
    notes_at: int | None = None
    no_overlap: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ended_s": self.ended_s,
            "budget": self.budget,
            "templates": [[s, lvl, t] for (s, lvl), t in self.templates.items()],
            "best": None if self.best is None else {**vars(self.best), "position": list(self.best.position)},
            "best_template": self.best_template,
            "notes_at": self.notes_at,
            "no_overlap": list(self.no_overlap),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TracePlan:
        best = data["best"]
        return cls(
            ended_s=data["ended_s"],
            budget=data["budget"],
            templates={(int(s), int(lvl)): t for s, lvl, t in data["templates"]},
            best=None if best is None else BestVisited(**{**best, "position": tuple(best["position"])}),
            best_template=data["best_template"],
            notes_at=data.get("notes_at"),
            no_overlap=list(data.get("no_overlap") or ()),
        )


def plan_trace(record: RunRecord, ctx: RunContext, ended_s: float) -> TracePlan:
    """What :func:`complete_trace` needs from the run (cheap: no evaluation); the best visited position goes
    into its trace row, as the run saw it."""
    trace = record.trace
    best = ctx.best_visited
    if best is not None and best.row is not None and trace.position[best.row] is None:
        trace.position[best.row] = list(best.position)
    cost = execute_cost(record, ctx.fixed.GetDimension()) / EVALUATION_COST.get(ctx.setup.metric, 2.0)
    plan = TracePlan(ended_s, ctx.positions.evaluation_budget * cost, best=best, notes_at=len(record.notes))
    plan.no_overlap = [name for name in NO_OVERLAP_FIELDS if is_no_overlap(getattr(record, name))]
    for row in trace.positions():
        key = (trace.segment[row], trace.level[row])
        if key not in plan.templates:
            position = trace.position[row]
            assert position is not None  # the rows are trace.positions(): each has one
            template = _level_transform(record, ctx, *key, len(position))
            plan.templates[key] = None if template is None else transform_to_dict(template)
    if best is not None:
        template = record.segments[best.segment].transform or next(
            (s.transform for s in reversed(record.segments) if s.transform is not None), None
        )
        plan.best_template = None if template is None else transform_to_dict(template)
    return plan


def complete_trace(record: RunRecord, case: Case, plan: TracePlan) -> None:
    """Evaluate the kept positions of ``record`` (a run on ``case``, the instance of its seed) as
    :func:`evaluate_trace` describes, answer "best or last?" and build the anytime curve."""
    trace = record.trace
    data = case.load()
    evaluator = PositionEvaluator(case, record)
    templates = {key: None if t is None else transform_from_dict(t) for key, t in plan.templates.items()}
    first, rest = _evaluation_order(trace, plan.best.row if plan.best is not None else None)
    for i, row in enumerate(first + rest):
        if i >= len(first) + MIN_EVALUATED and i >= plan.budget:
            break
        position = trace.position[row]
        assert position is not None  # the rows are trace.positions(): each has one
        template = templates[(trace.segment[row], trace.level[row])]
        if template is None:
            continue
        transform = sitk.Transform(template).Downcast()
        transform.SetParameters(position)
        for name, value in evaluator.measures(full_mapping(case.setup, data, transform)).items():
            getattr(trace, name)[row] = value
    _best_or_last(record, case, plan, evaluator)
    _anytime(record, plan.ended_s)


def complete_stored(record: RunRecord, case: Case, plan: TracePlan) -> None:
    """:func:`complete_trace` of a record as stored after its run (judged, its no-overlap values None, notes
    added after the plan): the same trace columns, curve, answer and notes, in the same order, as completing it
    during the run gives."""
    at = len(record.notes) if plan.notes_at is None else plan.notes_at
    later = record.notes[at:]
    record.notes = record.notes[:at]
    for name in plan.no_overlap:  # as the run saw them: the curve's ends and the answer read them
        setattr(record, name, sys.float_info.max)
    complete_trace(record, case, plan)
    clear_no_overlap_values(record)
    record.notes.extend(later)


#: What one dense evaluation of a position costs, in full-resolution gradient-descent iterations of the same
#: metric (measured on 128² and 40³ images, one thread: mean squares 1.7–1.9; Mattes MI 6.2, which rebuilds its
#: histograms on every MetricEvaluate). Other metrics: 2.
EVALUATION_COST = {"mattes": 6.0}
#: Kept positions evaluated beyond the level ends and the best visited whatever the budget: an anytime curve
#: needs a few points, and an optimizer whose iteration costs many evaluations (a line search) looks cheap here.
MIN_EVALUATED = 8


def execute_cost(record: RunRecord, dimension: int) -> float:
    """What the run's executions cost, in full-resolution iterations: per level, its iteration events × the share
    of the full-resolution points it uses (shrink and sampling percentage). An estimate that never looks at the
    clock; an optimizer with line searches costs more than its events say, so it is evaluated less than it could."""
    cost = 0.0
    for level in record.levels:
        share = (level.sampling_percentage or 1.0) / float(level.shrink_factor or 1) ** dimension
        cost += level.iterations * share
    return cost


def _evaluation_order(trace: Trace, best_row: int | None) -> tuple[list[int], list[int]]:
    """The saved positions to evaluate: (always: each level's last and the best visited; then the others, evenly
    thinned: every 8th, then every 4th, ... of them, so a budget cut anywhere leaves an even spread)."""
    rows = trace.positions()
    ends = {i for i in rows if i + 1 == len(trace) or trace.level[i + 1] != trace.level[i]}
    ends |= {i for i in rows if i + 1 < len(trace) and trace.segment[i + 1] != trace.segment[i]}
    first = [i for i in rows if i in ends or i == best_row]
    others = [i for i in rows if i not in set(first)]
    rest: list[int] = []
    step = 1 << max(0, len(others).bit_length() - 1)
    taken: set[int] = set()
    while step >= 1:
        for i in others[::step]:
            if i not in taken:
                taken.add(i)
                rest.append(i)
        step //= 2
    return first, rest


def _anytime(record: RunRecord, ended_s: float) -> None:
    """The anytime curve: the start (time 0), each evaluated trace row in time order, the returned transform."""
    trace, curve = record.trace, record.anytime
    curve.time_s.append(0.0)
    curve.iterations.append(0)
    curve.dense_metric.append(record.initial_metric_dense)
    curve.error_mean.append(record.initial_error_mean)
    curve.error_mean_fg.append(record.initial_error_mean_fg)
    for row in trace.positions():
        time_s = trace.time_s[row]
        if trace.dense_metric[row] is None and trace.error_mean[row] is None:
            continue  # a position that could not be evaluated
        if time_s is None:
            continue  # a hand-made trace without clocks: the point has no place on the curve's time axis
        curve.time_s.append(time_s)
        curve.iterations.append(row + 1)
        curve.dense_metric.append(trace.dense_metric[row])
        curve.error_mean.append(trace.error_mean[row])
        curve.error_mean_fg.append(trace.error_mean_fg[row])
    curve.time_s.append(max(ended_s, curve.time_s[-1]))
    curve.iterations.append(len(trace))
    curve.dense_metric.append(record.final_metric_dense)
    curve.error_mean.append(record.error_mean)
    curve.error_mean_fg.append(record.error_mean_fg)


def _level_transform(record: RunRecord, ctx: RunContext, segment: int, level: int, size: int) -> sitk.Transform | None:
    """A transform of the model that ``segment`` optimized at case ``level``, with ``size`` parameters: the
    execution's result, or for a B-spline mesh that grows per level the mesh of that level; None if neither."""
    returned = record.segments[segment].transform if segment < len(record.segments) else None
    if returned is not None and returned.GetNumberOfParameters() == size:
        return returned
    setup = ctx.setup
    if setup.transform == "bspline" and setup.mesh_scale_factors:
        dim = ctx.fixed.GetDimension()
        mesh = [int(m) * int(setup.mesh_scale_factors[level]) for m in setup.mesh_size] * (
            dim if len(setup.mesh_size) == 1 else 1
        )
        grown = sitk.BSplineTransformInitializer(ctx.fixed, mesh, order=3)
        if grown.GetNumberOfParameters() == size:
            return grown
    return None


def _best_or_last(record: RunRecord, case: Case, plan: TracePlan, evaluator: PositionEvaluator) -> None:
    """Answer "best or last?" (``returned_best`` and the regret, returned minus best) on the dense metric, against
    every position kept at the case's last level that the trace evaluation reached and the optimizer's own best
    visited (over every execution, rejected attempts too: the run did visit those positions)."""
    best = plan.best
    last_level = case.setup.levels - 1
    row = best.row if best is not None else None
    if best is not None and row is not None and record.trace.position[row] != list(best.position):
        # The level's first value was paired with the previous level's last row, but the level started elsewhere
        # (measured with cg: the position at a level's start differs from the one at the level before's last event).
        row = None
    compared = bestorlast.kept_at_last_level(record, last_level, row)
    if best is None:  # values not paired with positions (Powell): its own values still count on a dense level
        compared += bestorlast.reported_at_last_level(record, last_level)
    if best is not None and (row is None or record.trace.dense_metric[row] is None):
        # where an execution or the level started (no trace row), or a row the trace evaluation could not rebuild
        if row is not None:
            where = bestorlast.where(record.trace, row)
        elif best.row is None:
            where = f"where execution {best.segment} started"
        else:
            where = f"where execution {best.segment} started level {last_level}"
        visited = _evaluate_best_visited(record, case, plan, evaluator, row, where)
        if visited is not None:
            compared.append(visited)
    bestorlast.answer(record, compared)


def _evaluate_best_visited(
    record: RunRecord, case: Case, plan: TracePlan, evaluator: PositionEvaluator, row: int | None, where: str
) -> Compared | None:
    """The optimizer's best visited position evaluated densely (into trace ``row``, the row that holds it, if
    any), or None when its parameter layout cannot be rebuilt."""
    best = plan.best
    assert best is not None  # only called with one
    if plan.best_template is None:  # every execution raised: no parameter layout to rebuild the position with
        return None
    transform = transform_from_dict(plan.best_template)
    if transform.GetNumberOfParameters() != len(best.position):
        return None
    transform.SetParameters(best.position)
    measures = evaluator.measures(full_mapping(case.setup, case.load(), transform))
    if row is not None:
        for name, value in measures.items():
            getattr(record.trace, name)[row] = value
    dense = measures["dense_metric"]
    return None if dense is None else Compared(dense, measures.get("error_mean"), where)


def returned_best_on_dense_levels(record: RunRecord) -> bool | None:
    """Is the returned transform at least as good as every position the run visited at a dense level?

    Only levels whose values are on the dense full-resolution metric can be compared (no shrink, smoothing
    or sampling); with none, the answer is unknown (None) and a note says why.
    """
    visited = [
        level.best_metric
        for segment in record.segments
        for level in segment.levels
        if level.best_metric is not None and level.is_dense
    ]
    if not visited or record.final_metric_dense is None:
        record.notes.append(
            "returned_best unknown: no level ran on the dense full-resolution metric, so visited values are "
            "not comparable with the dense value of the returned transform"
        )
        return None
    return within_tolerance(record.final_metric_dense, min(visited))
