"""Strategies and their parameters.

A strategy is an object: it owns a frozen parameter dataclass and defaults, and its ``run`` drives one or more
``ctx.execute(method)`` calls. Variants are instances with other defaults, not subclasses::

    register(GradientDescent("gd", learning_rate=1.0))
    register(GradientDescent("gd-once", estimate_learning_rate="once"))
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import SimpleITK as sitk

if TYPE_CHECKING:
    from regbench.harness import RunContext
    from regbench.util.provenance import Provenance


class ParameterError(ValueError):
    """A parameter name or value was refused; the message lists what is valid."""


class UnsupportedSetup(ValueError):
    """The strategy cannot run on this case's setup; the message says why and what to use instead.

    Raise it from ``run`` before any ``ctx.execute``: the harness makes the run an ``error`` record with the
    message, and the other runs go on.
    """


def param(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A parameter field with help text, range and choices (shown by ``regbench list --verbose``)."""
    metadata = {"help": help, "min": min, "max": max, "min_exclusive": min_exclusive, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults: parameters are frozen")
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoParams:
    """A strategy without parameters."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as users see it."""

    name: str
    type: str
    default: Any
    help: str
    range: str

    def describe(self) -> str:
        extra = f" {self.range}" if self.range else ""
        return f"{self.name} ({self.type}, default {self.default!r}{extra}): {self.help}"


def param_specs(params_cls: type) -> list[ParamSpec]:
    hints = typing.get_type_hints(params_cls)
    specs = []
    for f in dataclasses.fields(params_cls):
        specs.append(
            ParamSpec(
                name=f.name,
                type=_type_name(hints[f.name]),
                default=f.default,
                help=f.metadata.get("help", ""),
                range=_range_text(f),
            )
        )
    return specs


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (tuple, Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        names = [_type_name(a) for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(names) + (" or none" if type(None) in typing.get_args(tp) else "")
    return getattr(tp, "__name__", str(tp))


def _range_text(f: dataclasses.Field) -> str:
    md = f.metadata
    if md.get("choices"):
        return "one of " + ", ".join(repr(c) for c in md["choices"])
    low, high = md.get("min"), md.get("max")
    lower = ">" if md.get("min_exclusive") else "≥"
    if low is not None and high is not None:
        return f"{lower} {low} and ≤ {high}"
    if low is not None:
        return f"{lower} {low}"
    if high is not None:
        return f"≤ {high}"
    return ""


def parse_params(params_cls: type, values: Mapping[str, Any] | None, *, where: str = "parameters") -> Any:
    """Build a frozen parameter instance from a dict of Python values or strings.

    Unknown names are refused with the list of valid ones; values are coerced to the field type (so
    ``"0.5"`` works from the command line) and checked against the declared range and choices.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        valid = ", ".join(fields) or "(none)"
        raise ParameterError(f"{where}: unknown parameter {', '.join(map(repr, unknown))}; valid: {valid}")
    hints = typing.get_type_hints(params_cls)
    coerced = {}
    for name, raw in values.items():
        value = _coerce(raw, hints[name], f"{where}: {name}")
        _check(value, fields[name], f"{where}: {name}")
        coerced[name] = value
    return params_cls(**coerced)


def _coerce(raw: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        is_none = raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", ""))
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(raw, arg, where)
            except ParameterError as exc:
                errors.append(str(exc))
        raise ParameterError(errors[0] if errors else f"{where}: invalid value {raw!r}")
    if origin in (tuple, Sequence) or tp is tuple:
        item_type = next((a for a in args if a is not Ellipsis), str)
        if isinstance(raw, str):
            raw = [part for part in raw.replace(";", ",").split(",") if part.strip()]
        elif not isinstance(raw, (list, tuple)):
            raw = [raw]
        return tuple(_coerce(item, item_type, where) for item in raw)
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return raw.lower() in ("true", "yes", "1", "on")
        raise ParameterError(f"{where}: expected true or false, got {raw!r}")
    if tp is int:
        if isinstance(raw, bool):
            raise ParameterError(f"{where}: expected an integer, got {raw!r}")
        try:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise ParameterError(f"{where}: expected an integer, got {raw!r}") from None
    if tp is float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ParameterError(f"{where}: expected a number, got {raw!r}") from None
        if isinstance(raw, bool) or not math.isfinite(value):
            raise ParameterError(f"{where}: expected a finite number, got {raw!r}")
        return value
    if tp is str:
        if not isinstance(raw, str):
            raise ParameterError(f"{where}: expected a string, got {raw!r}")
        return raw
    return raw


def _check(value: Any, f: dataclasses.Field, where: str) -> None:
    md = f.metadata
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if item is None:
            continue
        choices = md.get("choices")
        if choices and item not in choices:
            raise ParameterError(f"{where}: {item!r} is not one of {', '.join(map(repr, choices))}")
        low, high = md.get("min"), md.get("max")
        if low is not None and (item < low or (md.get("min_exclusive") and item == low)):
            raise ParameterError(f"{where}: {item!r} is out of range; must be {_range_text(f)}")
        if high is not None and item > high:
            raise ParameterError(f"{where}: {item!r} is out of range; must be {_range_text(f)}")


class Strategy:
    """How to optimize: sets the optimizer on methods the harness prepared from the case, and runs them.

    Subclass and implement :meth:`run` (or use :class:`SingleRunStrategy`). Set ``Params`` to a frozen
    dataclass built with :func:`param`. Instances carry the name and the variant's defaults.
    """

    Params: ClassVar[type] = NoParams
    #: How per-level iterations are counted: "events" (one sitkIterationEvent = one iteration) or "optimizer"
    #: (SimpleITK's iteration counter, for optimizers that emit an event per function evaluation).
    count_iterations: ClassVar[str] = "events"
    #: Which position the metric value of a ``sitkIterationEvent`` belongs to, so the harness can find the best
    #: position visited at the last level and answer "best or last?" (reference §3.3, §6): "current" (the
    #: position the event reports: LBFGS2, LBFGSB, Amoeba, 1+1, Exhaustive), "previous" (the position of the
    #: event before: the gradient-descent family in ITK 5.4 reports f *before* its step), or None (not tracked;
    #: ``returned_best`` is then known only where a level ran on the dense metric).
    metric_pairing: ClassVar[str | None] = None
    #: The ``Params`` field that holds the per-level iteration cap SimpleITK's optimizer counts against (an int;
    #: 0 means no cap), so the record can tell which levels stopped on it (``hit_iteration_limit``): a stop text
    #: only describes the last level. None: the strategy declares no cap (override :meth:`iteration_cap` for a
    #: cap computed from several parameters).
    iteration_cap_param: ClassVar[str | None] = None
    #: Set on a strategy registered to *demonstrate a failure* (a trap or a limit worth seeing, not a method to
    #: use): one line saying what it shows. Reports show such strategies but ``regbench recommend`` never
    #: recommends them. None (the default): an ordinary strategy. Pass ``demonstrates=...`` to the constructor.
    demonstrates: str | None = None
    #: The engine that runs the registration: "SimpleITK" (``ctx.execute``), or another one whose executions the
    #: strategy reports through ``ctx.record_external`` (e.g. "elastix").
    engine: ClassVar[str] = "SimpleITK"
    #: Why the strategy cannot run here and how to fix that (e.g. the ``pip install`` line of a missing engine), as
    #: for a case: ``regbench list`` shows it, a run of it is refused. None: it can run. Pass
    #: ``unavailable=...`` to the constructor.
    unavailable: str | None = None

    def __init__(
        self,
        name: str,
        description: str = "",
        *,
        demonstrates: str | None = None,
        unavailable: str | None = None,
        **defaults: Any,
    ) -> None:
        self.name = name
        if demonstrates is not None:
            self.demonstrates = demonstrates
        if unavailable is not None:
            self.unavailable = unavailable
        self.description = description or (type(self).__doc__ or "").strip().split("\n")[0]
        self.provenance: Provenance | None = None  # set when registered
        # Validate the variant's defaults now: a broken built-in should fail at registration, not at run time.
        self.defaults = parse_params(self.Params, defaults, where=f"strategy {name!r} defaults")
        cap = self.iteration_cap_param
        if cap is not None and cap not in {f.name for f in dataclasses.fields(self.Params)}:
            valid = ", ".join(f.name for f in dataclasses.fields(self.Params)) or "(none)"
            raise ParameterError(
                f"strategy {name!r}: iteration_cap_param {cap!r} is not a parameter of {self.Params.__name__}; "
                f"valid: {valid}"
            )

    def parse_params(self, values: Mapping[str, Any] | None = None) -> Any:
        """This variant's defaults overridden by ``values`` (validated)."""
        overrides = parse_params(self.Params, values, where=f"strategy {self.name!r}")
        given = {k: getattr(overrides, k) for k in (values or {})}
        return dataclasses.replace(self.defaults, **given)

    def param_specs(self) -> list[ParamSpec]:
        specs = param_specs(self.Params)
        return [dataclasses.replace(s, default=getattr(self.defaults, s.name)) for s in specs]

    def iteration_cap(self, params: Any) -> int | None:
        """The per-level iteration cap of a run with ``params``, to tell which levels stopped on it (None: no cap
        known). By default the value of :attr:`iteration_cap_param`; never guessed from a parameter's name."""
        if self.iteration_cap_param is None:
            return None
        return getattr(params, self.iteration_cap_param) or None

    def engine_versions(self) -> dict[str, str]:
        """The versions of the engine the strategy runs besides SimpleITK (e.g. ``{"itk-elastix": "0.25.4"}``): kept
        in the record's ``versions`` and part of its key, so an upgraded engine runs again. Keep it cheap (read
        package metadata, import nothing)."""
        return {}

    def prepare_process(self) -> None:
        """Called before each run of the strategy, outside the run's clock: pay here, once per process, what the
        first use of an engine costs (itk-elastix loads itk: 10–16 s), so no run's time includes it. Make it cheap
        the second time (cache what it loads). A failure becomes the run's error."""

    def run(self, ctx: RunContext, params: Any) -> sitk.Transform | None:
        """Run the strategy; return the transform to evaluate (None: the last execution's result)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class SingleRunStrategy(Strategy):
    """One ``Execute`` on the method the harness prepared: implement :meth:`configure`."""

    def configure(self, method: sitk.ImageRegistrationMethod, params: Any) -> None:
        """Set the optimizer (and its scales) on ``method``."""
        raise NotImplementedError

    def run(self, ctx: RunContext, params: Any) -> sitk.Transform | None:
        method = ctx.new_method()
        self.configure(method, params)
        return ctx.execute(method).transform


def corner_shift_scales(transform: sitk.Transform, image: sitk.Image, delta: float = 0.01) -> list[float]:
    """Parameter scales for gradient-free optimizers: per parameter of ``transform``, the largest displacement of
    a corner of ``image`` per unit change (a finite difference of ``delta``), in mm per unit.

    Unlike ITK's shift estimators (squared shifts, suited to gradient steps) these suit steps taken in parameter
    space. A parameter that moves no corner gets the smallest non-zero scale, as ITK's estimators do. Compute them
    on the starting transform (``method.GetInitialTransform()``) and the fixed image, then
    ``method.SetOptimizerScales(...)``; they are exact for affine maps.
    """
    import itertools

    import numpy as np
    import SimpleITK as sitk

    size = image.GetSize()
    corners = [
        image.TransformContinuousIndexToPhysicalPoint([float(c) for c in index])
        for index in itertools.product(*[(0, n - 1) for n in size])
    ]
    base = np.array([transform.TransformPoint(c) for c in corners])
    params = list(transform.GetParameters())
    shifts = []
    for i in range(len(params)):
        moved = sitk.Transform(transform).Downcast()
        moved.SetParameters((*params[:i], params[i] + delta, *params[i + 1 :]))
        points = np.array([moved.TransformPoint(c) for c in corners])
        shifts.append(float(np.linalg.norm(points - base, axis=1).max()) / delta)
    nonzero = [s for s in shifts if s > 0]
    floor = min(nonzero) if nonzero else 1.0
    return [s if s > 0 else floor for s in shifts]


@dataclass
class ProbeFamily:
    """One optimizer family for the semantics probe, registered through ``regbench_register_probe_families``.

    ``configure(method)`` sets the family's optimizer on a method that has its metric (dense mean squares), its
    interpolator and one level; the probe adds a 2-D translation and runs it on a 32² pair shifted by (1.5, -1),
    twice (once to the end, once stopped at the second event), so allow a handful of iterations. ``stop_prefix``
    is what SimpleITK puts before the colon of the family's stop-condition texts (``"PowellOptimizerv4"``);
    ``stop_pattern`` matches the start of a text, for an optimizer whose texts have no prefix (LBFGS2): a record's
    stop texts tell which family ran. ``one_event_per_iteration``: an iteration event is one iteration, not one
    evaluation, so an iteration counter back at 0 is a new run (the probe counts ``runs_per_level``).

    ``configure`` is tried once on a bare method when the family is made: one that raises makes the registering
    plugin broken, as a bad strategy does.
    """

    name: str
    configure: Callable[[sitk.ImageRegistrationMethod], None]
    stop_prefix: str | None = None
    stop_pattern: re.Pattern[str] | None = None
    one_event_per_iteration: bool = False
    provenance: Provenance | None = field(default=None, compare=False)  # set when registered

    def __post_init__(self) -> None:
        if not callable(self.configure):
            raise TypeError(f"probe family {self.name!r}: configure must be a function of the method")
        if self.stop_prefix is not None and not isinstance(self.stop_prefix, str):
            raise TypeError(f"probe family {self.name!r}: stop_prefix must be a string or None")
        if self.stop_pattern is not None and not isinstance(self.stop_pattern, re.Pattern):
            raise TypeError(f"probe family {self.name!r}: stop_pattern must be a compiled re.Pattern or None")
        try:
            self.configure(sitk.ImageRegistrationMethod())
        except Exception as exc:
            raise ValueError(f"probe family {self.name!r}: configure(method) raised {describe_exception(exc)}") from exc


def describe_exception(exc: BaseException) -> str:
    """An exception in one line of at most 200 characters."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
