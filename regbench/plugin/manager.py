"""The plugin manager: built-ins, entry points, validation, provenance, broken plugins, typed hook calls.

There is no global manager: call :func:`make_plugin_manager` (tests build their own). The returned manager is a
``pluggy.PluginManager`` with a typed facade (``strategies()``, ``cases()``, ``classify_stop()``...), so the
rest of regbench never calls the untyped ``pm.hook.*``. Every call goes through pluggy, so pluggy's rules hold
(last registered first, ``tryfirst``/``trylast``, wrappers around the others, ``firstresult``) and hook-call
monitoring (``add_hookcall_monitoring``, ``enable_tracing``, ``REGBENCH_TRACE_HOOKS``) sees every call.

A plugin that cannot load (its import fails, it implements a hook that does not exist, pluggy refuses it, its
register hook raises, it registers a name that is taken or not allowed) is a :class:`BrokenPlugin`: it is
unregistered and either raised as a :class:`PluginError` (``strict=True``, the Python API's default) or kept in
:attr:`RegbenchPluginManager.broken` for the caller to report (``regbench list`` and ``regbench run`` do).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from regbench import hookspecs
from regbench.evaluation.stops import CATEGORIES
from regbench.plugin.hookcalls import culprit, describe, impl_codes, one_line, running_impl, short, trace_writer, tracer
from regbench.plugin.items import _lookup, _Refused
from regbench.plugin.sources import (
    AUTOLOAD_ENV,
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    TRACE_ENV,
    _builtin_distribution,
    _env_list,
)
from regbench.record import MEASURE_FIELDS  # re-exported: the fields regbench_evaluate may fill
from regbench.util.provenance import (
    BLOCK_ENV,
    NAME_PATTERN,
    NAME_RULE,
    BrokenPlugin,
    PluginError,
    Provenance,
    name_problem,
)

if TYPE_CHECKING:
    from regbench.cases.case import Case
    from regbench.harness import RunContext
    from regbench.record import IterationEvent, RunRecord, Segment
    from regbench.strategy import ProbeFamily, Strategy

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "MEASURE_FIELDS",
    "NAME_PATTERN",
    "NAME_RULE",
    "TRACE_ENV",
    "BrokenPlugin",
    "PluginError",
    "Provenance",
    "RegbenchPluginManager",
    "hook_names",
    "make_plugin_manager",
    "name_problem",
]


class RegbenchPluginManager(pluggy.PluginManager):
    """pluggy's manager plus typed access to what the plugins registered, and the plugins that could not load."""

    def __init__(self, strict: bool = True) -> None:
        super().__init__("regbench")
        self.add_hookspecs(hookspecs)
        #: Raise :class:`PluginError` at the first broken plugin (else keep it in :attr:`broken`).
        self.strict = strict
        self.broken: list[BrokenPlugin] = []
        self._distributions: dict[str, tuple[str, str | None]] = {}
        self._strategies: dict[str, Strategy] | None = None
        self._cases: dict[str, Case] | None = None
        self._probe_families: dict[str, ProbeFamily] | None = None
        self._refused_stops: dict[str, str] = {}
        self._loaded: dict[str, int] = {}  # plugin name -> when it was registered (a clash blames the later one)

    def register(self, plugin: object, name: str | None = None) -> str | None:
        # What plugins register is collected once; a plugin registered (or removed) later must be seen.
        self._strategies = self._cases = self._probe_families = None
        registered = super().register(plugin, name)
        if registered is not None:
            self._loaded[registered] = len(self._loaded)
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._strategies = self._cases = self._probe_families = None
        return super().unregister(plugin, name)

    # -- loading -------------------------------------------------------------------------------------------

    def add_plugin(
        self, plugin: object, name: str | None = None, distribution: tuple[str, str | None] | None = None
    ) -> bool:
        """Register ``plugin`` (under ``name``) unless it is blocked or already registered under any name; a plugin
        pluggy refuses or that implements a hook that does not exist is broken. True when it was registered."""
        if (name and self.is_blocked(name)) or self.is_registered(plugin):
            return False
        try:
            registered = self.register(plugin, name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self._mark_broken(name or repr(plugin), f"pluggy refused it: {exc}", distribution)
            return False
        if registered is None:  # blocked by pluggy
            return False
        if distribution:
            self._distributions[registered] = distribution
        self._check_hooks(registered, plugin)
        return self.is_registered(plugin)

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every installed plugin of the entry-point group; one that fails to import is broken."""
        for ep in importlib.metadata.entry_points(group=group):
            dist = ep.dist
            distribution = (dist.metadata["Name"], dist.version) if dist is not None else None
            if self.is_blocked(ep.name) or (distribution and self.is_blocked(distribution[0])):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._mark_broken(ep.name, f"failed to import ({ep.value}): {describe(exc)}", distribution)
                continue
            taken = self.get_plugin(ep.name)
            if taken is not None and taken is not plugin:
                owner = self.provenance(ep.name)
                problem = f"its entry-point name {ep.name!r} is already the name of plugin {owner}"
                self._mark_broken(ep.name, problem, distribution, unregister=False)
                continue
            self.add_plugin(plugin, ep.name, distribution)

    def validate(self) -> None:
        """Check every registered plugin as :meth:`add_plugin` does (a hook that does not exist is an error, not
        silence); for plugins registered with plain ``register()``, such as the test kit's ``register_plugin``."""
        for name, plugin in list(self.list_name_plugin()):
            if plugin is not None:
                self._check_hooks(name, plugin)

    def _check_hooks(self, name: str, plugin: object) -> None:
        unknown = sorted(
            caller.name
            for caller in self.get_hookcallers(plugin) or []
            if not caller.has_spec()
            and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
        )
        if unknown:
            which = "is no regbench hook" if len(unknown) == 1 else "are no regbench hooks"
            hooks = ", ".join(hook_names())
            self._mark_broken(name, f"it implements {', '.join(unknown)}, which {which} (misspelled?); hooks: {hooks}")

    def _mark_broken(
        self,
        name: str,
        problem: str,
        distribution: tuple[str, str | None] | None = None,
        unregister: bool = True,
    ) -> None:
        origin = distribution or self._distributions.get(name) or _builtin_distribution(name)
        dist_name, version = origin or (None, None)
        broken = BrokenPlugin(name, dist_name, version, problem=one_line(problem))
        plugin = self.get_plugin(name) if unregister else None
        if plugin is not None:
            self.unregister(plugin)
        self.broken.append(broken)
        if self.strict:
            raise PluginError(broken.message)

    def provenance(self, plugin_name: str) -> Provenance:
        dist = self._distributions.get(plugin_name) or _builtin_distribution(plugin_name)
        return Provenance(plugin_name, *(dist or (None, None)))

    # -- discovery -----------------------------------------------------------------------------------------

    def strategies(self) -> dict[str, Strategy]:
        """Every registered strategy by name (collected once)."""
        if self._strategies is None:
            self._strategies = self._collect("regbench_register_strategies", "strategy")
        return self._strategies

    def cases(self) -> dict[str, Case]:
        """Every registered case by name (collected once; images load lazily)."""
        if self._cases is None:
            self._cases = self._collect("regbench_register_cases", "case")
        return self._cases

    def probe_families(self) -> dict[str, ProbeFamily]:
        """Every optimizer family the semantics probe measures, by name (collected once)."""
        if self._probe_families is None:
            self._probe_families = self._collect("regbench_register_probe_families", "probe family")
        return self._probe_families

    def get_strategy(self, name: str) -> Strategy:
        return _lookup(self.strategies(), name, "strategy")

    def get_case(self, name: str) -> Case:
        return _lookup(self.cases(), name, "case")

    def _collect(self, hook_name: str, kind: str) -> dict[str, Any]:
        """One pluggy call of a register hook; each item is attributed to the plugin whose implementation is
        running when it calls ``register``. A plugin whose implementation raises is broken: it is left out and the
        call is made again without it (register hooks only register, so repeating them is harmless)."""
        while True:
            hook = getattr(self.hook, hook_name)
            owners = impl_codes(hook.get_hookimpls())
            found: dict[str, Any] = {}
            owner_of: dict[str, str] = {}
            call = {"open": True}

            def register(item: Any, _owners=owners, _found=found, _owner_of=owner_of, _call=call) -> None:
                impl = running_impl(_owners)
                plugin = impl.plugin_name if impl is not None else "(unknown)"
                if not _call["open"]:
                    raise _Refused(plugin, f"it called register() after {hook_name} returned")
                problem = _item_problem(item, kind)
                if problem is not None:
                    raise _Refused(plugin, problem)
                if item.name in _found:  # the plugin loaded later is at fault, whichever pluggy called first
                    first, later = sorted((plugin, _owner_of[item.name]), key=lambda n: self._loaded.get(n, -1))
                    other = self.provenance(first)
                    raise _Refused(
                        later, f"its {kind} name {item.name!r} is also registered by plugin {other}, loaded first"
                    )
                item.provenance = self.provenance(plugin)
                _found[item.name] = item
                _owner_of[item.name] = plugin

            try:
                hook(register=register)
            except _Refused as exc:
                self._mark_broken(exc.plugin, exc.problem)
                continue
            except Exception as exc:
                impl = culprit(exc, owners)
                if impl is None:
                    raise PluginError(f"{hook_name} failed outside any plugin: {describe(exc)}") from exc
                self._mark_broken(impl.plugin_name, f"its {hook_name} raised {describe(exc)}")
                continue
            finally:
                call["open"] = False
            return found

    # -- typed hook calls ----------------------------------------------------------------------------------

    def classify_stop(self, text: str, segment: Segment | None = None) -> str:
        """The stop category of ``text`` (firstresult): ``unknown`` when no plugin knows it, or when the answer is
        not in the vocabulary (:meth:`refused_stop_category` then tells what was answered)."""
        try:
            category = self.hook.regbench_classify_stop(text=text, segment=segment)
        except Exception as exc:
            raise PluginError(self._failure("regbench_classify_stop", exc)) from exc
        if category is None:
            return "unknown"
        if not isinstance(category, str) or category not in CATEGORIES:
            if len(self._refused_stops) >= 256:
                self._refused_stops.pop(next(iter(self._refused_stops)))
            self._refused_stops[text] = repr(category)
            return "unknown"
        return category

    def refused_stop_category(self, text: str) -> str | None:
        """What a ``regbench_classify_stop`` implementation answered for ``text`` when it was not a category."""
        return self._refused_stops.get(text)

    def evaluate(self, case: Case, transform: Any, record: RunRecord) -> list[Mapping[str, Any]]:
        """The ``regbench_evaluate`` results (pluggy's list: None results dropped). An implementation that raises
        is noted in the record and the call is made again without it, so one evaluation bug loses only its own
        measures (which is why evaluations must be free of side effects)."""
        left_out: list[object] = []
        while True:
            caller = self.subset_hook_caller("regbench_evaluate", left_out) if left_out else self.hook.regbench_evaluate
            try:
                results = caller(case=case, transform=transform, record=record)
            except Exception as exc:
                impl = culprit(exc, impl_codes(caller.get_hookimpls()))
                if impl is None:
                    raise
                record.notes.append(
                    f"{self._failure('regbench_evaluate', exc)}; its measures are missing (the other evaluations "
                    "ran without it)"
                )
                left_out.append(impl.plugin)
                continue
            if not isinstance(results, list):
                record.notes.append(f"regbench_evaluate returned {short(results)}, not a list (a wrapper's doing?)")
                return []
            return [r for r in results if r is not None]

    def has_iteration_observers(self) -> bool:
        return bool(self.hook.regbench_record_iteration.get_hookimpls())

    def record_iteration(self, run: RunContext, event: IterationEvent) -> None:
        """Tell every observer; an exception ends the execution (SimpleITK raises from ``Execute``), after a note
        naming the plugin (SimpleITK's own error text does not carry the exception's)."""
        try:
            self.hook.regbench_record_iteration(run=run, event=event)
        except Exception as exc:
            failure = self._failure("regbench_record_iteration", exc)
            run.record.notes.append(failure)
            raise PluginError(failure) from exc

    def run_finished(self, record: RunRecord, run: RunContext | None = None) -> None:
        """Tell every plugin; an exception is noted in the record, which is kept. As in any pluggy call, the
        implementations after the one that raised do not run for this record."""
        try:
            self.hook.regbench_run_finished(record=record, run=run)
        except Exception as exc:
            record.notes.append(f"{self._failure('regbench_run_finished', exc)}; the record is kept")

    def _failure(self, hook_name: str, exc: BaseException) -> str:
        impl = culprit(exc, impl_codes(getattr(self.hook, hook_name).get_hookimpls()))
        who = f"plugin {self.provenance(impl.plugin_name)}" if impl is not None else "a plugin"
        return f"{who} failed in {hook_name}: {describe(exc)}"

    # -- monitoring ---------------------------------------------------------------------------------------

    def trace_hook_calls(self, write: Callable[[str], None]) -> Callable[[], None]:
        """Write a line before and after every hook call (pluggy's hook-call monitoring); returns the undo."""
        return self.add_hookcall_monitoring(*tracer(write))


# -- helpers -------------------------------------------------------------------------------------------------


def _item_problem(item: Any, kind: str) -> str | None:
    from regbench.cases.case import Case
    from regbench.strategy import ProbeFamily, Strategy

    expected: type[Strategy | Case | ProbeFamily]  # narrows `item` to a registered kind, which has a name
    expected = {"strategy": Strategy, "case": Case, "probe family": ProbeFamily}[kind]
    if not isinstance(item, expected):
        hint = ""
        if isinstance(item, type):
            hint = f" (a class: register an instance, e.g. register({item.__name__}('my-{kind}', ...)))"
        return f"it registered {short(item)} as a {kind}, not a regbench.{expected.__name__} instance{hint}"
    return name_problem(item.name, kind)


def make_plugin_manager(
    entrypoints: bool = True,
    plugins: Iterable[Any] = (),
    builtins: Iterable[str] = BUILTIN_PLUGINS,
    *,
    strict: bool = True,
) -> RegbenchPluginManager:
    """A fresh plugin manager: built-ins by module name, then entry points, then ``plugins`` (objects, or module
    names, as ``--plugin`` gives them). A plugin already registered under any name (a ``--plugin`` module that is
    also installed) is registered once, under its first name.

    ``REGBENCH_DISABLE_PLUGIN_AUTOLOAD`` (any non-empty value) skips entry points; ``REGBENCH_BLOCK_PLUGINS``
    (comma-separated plugin, module, entry-point or distribution names) skips plugins; ``REGBENCH_TRACE_HOOKS``
    traces every hook call. A broken plugin raises :class:`PluginError` naming it, its distribution and how to
    skip it (``strict=True``), or is kept in :attr:`RegbenchPluginManager.broken` (``strict=False``).
    """
    pm = RegbenchPluginManager(strict=strict)
    for blocked in _env_list(BLOCK_ENV):
        pm.set_blocked(blocked)
    for module_name in builtins:
        module = _import_plugin(pm, module_name)
        if module is not None:
            pm.add_plugin(module, module_name)
    if entrypoints and not os.environ.get(AUTOLOAD_ENV):
        pm.load_entrypoints()
    for plugin in plugins:
        name = plugin if isinstance(plugin, str) else None
        if name is not None:
            plugin = _import_plugin(pm, name)
            if plugin is None:
                continue
        pm.add_plugin(plugin, name)
    trace = os.environ.get(TRACE_ENV, "").strip()
    if trace and trace != "0":
        pm.trace_hook_calls(trace_writer(trace, TRACE_ENV))
    return pm


def _import_plugin(pm: RegbenchPluginManager, name: str) -> object | None:
    """The plugin module ``name`` (a built-in or a ``--plugin`` one), or None: blocked, or broken (then marked)."""
    if pm.is_blocked(name):
        return None
    try:
        return importlib.import_module(name)
    except Exception as exc:
        pm._mark_broken(name, f"failed to import: {describe(exc)}")
        return None


def hook_names() -> list[str]:
    """Every hook in the spec (for docs and meta-tests)."""
    return sorted(name for name in dir(hookspecs) if name.startswith("regbench_"))
