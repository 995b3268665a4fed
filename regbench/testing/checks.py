"""The strategy contract: named checks a third-party strategy must pass, and a tiny case to run them on.

Modelled on scikit-learn's ``check_estimator``: each ``check_*`` function tests one rule and raises
:class:`StrategyCheckFailed` naming the strategy, the rule and what to fix. :func:`check_strategy` runs them all;
:func:`parametrize_with_checks` makes one pytest test per strategy and check. The pytest fixtures live in
:mod:`regbench.testing`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from regbench.cases.case import Case, CaseError
from regbench.cases.tiny import make_failing_case, make_tiny_case
from regbench.evaluation.outcomes import NO_OVERLAP_FIELDS
from regbench.plugin.manager import RegbenchPluginManager, name_problem
from regbench.record import RunRecord
from regbench.run import run_one
from regbench.strategy import ParameterError, Strategy
from regbench.testing.check_runs import manager as _manager
from regbench.testing.check_runs import record_hint as _record_hint
from regbench.testing.check_runs import run as _cached_run
from regbench.testing.check_runs import run_case as _run_case
from regbench.util.strict_json import to_jsonable
from regbench.util.transforms import transform_from_dict, transform_to_dict

if TYPE_CHECKING:  # pytest is a test-time tool, not a runtime dependency: only parametrize_with_checks imports it
    import pytest

__all__ = [
    "StrategyCheckFailed",
    "StrategyCheckWarning",
    "check_failure_recorded",
    "check_iteration_cap",
    "check_name",
    "check_params_dataclass",
    "check_params_help",
    "check_params_rejects_unknown",
    "check_params_round_trip",
    "check_record_complete",
    "check_record_strict_json",
    "check_reproducible",
    "check_runs_through_execute",
    "check_stop_classified",
    "check_strategy",
    "check_transform_rebuildable",
    "make_failing_case",
    "make_tiny_case",
    "parametrize_with_checks",
    "strategy_checks",
]


class StrategyCheckFailed(AssertionError):
    """A strategy broke a rule of the contract; the message says which and what to fix."""


class StrategyCheckWarning(UserWarning):
    """A rule was relaxed on request (e.g. an unclassified stop text from a new optimizer)."""


def _fail(strategy: Strategy, rule: str, message: str) -> NoReturn:
    raise StrategyCheckFailed(f"strategy {getattr(strategy, 'name', strategy)!r} fails {rule}: {message}")


def _run(strategy: Strategy, case: Case | None, pm: RegbenchPluginManager | None, *, fresh: bool = False) -> RunRecord:
    """The shared run of the run checks; a run ``run_one`` refuses before it starts (a name ``register()`` would
    refuse too, bad parameters) fails the check that needs it, with the reason."""
    try:
        return _cached_run(strategy, case, pm, fresh=fresh)
    except (ParameterError, CaseError) as exc:
        _fail(strategy, "a run check (the run was refused)", str(exc))


# -- the contract: rules on the strategy object ----------------------------------------------------------------


def check_name(strategy: Strategy) -> None:
    """The name is one registration accepts: letters, digits and ``. _ + -``, starting with a letter or digit (names
    go into command lines, globs, ``strategy.param=value`` grids, file names and reports)."""
    problem = name_problem(getattr(strategy, "name", None), "strategy")
    if problem is not None:
        _fail(strategy, "check_name", problem)


def check_iteration_cap(strategy: Strategy) -> None:
    """The iteration cap, if the strategy declares one, is a whole number of its defaults (or None): the record's
    ``hit_iteration_limit`` reads it (``Strategy.iteration_cap_param`` or an ``iteration_cap`` override)."""
    try:
        cap = strategy.iteration_cap(strategy.defaults)
    except Exception as exc:
        _fail(strategy, "check_iteration_cap", f"iteration_cap(defaults) raised {type(exc).__name__}: {exc}")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        _fail(strategy, "check_iteration_cap", f"iteration_cap(defaults) is {cap!r}, not an int ≥ 0 or None")


def check_params_dataclass(strategy: Strategy) -> None:
    """``Params`` is a frozen dataclass and every field has a default."""
    params_cls = strategy.Params
    if not (isinstance(params_cls, type) and dataclasses.is_dataclass(params_cls)):
        _fail(strategy, "check_params_dataclass", f"Params must be a dataclass, got {params_cls!r}")
    if not params_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # set by @dataclass
        _fail(strategy, "check_params_dataclass", f"{params_cls.__name__} must be @dataclass(frozen=True)")
    missing = [f.name for f in dataclasses.fields(params_cls) if f.default is dataclasses.MISSING]
    if missing:
        _fail(strategy, "check_params_dataclass", f"fields without a default: {', '.join(missing)}")
    if not isinstance(strategy.defaults, params_cls):
        _fail(strategy, "check_params_dataclass", "strategy.defaults is not a Params instance")


def check_params_help(strategy: Strategy) -> None:
    """Every parameter has help text (declare fields with ``regbench.param(default, help)``)."""
    missing = [spec.name for spec in strategy.param_specs() if not spec.help.strip()]
    if missing:
        _fail(strategy, "check_params_help", f"no help text for {', '.join(missing)}; use regbench.param(..)")


def _cli_text(value: Any) -> str:
    """How a user types ``value`` after ``--param name=``."""
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(_cli_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def check_params_round_trip(strategy: Strategy) -> None:
    """The defaults survive ``parse_params`` of their own values, of their command-line strings and of their
    JSON form (what a record stores)."""
    defaults = strategy.defaults
    values = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    forms = {
        "Python values": values,
        "command-line strings": {k: _cli_text(v) for k, v in values.items()},
        "JSON (as stored in a record)": json.loads(json.dumps(to_jsonable(values))),
    }
    for label, given in forms.items():
        try:
            parsed = strategy.parse_params(given)
        except ParameterError as exc:
            _fail(strategy, "check_params_round_trip", f"defaults as {label} were refused: {exc}")
        if parsed != defaults:
            diff = {k: getattr(parsed, k) for k in values if getattr(parsed, k) != values[k]}
            _fail(strategy, "check_params_round_trip", f"defaults as {label} parse to other values: {diff}")


def check_params_rejects_unknown(strategy: Strategy) -> None:
    """An unknown parameter name is refused with a ``ParameterError`` that lists the valid names."""
    try:
        strategy.parse_params({"no_such_parameter_xyz": 1})
    except ParameterError as exc:
        valid = [f.name for f in dataclasses.fields(strategy.Params)]
        if "no_such_parameter_xyz" not in str(exc) or not all(name in str(exc) for name in valid):
            _fail(strategy, "check_params_rejects_unknown", f"the message must name the key and list {valid}")
        return
    _fail(strategy, "check_params_rejects_unknown", "parse_params accepted an unknown parameter name")


# -- the contract: rules on a run ------------------------------------------------------------------------------


def check_runs_through_execute(
    strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None
) -> None:
    """The strategy runs on the case through ``ctx.execute`` (at least one recorded segment with levels)."""
    record = _run(strategy, case, pm)
    if not record.segments:
        _fail(
            strategy,
            "check_runs_through_execute",
            "no segment was recorded: call ctx.execute(ctx.new_method()), never method.Execute() ("
            + _record_hint(record)
            + ")",
        )
    if not all(segment.levels for segment in record.segments if not segment.error):
        _fail(strategy, "check_runs_through_execute", "a segment recorded no pyramid level (no events seen)")


def check_record_complete(
    strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None
) -> None:
    """The run succeeded and its record holds what reports need: iterations, outcome, dense metrics, error
    against truth, the transform, timing and the parameters actually used."""
    record = _run(strategy, case, pm)
    if record.status != "ok":
        _fail(strategy, "check_record_complete", f"the run on the case failed: {_record_hint(record)}")
    required = ["outcome", "initial_metric_dense", "final_metric_dense", "transform", "wall_time_s"]
    if _run_case(case).load().truth is not None:
        required.append("error_mean")
    if record.outcome == "no_overlap":  # the dense metric there is None by design (SimpleITK's DBL_MAX, cleared)
        required = [name for name in required if name not in NO_OVERLAP_FIELDS]
    missing = [name for name in required if getattr(record, name) is None]
    if missing:
        _fail(strategy, "check_record_complete", f"record fields left empty: {', '.join(missing)}")
    if record.iterations <= 0:
        _fail(strategy, "check_record_complete", f"iterations is {record.iterations}: no iteration event seen")
    expected = to_jsonable(dataclasses.asdict(strategy.defaults))
    if record.params != expected:
        _fail(strategy, "check_record_complete", f"record params {record.params} are not the defaults {expected}")


def check_stop_classified(
    strategy: Strategy,
    case: Case | None = None,
    pm: RegbenchPluginManager | None = None,
    *,
    allow_unknown_stop: bool = False,
) -> None:
    """Every segment's stop text maps to a category (not ``unknown``). For an optimizer regbench does not know
    yet, add a ``regbench_classify_stop`` hook to your plugin, or pass ``allow_unknown_stop=True`` to get a
    warning instead of a failure."""
    record = _run(strategy, case, pm)
    unknown = [s.stop_condition for s in record.segments if s.stop_category == "unknown"]
    if not unknown:
        return
    message = (
        f"stop text {unknown[0]!r} is not classified; implement regbench_classify_stop in your plugin "
        "and pass pm=make_plugin_manager(plugins=[your_plugin])"
    )
    if allow_unknown_stop:
        warnings.warn(f"strategy {strategy.name!r}: {message}", StrategyCheckWarning, stacklevel=2)
        return
    _fail(strategy, "check_stop_classified", message)


def check_record_strict_json(
    strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None
) -> None:
    """The record is strict JSON (no NaN, Infinity or numpy scalars) and reads back identically."""
    record = _run(strategy, case, pm)
    data = record.to_dict()
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        _fail(strategy, "check_record_strict_json", f"not strict JSON: {exc} (measures: {record.measures})")
    if RunRecord.from_json(text).to_dict() != data:
        _fail(strategy, "check_record_strict_json", "RunRecord.from_json(to_json()) differs from the record")


def check_transform_rebuildable(
    strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None
) -> None:
    """The returned transform rebuilds exactly from the record (``regbench.util.transforms.transform_from_dict``)."""
    record = _run(strategy, case, pm)
    if record.transform is None:
        _fail(strategy, "check_transform_rebuildable", f"the record has no transform ({_record_hint(record)})")
    try:
        rebuilt = transform_from_dict(record.transform)
    except (KeyError, ValueError, RuntimeError) as exc:
        _fail(strategy, "check_transform_rebuildable", f"transform_from_dict failed: {exc}")
    if transform_to_dict(rebuilt) != record.transform:
        _fail(strategy, "check_transform_rebuildable", "the rebuilt transform differs from the recorded one")


def _repeatable(record: RunRecord) -> dict[str, Any]:
    # The timings measure the machine; ``measures`` too may, as strategies can put their own cost there.
    data = record.without_timings()
    data.pop("measures")
    return data


def check_reproducible(strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None) -> None:
    """Same strategy, case, seed and threads give the same record (timing and measures aside). Anything random in a
    strategy must come from ``ctx.rng`` or ``ctx.seed`` (an optimizer seed of 0 means the wall clock)."""
    first = _repeatable(_run(strategy, case, pm))
    second = _repeatable(_run(strategy, case, pm, fresh=True))
    if first != second:
        differing = sorted(k for k in first if first[k] != second.get(k))
        _fail(strategy, "check_reproducible", f"two runs with seed 0 and 1 thread differ in {', '.join(differing)}")


def check_failure_recorded(
    strategy: Strategy, case: Case | None = None, pm: RegbenchPluginManager | None = None
) -> None:
    """When ``Execute`` fails (here: Mattes MI on images that do not overlap), ``run_one`` returns an
    ``error`` record holding the failed segment: the strategy neither raises nor hides the failure."""
    del case  # the failure needs its own case
    try:
        record = run_one(strategy, make_failing_case(), seed=0, threads=1, pm=_manager(pm))
    except Exception as exc:
        _fail(strategy, "check_failure_recorded", f"run_one raised {type(exc).__name__}: {exc}")
    if (
        record.status == "ok"
        and record.segments
        and not any(s.error for s in record.segments)
        and not record.iterations
    ):
        _fail(
            strategy,
            "check_failure_recorded",
            "the strategy ran 0 iterations, so no Execute evaluated the metric and none could fail on images that do "
            "not overlap: give it an iteration budget of at least 1 (check_record_complete says the same)",
        )
    if record.status != "error" or not record.error:
        _fail(
            strategy,
            "check_failure_recorded",
            f"every Execute failed but the record says status {record.status!r}: let ExecutionFailed propagate "
            "(or re-raise it) instead of returning a transform",
        )
    if not any(segment.error for segment in record.segments):
        _fail(strategy, "check_failure_recorded", "the failed execution is missing from record.segments")
    json.dumps(record.to_dict(), allow_nan=False)


# -- running the checks ----------------------------------------------------------------------------------------

_STRATEGY_CHECKS = (
    check_name,
    check_iteration_cap,
    check_params_dataclass,
    check_params_help,
    check_params_round_trip,
    check_params_rejects_unknown,
)
_RUN_CHECKS = (
    check_runs_through_execute,
    check_record_complete,
    check_stop_classified,
    check_record_strict_json,
    check_transform_rebuildable,
    check_reproducible,
    check_failure_recorded,
)


def strategy_checks(
    case: Case | None = None, pm: RegbenchPluginManager | None = None, *, allow_unknown_stop: bool = False
) -> Iterator[Callable[[Strategy], None]]:
    """Every check, bound to ``case`` and ``pm``, as callables taking the strategy (each has ``__name__``)."""
    yield from _STRATEGY_CHECKS
    for check in _RUN_CHECKS:
        options: dict[str, Any] = {"allow_unknown_stop": allow_unknown_stop} if check is check_stop_classified else {}
        bound = functools.partial(check, case=case, pm=pm, **options)
        functools.update_wrapper(bound, check)
        yield bound


def check_strategy(
    strategy: Strategy,
    case: Case | None = None,
    pm: RegbenchPluginManager | None = None,
    *,
    allow_unknown_stop: bool = False,
) -> None:
    """Run every check on ``strategy`` (on ``case``, default the tiny case, with plugin manager ``pm``, default
    the built-ins); raise :class:`StrategyCheckFailed` listing every rule it breaks."""
    failures = []
    for check in strategy_checks(case, pm, allow_unknown_stop=allow_unknown_stop):
        try:
            check(strategy)
        except StrategyCheckFailed as exc:
            failures.append(str(exc))
    if failures:
        raise StrategyCheckFailed(f"{len(failures)} check(s) failed:\n- " + "\n- ".join(failures))


def parametrize_with_checks(
    strategies: Iterable[Strategy],
    case: Case | None = None,
    pm: RegbenchPluginManager | None = None,
    *,
    allow_unknown_stop: bool = False,
) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize`` over (strategy, check) with ids ``<strategy>-<check>``; the test body is
    ``check(strategy)``."""
    import pytest  # here, not at the top: check_strategy and the check_* functions work without pytest

    params = [
        pytest.param(strategy, check, id=f"{strategy.name}-{check.__name__}")
        for strategy in strategies
        for check in strategy_checks(case, pm, allow_unknown_stop=allow_unknown_stop)
    ]
    return pytest.mark.parametrize(("strategy", "check"), params)
