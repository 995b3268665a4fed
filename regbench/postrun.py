"""After the run, outside its timed executions: the evaluation of what the optimizer visited.

The trace's kept positions get their dense metric and truth errors (within a budget counted from what the run
did, never from the clock), the record gets its anytime curve (start, kept positions, returned transform), and
"best or last?" is answered on the best position visited at the last level, re-evaluated densely.
"""

from __future__ import annotations

import SimpleITK as sitk

from regbench.evaluate import PositionEvaluator
from regbench.harness import RunContext
from regbench.record import RunRecord
from regbench.stops import is_no_overlap

# Values are only comparable to the best visited one when they are within this relative tolerance.
RETURNED_BEST_RTOL = 1e-6


def evaluate_trace(record: RunRecord, ctx: RunContext, ended_s: float) -> None:
    """Fill the trace's ``dense_metric``, ``error_mean`` and ``error_mean_fg`` at its saved positions (after the
    run, outside its timed executions), and the record's anytime curve, which ends at the returned transform
    when the strategy returned (``ended_s`` after the run started).

    The positions are evaluated within a budget (:attr:`PositionSchedule.evaluation_budget` × the run's Execute
    cost): each level's last position and the best visited first, then an evenly thinned set of the others, every
    8th, 4th, ... until the budget is spent (at least :data:`MIN_EVALUATED` of them). A dense evaluation can cost
    more than an iteration (a sampled or shrunk level iterates on fewer points), so without a budget a cheap run
    would cost several times itself. The budget is counted in evaluations, from what the run did
    (:func:`execute_cost`), never from the clock: the same key must give the same record.
    """
    _diagnostics(record, ctx)
    trace = record.trace
    best = ctx.best_visited
    if best is not None and best.row is not None and trace.position[best.row] is None:
        trace.position[best.row] = list(best.position)
    evaluator = PositionEvaluator(ctx.case, record)
    _best_or_last(record, ctx, evaluator)
    cost = execute_cost(record, ctx.fixed.GetDimension()) / EVALUATION_COST.get(ctx.setup.metric, 2.0)
    budget = ctx.positions.evaluation_budget * cost
    templates: dict[tuple[int, int], sitk.Transform | None] = {}
    first, rest = _evaluation_order(trace, best.row if best is not None else None)
    for i, row in enumerate(first + rest):
        if i >= len(first) + MIN_EVALUATED and i >= budget:
            break
        position = trace.position[row]
        key = (trace.segment[row], trace.level[row])
        if key not in templates:
            templates[key] = _level_transform(record, ctx, *key, len(position))
        if templates[key] is None:
            continue
        transform = sitk.Transform(templates[key]).Downcast()
        transform.SetParameters(position)
        for name, value in evaluator.measures(ctx.full_transform(transform)).items():
            getattr(trace, name)[row] = value
    _anytime(record, ended_s)


#: What one dense evaluation of a position costs, in full-resolution gradient-descent iterations of the same
#: metric (measured on 128² and 40³ images, one thread: mean squares 1.7–1.9; Mattes MI 6.2, which rebuilds its
#: histograms on every MetricEvaluate). Other metrics: 2.
EVALUATION_COST = {"mattes": 6.0}
#: Kept positions evaluated beyond the level ends and the best visited whatever the budget: an anytime curve
#: needs a few points, and an optimizer whose iteration costs many evaluations (a line search) looks cheap here.
MIN_EVALUATED = 8


def _diagnostics(record: RunRecord, ctx: RunContext) -> None:
    """After the executions: this SimpleITK's probed semantics (cached per version) in the record's provenance, a
    note when the strategy's declared ``metric_pairing`` disagrees with them for the optimizer that ran, and the
    case's gradient-audit warning (if one is known). The declared pairing stays what the run tracked with: the
    optimizer is only known from its stop text, after the run, and the hot path stays untouched."""
    from regbench import gradients, probe

    try:
        families = ctx.pm.probe_families()
        result = probe.semantics(ctx.pm)
    except Exception as exc:  # a probe that cannot run must not fail the run
        record.provenance["semantics"] = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        record.provenance["semantics"] = probe.as_provenance(result)
        stops = [s.stop_condition for s in record.segments]
        note = probe.pairing_note(ctx.metric_pairing, stops, result, families)
        if note and note not in record.notes:
            record.notes.append(note)
    warning = gradients.case_warning(ctx.case)
    if warning:
        record.provenance["gradient_warning"] = warning


def execute_cost(record: RunRecord, dimension: int) -> float:
    """What the run's executions cost, in full-resolution iterations: per level, its iteration events × the share
    of the full-resolution points it uses (shrink and sampling percentage). An estimate that never looks at the
    clock; an optimizer with line searches costs more than its events say, so it is evaluated less than it could."""
    cost = 0.0
    for level in record.levels:
        share = (level.sampling_percentage or 1.0) / float(level.shrink_factor or 1) ** dimension
        cost += level.iterations * share
    return cost


def _evaluation_order(trace, best_row: int | None) -> tuple[list[int], list[int]]:
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
        if trace.dense_metric[row] is None and trace.error_mean[row] is None:
            continue  # a position that could not be evaluated
        curve.time_s.append(trace.time_s[row])
        curve.iterations.append(row + 1)
        curve.dense_metric.append(trace.dense_metric[row])
        curve.error_mean.append(trace.error_mean[row])
        curve.error_mean_fg.append(trace.error_mean_fg[row])
    curve.time_s.append(max(ended_s, curve.time_s[-1]))
    curve.iterations.append(len(trace))
    curve.dense_metric.append(record.final_metric_dense)
    curve.error_mean.append(record.error_mean)
    curve.error_mean_fg.append(record.error_mean_fg)


def _level_transform(record: RunRecord, ctx: RunContext, segment: int, level: int, size: int):
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
    """Re-evaluate the best visited position of the last level densely (after the run, outside its timed
    executions) and answer "best or last?" on it: ``returned_best`` and the regret, returned minus best."""
    best = ctx.best_visited  # over every execution, rejected attempts too: the run did visit those positions
    if best is None or record.final_metric_dense is None:
        return
    template = record.segments[best.segment].transform or next(
        (s.transform for s in reversed(record.segments) if s.transform is not None), None
    )
    if template is None:  # every execution raised: no parameter layout to rebuild the position with
        return
    transform = sitk.Transform(template).Downcast()
    if transform.GetNumberOfParameters() != len(best.position):
        return
    transform.SetParameters(best.position)
    measures = evaluator.measures(ctx.full_transform(transform))
    record.best_visited_metric_dense = measures["dense_metric"]
    record.best_visited_error_mean = measures.get("error_mean")
    if record.best_visited_metric_dense is None:
        return
    if is_no_overlap(record.final_metric_dense):  # no regret figure against DBL_MAX: the returned one failed
        record.returned_best = False
        return
    record.regret_metric_dense = record.final_metric_dense - record.best_visited_metric_dense
    if record.error_mean is not None and record.best_visited_error_mean is not None:
        record.regret_error_mean = record.error_mean - record.best_visited_error_mean
    tolerance = RETURNED_BEST_RTOL * max(abs(record.best_visited_metric_dense), 1e-12)
    record.returned_best = record.regret_metric_dense <= tolerance
    record.notes = [n for n in record.notes if not n.startswith("returned_best unknown")]
    if not record.returned_best:
        record.notes.append(
            f"returned the last iterate, not the best visited: segment {best.segment}, iteration {best.iteration} "
            f"of the last level had dense metric {record.best_visited_metric_dense:.6g} against "
            f"{record.final_metric_dense:.6g} returned"
        )


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
    best = min(visited)
    return record.final_metric_dense <= best + RETURNED_BEST_RTOL * max(abs(best), 1e-12)
