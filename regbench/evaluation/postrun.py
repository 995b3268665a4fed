"""After the run, outside its timed executions: the evaluation of what the optimizer visited.

The trace's kept positions get their dense metric and truth errors (within a budget counted from what the run
did, never from the clock), the record gets its anytime curve (start, kept positions, returned transform), and
"best or last?" is answered on the dense metric against every position kept at the last level and the optimizer's
own best visited (:mod:`regbench.evaluation.best_or_last`).
"""

from __future__ import annotations

import SimpleITK as sitk

from regbench.evaluation import best_or_last as bestorlast
from regbench.evaluation.best_or_last import Compared, within_tolerance
from regbench.evaluation.measures import PositionEvaluator
from regbench.harness import BestVisited, RunContext
from regbench.record import RunRecord
from regbench.trace import Trace


def evaluate_trace(record: RunRecord, ctx: RunContext, ended_s: float) -> None:
    """Fill the trace's ``dense_metric``, ``error_mean`` and ``error_mean_fg`` at its saved positions (after the
    run, outside its timed executions), answer "best or last?" on those of the last level (:func:`_best_or_last`),
    and build the record's anytime curve, which ends at the returned transform when the strategy returned
    (``ended_s`` after the run started).

    The positions are evaluated within a budget (:attr:`PositionSchedule.evaluation_budget` × the run's Execute
    cost): each level's last position and the best visited first, then an evenly thinned set of the others, every
    8th, 4th, ... until the budget is spent (at least :data:`MIN_EVALUATED` of them). A dense evaluation can cost
    more than an iteration (a sampled or shrunk level iterates on fewer points), so without a budget a cheap run
    would cost several times itself. The budget is counted in evaluations, from what the run did
    (:func:`execute_cost`), never from the clock: the same key must give the same record.
    """
    trace = record.trace
    best = ctx.best_visited
    if best is not None and best.row is not None and trace.position[best.row] is None:
        trace.position[best.row] = list(best.position)
    evaluator = PositionEvaluator(ctx.case, record)
    cost = execute_cost(record, ctx.fixed.GetDimension()) / EVALUATION_COST.get(ctx.setup.metric, 2.0)
    budget = ctx.positions.evaluation_budget * cost
    templates: dict[tuple[int, int], sitk.Transform | None] = {}
    first, rest = _evaluation_order(trace, best.row if best is not None else None)
    for i, row in enumerate(first + rest):
        if i >= len(first) + MIN_EVALUATED and i >= budget:
            break
        position = trace.position[row]
        assert position is not None  # the rows are trace.positions(): each has one
        key = (trace.segment[row], trace.level[row])
        if key not in templates:
            templates[key] = _level_transform(record, ctx, *key, len(position))
        if templates[key] is None:
            continue
        transform = sitk.Transform(templates[key]).Downcast()
        transform.SetParameters(position)
        for name, value in evaluator.measures(ctx.full_transform(transform)).items():
            getattr(trace, name)[row] = value
    _best_or_last(record, ctx, evaluator)
    _anytime(record, ended_s)


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


def _best_or_last(record: RunRecord, ctx: RunContext, evaluator: PositionEvaluator) -> None:
    """Answer "best or last?" (``returned_best`` and the regret, returned minus best) on the dense metric, against
    every position kept at the case's last level that the trace evaluation reached and the optimizer's own best
    visited (over every execution, rejected attempts too: the run did visit those positions)."""
    best = ctx.best_visited
    last_level = ctx.setup.levels - 1
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
        visited = _evaluate_best_visited(record, ctx, evaluator, best, row, where)
        if visited is not None:
            compared.append(visited)
    bestorlast.answer(record, compared)


def _evaluate_best_visited(
    record: RunRecord, ctx: RunContext, evaluator: PositionEvaluator, best: BestVisited, row: int | None, where: str
) -> Compared | None:
    """The optimizer's best visited position evaluated densely (into trace ``row``, the row that holds it, if
    any), or None when its parameter layout cannot be rebuilt."""
    template = record.segments[best.segment].transform or next(
        (s.transform for s in reversed(record.segments) if s.transform is not None), None
    )
    if template is None:  # every execution raised: no parameter layout to rebuild the position with
        return None
    transform = sitk.Transform(template).Downcast()
    if transform.GetNumberOfParameters() != len(best.position):
        return None
    transform.SetParameters(best.position)
    measures = evaluator.measures(ctx.full_transform(transform))
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
