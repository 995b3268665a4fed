"""Semantics probe: what this SimpleITK's optimizers really do, measured on a tiny case.

The optimizer families come from plugins (``regbench_register_probe_families``, each a :class:`ProbeFamily`); the
built-in ones are in ``regbench_plugins.probes``. Per family it finds (reference §1.2, §3.3, §7):

* ``pairing``: whether an iteration event's ``GetMetricValue()`` is f at the position the event reports
  (``"current"``) or at the one before (``"previous"``, ITK 5.4's gradient-descent family, which fires after
  the step), by re-evaluating the dense metric at every reported position; ``None`` when neither fits;
* ``stop_honoured``: whether ``StopRegistration()`` called in the second event ends the execution;
* ``runs_per_level`` (families whose event is one iteration): how many times the iteration counter starts from 0
  in one single-level execution (2 for LBFGS2 with ITK 5.4: the double run).

The probe takes about a tenth of a second; its result is cached in-process and in the user cache directory,
one file per SimpleITK version and set of families (``REGBENCH_CACHE_DIR`` overrides the directory). Nothing
here is on the hot path: the harness reads the cached result once per run, after the executions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import SimpleITK as sitk

from regbench.strategy import ProbeFamily
from regbench.strategy import describe_exception as _describe

PROBE_VERSION = 1


class FamilySource(Protocol):
    """What the probe asks of a plugin manager: a :class:`~regbench.plugin.manager.RegbenchPluginManager`, or a
    run's :class:`~regbench.harness.RunHooks`."""

    def probe_families(self) -> Mapping[str, ProbeFamily]: ...


def registered(pm: FamilySource | None = None) -> Mapping[str, ProbeFamily]:
    """The families the plugins of ``pm`` register (a default plugin manager's when None)."""
    from regbench.plugin.manager import make_plugin_manager

    return (pm or make_plugin_manager()).probe_families()


def family_of_stop(text: str | None, families: Mapping[str, ProbeFamily] | Iterable[ProbeFamily]) -> str | None:
    """The family a stop-condition string comes from, or None: a family whose prefix it starts with, else one
    whose pattern matches it (a prefix is the surer sign)."""
    if not text:
        return None
    known = list(families.values() if isinstance(families, Mapping) else families)
    head = text.split(":", 1)[0].strip()
    for family in known:
        if family.stop_prefix is not None and head == family.stop_prefix:
            return family.name
    for family in known:
        if family.stop_pattern is not None and family.stop_pattern.match(text):
            return family.name
    return None


def _pair() -> tuple[sitk.Image, sitk.Image]:
    from regbench.cases.tiny import _texture

    moving = _texture(seed=3, size=32)
    fixed = sitk.Resample(moving, moving, sitk.TranslationTransform(2, (1.5, -1.0)), sitk.sitkLinear, 0.0)
    return fixed, moving


Configure = Callable[[sitk.ImageRegistrationMethod], None]
#: One iteration event as the probe sees it: (metric value, optimizer position, iteration).
Event = tuple[float, tuple[float, ...], int]


def _method(configure: Configure) -> sitk.ImageRegistrationMethod:
    m = sitk.ImageRegistrationMethod()
    m.SetNumberOfWorkUnits(1)
    m.SetMetricAsMeanSquares()
    m.SetMetricSamplingStrategy(m.NONE)
    m.SetInterpolator(sitk.sitkLinear)
    configure(m)  # unit scales are the default; setting them makes LBFGSB crash in SimpleITK 2.5 (observed)
    return m


def _run(
    configure: Configure, fixed: sitk.Image, moving: sitk.Image, stop_at: int | None = None
) -> tuple[list[Event], str]:
    m = _method(configure)
    m.SetInitialTransform(sitk.TranslationTransform(2), inPlace=False)
    events: list[Event] = []

    def on_iteration() -> None:
        events.append((m.GetMetricValue(), tuple(m.GetOptimizerPosition()), m.GetOptimizerIteration()))
        if stop_at is not None and len(events) == stop_at:
            m.StopRegistration()

    m.AddCommand(sitk.sitkIterationEvent, on_iteration)
    m.Execute(fixed, moving)
    return events, m.GetOptimizerStopConditionDescription()


def _dense(fixed: sitk.Image, moving: sitk.Image, position: Sequence[float]) -> float:
    m = _method(lambda _m: None)
    m.SetInitialTransform(sitk.TranslationTransform(2, list(position)), inPlace=False)
    return float(m.MetricEvaluate(fixed, moving))


def _pairing(events: Sequence[Event], fixed: sitk.Image, moving: sitk.Image) -> str | None:
    if len(events) < 2:
        return None
    dense = [_dense(fixed, moving, p) for _, p, _ in events]
    start = _dense(fixed, moving, (0.0, 0.0))

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))

    current = all(close(v, d) for (v, _, _), d in zip(events, dense, strict=True))
    previous = all(close(v, d) for (v, _, _), d in zip(events, [start, *dense[:-1]], strict=True))
    if current and not previous:
        return "current"
    if previous and not current:
        return "previous"
    return "both" if current else None


def probe_family(family: ProbeFamily) -> dict[str, Any]:
    """Probe one family now; a family that cannot run gets an ``error`` (beside what was found before it)."""
    warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        return _probe_family(family)
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings)


def _probe_family(family: ProbeFamily) -> dict[str, Any]:
    fixed, moving = _pair()
    out: dict[str, Any] = {}
    try:
        events, stop = _run(family.configure, fixed, moving)
        out["pairing"] = _pairing(events, fixed, moving)
        out["events"] = len(events)
        out["stop"] = stop
        if family.one_event_per_iteration:  # elsewhere an event is an evaluation: the counter repeats
            out["runs_per_level"] = sum(1 for e in events if e[2] == 0)
        stopped, _ = _run(family.configure, fixed, moving, stop_at=2)
        out["stop_honoured"] = len(stopped) <= 3 and len(stopped) < len(events)
    except RuntimeError as exc:  # ITK refused to run it: the probe says so
        out["error"] = str(exc).strip().splitlines()[-1][:200]
    except Exception as exc:  # a plugin's configure failed here only: its family alone is lost
        who = f" (plugin {family.provenance})" if family.provenance else ""
        out["error"] = f"{_describe(exc)}{who}"
    return out


def families_key(families: Mapping[str, ProbeFamily]) -> str:
    """Which families, from which plugin versions: part of the cache file's name, so a new or upgraded family is
    probed, never served a result without it."""
    parts = sorted(
        f"{f.name}={f.provenance.plugin}@{f.provenance.version}" if f.provenance else f.name for f in families.values()
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _cache_file(key: str) -> Path:
    base = os.environ.get("REGBENCH_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regbench"
    )
    return Path(base) / f"probe-simpleitk-{sitk.Version_VersionString()}-v{PROBE_VERSION}-{key}.json"


def run_probe(families: Mapping[str, ProbeFamily] | None = None) -> dict[str, Any]:
    """Probe every family now (no cache): those given, else those a default plugin manager registers."""
    families = registered() if families is None else families
    return {
        "simpleitk": sitk.Version_VersionString(),
        "itk": sitk.Version_ITKVersionString(),
        "probe_version": PROBE_VERSION,
        "families": {name: probe_family(families[name]) for name in sorted(families)},  # the cache file's order
    }


_MEMO: dict[tuple[str, str], dict[str, Any]] = {}


def clear_cache() -> None:
    """Forget the in-process results (the cache files stay)."""
    _MEMO.clear()


def semantics(pm: FamilySource | None = None) -> dict[str, Any]:
    """The probe's result for the installed SimpleITK and the families of ``pm`` (a default plugin manager's when
    None): from the cache file if present, else measured and stored. A result with a failed family is not stored,
    so the next process tries again."""
    families = registered(pm)
    key = families_key(families)
    memo = (sitk.Version_VersionString(), key)
    if memo in _MEMO:
        return _MEMO[memo]
    path = _cache_file(key)
    try:
        cached = json.loads(path.read_text())
        if (
            cached.get("simpleitk") == sitk.Version_VersionString()
            and cached.get("probe_version") == PROBE_VERSION
            and set(cached.get("families", ())) == set(families)
        ):
            return _MEMO.setdefault(memo, cached)
    except (OSError, ValueError):
        pass
    result = _MEMO.setdefault(memo, run_probe(families))
    if any("error" in f for f in result["families"].values()):
        return result
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
        os.replace(tmp, path)  # atomic: a worker reading it meanwhile never sees half a file
    except OSError:  # pragma: no cover - a read-only cache is not an error
        pass
    return result


_PAIRING_WORDS = {
    "current": "event value belongs to the current position",
    "previous": "event value belongs to the previous position (fires after the step)",
    "both": "event value matches both positions (the optimizer did not move)",
}


def summary_lines(result: dict[str, Any] | None = None) -> list[str]:
    """One line per family, for ``regbench list --verbose``."""
    result = result or semantics()
    lines = [f"SimpleITK {result['simpleitk']} (ITK {result['itk']}) semantics probe:"]
    for name, f in result["families"].items():
        if "error" in f:
            lines.append(f"  {name}: probe failed: {f['error']}")
            continue
        runs = f"; runs per level: {f['runs_per_level']}" if f.get("runs_per_level") not in (None, 1) else ""
        lines.append(
            f"  {name}: {_PAIRING_WORDS.get(f['pairing'], 'event value matches neither position')}; "
            f"StopRegistration {'honoured' if f['stop_honoured'] else 'ignored'}{runs}"
        )
    return lines


def pairing_note(
    declared: str | None,
    stops: Sequence[str | None],
    result: dict[str, Any] | None = None,
    families: Mapping[str, ProbeFamily] | None = None,
) -> str | None:
    """A note when a strategy's declared ``metric_pairing`` disagrees with what the probe found for the
    optimizer that ran (read from its stop-condition strings against ``families``), else None."""
    if declared is None:
        return None
    families = registered() if families is None else families
    result = result or semantics()
    ran = {name for name in (family_of_stop(s, families) for s in stops) if name is not None}
    for family in sorted(ran):
        found = result["families"].get(family, {}).get("pairing")
        if found in ("current", "previous") and found != declared:
            return (
                f"metric pairing: the strategy declares '{declared}' but the semantics probe found '{found}' for "
                f"{family} on SimpleITK {result['simpleitk']}: its best-visited position may be off by one iteration"
            )
    return None


def as_provenance(result: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compact form stored in a record's provenance."""
    result = result or semantics()
    return {
        "simpleitk": result["simpleitk"],
        "families": {
            n: {k: f.get(k) for k in ("pairing", "stop_honoured", "runs_per_level")}
            for n, f in result["families"].items()
        },
    }


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(summary_lines(run_probe())))
