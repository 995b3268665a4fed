"""The plugin manager: built-ins, entry points, validation, provenance.

There is no global manager: call :func:`make_plugin_manager` (tests build their own). The returned manager is a
``pluggy.PluginManager`` with a typed facade (``strategies()``, ``cases()``, ``classify_stop()``...), so the
rest of regbench never calls the untyped ``pm.hook.*``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from regbench import hookspecs

if TYPE_CHECKING:
    from regbench.cases import Case
    from regbench.record import IterationEvent, RunRecord, Segment
    from regbench.strategy import Strategy

ENTRY_POINT_GROUP = "regbench"

#: Built-in plugin modules, registered by name. Each uses only the public API.
BUILTIN_PLUGINS = (
    "regbench.stops",
    "regbench.evaluate",
    "regbench_plugins.gradient_descent",
    "regbench_plugins.lbfgs",
    "regbench_plugins.lbfgsb",
    "regbench_plugins.learning_rate",
    "regbench_plugins.restarts",
    "regbench_plugins.gradient_free",
    "regbench_plugins.synthetic_cases",
    "regbench_plugins.brainweb_cases",
)


class PluginError(Exception):
    """A plugin failed to load, or two plugins clash."""


@dataclass(frozen=True)
class Provenance:
    """Where a strategy or case comes from."""

    plugin: str
    distribution: str | None
    version: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version}

    def __str__(self) -> str:
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.plugin}{dist}"


class RegbenchPluginManager(pluggy.PluginManager):
    """pluggy's manager plus typed access to what the plugins registered."""

    def __init__(self) -> None:
        super().__init__("regbench")
        self.add_hookspecs(hookspecs)
        self._distributions: dict[str, tuple[str, str]] = {}
        self._strategies: dict[str, Strategy] | None = None
        self._cases: dict[str, Case] | None = None

    def register(self, plugin: object, name: str | None = None) -> str | None:
        # Strategies and cases are collected once; a plugin registered (or removed) later must be seen.
        self._strategies = self._cases = None
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._strategies = self._cases = None
        return super().unregister(plugin, name)

    # -- discovery -----------------------------------------------------------------------------------------

    def provenance(self, plugin_name: str) -> Provenance:
        dist = self._distributions.get(plugin_name)
        if dist is None and plugin_name.startswith(("regbench.", "regbench_plugins.")):
            dist = ("regbench", _version("regbench"))
        return Provenance(plugin_name, *(dist or (None, None)))

    def _collect(self, hook: pluggy.HookCaller, kind: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        # Call each implementation on its own so every item knows which plugin registered it.
        for impl in hook.get_hookimpls():
            plugin_name = impl.plugin_name

            def register(item: Any, _plugin: str = plugin_name) -> None:
                name = getattr(item, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"plugin {_plugin!r} registered a {kind} without a name: {item!r}")
                if name in found:
                    raise PluginError(
                        f"{kind} name {name!r} is registered twice: by plugin {owners[name]!r} "
                        f"and by plugin {_plugin!r}; block one with REGBENCH_BLOCK_PLUGINS={_plugin}"
                    )
                item.provenance = self.provenance(_plugin)
                found[name] = item
                owners[name] = _plugin

            impl.function(register=register)
        return found

    def strategies(self) -> dict[str, Strategy]:
        """Every registered strategy by name (collected once)."""
        if self._strategies is None:
            self._strategies = self._collect(self.hook.regbench_register_strategies, "strategy")
        return self._strategies

    def cases(self) -> dict[str, Case]:
        """Every registered case by name (collected once; images load lazily)."""
        if self._cases is None:
            self._cases = self._collect(self.hook.regbench_register_cases, "case")
        return self._cases

    def get_strategy(self, name: str) -> Strategy:
        return _lookup(self.strategies(), name, "strategy")

    def get_case(self, name: str) -> Case:
        return _lookup(self.cases(), name, "case")

    # -- typed hook calls ----------------------------------------------------------------------------------

    def classify_stop(self, text: str, segment: Segment | None = None) -> str:
        return self.hook.regbench_classify_stop(text=text, segment=segment) or "unknown"

    def evaluate(self, case: Case, transform: Any, record: RunRecord) -> list[dict[str, Any]]:
        """Every ``regbench_evaluate`` result; a plugin that raises is reported in the record's notes and
        the others still run (an evaluation bug must not discard the optimization result)."""
        return [r for r in self._call_each(self.hook.regbench_evaluate, record, case=case, transform=transform) if r]

    def has_iteration_observers(self) -> bool:
        return bool(self.hook.regbench_record_iteration.get_hookimpls())

    def record_iteration(self, run: Any, event: IterationEvent) -> None:
        self.hook.regbench_record_iteration(run=run, event=event)

    def run_finished(self, record: RunRecord) -> None:
        self._call_each(self.hook.regbench_run_finished, record)

    def _call_each(self, hook: pluggy.HookCaller, record: RunRecord, **kwargs: Any) -> list[Any]:
        results = []
        kwargs["record"] = record
        for impl in hook.get_hookimpls():
            try:
                results.append(impl.function(**{name: kwargs[name] for name in impl.argnames}))
            except Exception as exc:
                record.notes.append(f"plugin {impl.plugin_name!r} failed in {hook.name}: {type(exc).__name__}: {exc}")
        return results


def _lookup(items: dict[str, Any], name: str, kind: str) -> Any:
    try:
        return items[name]
    except KeyError:
        valid = ", ".join(sorted(items)) or "(none registered)"
        raise PluginError(f"unknown {kind} {name!r}; registered: {valid}") from None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def make_plugin_manager(
    entrypoints: bool = True, plugins: Iterable[Any] = (), builtins: Iterable[str] = BUILTIN_PLUGINS
) -> RegbenchPluginManager:
    """A fresh plugin manager: built-ins by module name, then entry points, then ``plugins``.

    ``REGBENCH_DISABLE_PLUGIN_AUTOLOAD`` (any non-empty value) skips entry points; ``REGBENCH_BLOCK_PLUGINS``
    (comma-separated plugin names, built-in module names or entry-point names) blocks plugins. Raises
    :class:`PluginError` naming the plugin and its distribution when one fails to import, and on a hook
    implementation whose name matches no hook (a misspelling is an error, not silence).
    """
    pm = RegbenchPluginManager()
    for blocked in _env_list("REGBENCH_BLOCK_PLUGINS"):
        pm.set_blocked(blocked)
    for module_name in builtins:
        if pm.is_blocked(module_name):
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
    if entrypoints and not os.environ.get("REGBENCH_DISABLE_PLUGIN_AUTOLOAD"):
        _load_entrypoints(pm)
    for plugin in plugins:
        if not pm.is_registered(plugin):  # e.g. --plugin naming a module an entry point already loaded
            pm.register(plugin)
    _check_pending(pm)
    return pm


def _load_entrypoints(pm: RegbenchPluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else None
        dist_version = dist.version if dist is not None else None
        if dist_name and pm.is_blocked(dist_name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) from distribution {dist_name} {dist_version} failed to "
                f"import: {type(exc).__name__}: {exc}. Uninstall it, or set "
                f"REGBENCH_BLOCK_PLUGINS={ep.name} to skip it."
            ) from exc
        pm.register(plugin, name=ep.name)
        if dist_name:
            pm._distributions[ep.name] = (dist_name, dist_version)


def _check_pending(pm: RegbenchPluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}. Hooks regbench knows: {', '.join(hook_names())}") from exc


def hook_names() -> list[str]:
    """Every hook in the spec (for docs and meta-tests)."""
    return sorted(name for name in dir(hookspecs) if name.startswith("regbench_"))
