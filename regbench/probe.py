"""Semantics probe: what this SimpleITK's optimizers really do, measured on a tiny case.

Per optimizer family it finds (reference §1.2, §3.3, §7):

* ``pairing``: whether an iteration event's ``GetMetricValue()`` is f at the position the event reports
  (``"current"``) or at the one before (``"previous"``, ITK 5.4's gradient-descent family, which fires after
  the step), by re-evaluating the dense metric at every reported position; ``None`` when neither fits;
* ``stop_honoured``: whether ``StopRegistration()`` called in the second event ends the execution;
* ``runs_per_level`` (LBFGS2): how many times the iteration counter starts from 0 in one single-level
  execution (2 with ITK 5.4: the double run).

The probe takes about a tenth of a second; its result is cached in-process and in the user cache directory,
one file per SimpleITK version (``REGBENCH_CACHE_DIR`` overrides the directory). Nothing here is on the hot
path: the harness reads the cached result once per run, after the executions.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import SimpleITK as sitk

PROBE_VERSION = 1

#: Families and how each is configured for the probe (a translation, dense mean squares, one level).
FAMILIES: dict[str, Any] = {
    "gradient_descent": lambda m: m.SetOptimizerAsGradientDescent(
        learningRate=1.0, numberOfIterations=6, estimateLearningRate=m.Never, convergenceMinimumValue=1e-12
    ),
    "regular_step_gd": lambda m: m.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-9, numberOfIterations=6, gradientMagnitudeTolerance=1e-12
    ),
    "gd_line_search": lambda m: m.SetOptimizerAsGradientDescentLineSearch(
        learningRate=1.0, numberOfIterations=6, convergenceMinimumValue=1e-12
    ),
    "conjugate_gradient": lambda m: m.SetOptimizerAsConjugateGradientLineSearch(
        learningRate=1.0, numberOfIterations=6, convergenceMinimumValue=1e-12
    ),
    "lbfgsb": lambda m: m.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-12, numberOfIterations=6),
    # One iteration: the first run hits the cap, so the second (ITK 5.4's double run) shows as a counter reset.
    "lbfgs2": lambda m: m.SetOptimizerAsLBFGS2(solutionAccuracy=1e-12, numberOfIterations=1),
    "amoeba": lambda m: m.SetOptimizerAsAmoeba(simplexDelta=1.0, numberOfIterations=12),
    "powell": lambda m: m.SetOptimizerAsPowell(numberOfIterations=3, maximumLineIterations=10, stepLength=1.0),
    "one_plus_one": lambda m: m.SetOptimizerAsOnePlusOneEvolutionary(numberOfIterations=12, seed=1),
}

#: The stop-condition prefix of each family (LBFGS2 has none: it is what is left of the gradient-based ones).
_PREFIX = {
    "GradientDescentOptimizerv4Template": "gradient_descent",
    "RegularStepGradientDescentOptimizerv4": "regular_step_gd",
    "GradientDescentLineSearchOptimizerv4Template": "gd_line_search",
    "ConjugateGradientLineSearchOptimizerv4Template": "conjugate_gradient",
    "LBFGSBOptimizerv4": "lbfgsb",
    "AmoebaOptimizerv4": "amoeba",
    "PowellOptimizerv4": "powell",
    "OnePlusOneEvolutionaryOptimizerv4": "one_plus_one",
}
_LBFGS2_TEXT = re.compile(
    r"^(Reached maximum number of iterations|Already minimized|Success|Converged|A rounding error|Unknown status|"
    r"The line-search|Line search|Logic error|Insufficient memory|Invalid|Maximum number of)"
)


#: Families whose iteration event is one iteration (reference §1.2): a counter back at 0 is a new run.
_ONE_EVENT_PER_ITERATION = ("gradient_descent", "regular_step_gd", "gd_line_search", "conjugate_gradient", "lbfgs2")


def family_of_stop(text: str | None) -> str | None:
    """The optimizer family a stop-condition string comes from, or None."""
    if not text:
        return None
    head = text.split(":", 1)[0].strip()
    if head in _PREFIX:
        return _PREFIX[head]
    return "lbfgs2" if _LBFGS2_TEXT.match(text) else None


def _pair() -> tuple[sitk.Image, sitk.Image]:
    from regbench.tinycase import _texture

    moving = _texture(seed=3, size=32)
    fixed = sitk.Resample(moving, moving, sitk.TranslationTransform(2, (1.5, -1.0)), sitk.sitkLinear, 0.0)
    return fixed, moving


def _method(configure) -> sitk.ImageRegistrationMethod:
    m = sitk.ImageRegistrationMethod()
    m.SetNumberOfWorkUnits(1)
    m.SetMetricAsMeanSquares()
    m.SetMetricSamplingStrategy(m.NONE)
    m.SetInterpolator(sitk.sitkLinear)
    configure(m)  # unit scales are the default; setting them makes LBFGSB crash in SimpleITK 2.5 (observed)
    return m


def _run(configure, fixed, moving, stop_at: int | None = None) -> tuple[list[tuple[float, tuple, int]], str]:
    m = _method(configure)
    m.SetInitialTransform(sitk.TranslationTransform(2), inPlace=False)
    events: list[tuple[float, tuple, int]] = []

    def on_iteration():
        events.append((m.GetMetricValue(), tuple(m.GetOptimizerPosition()), m.GetOptimizerIteration()))
        if stop_at is not None and len(events) == stop_at:
            m.StopRegistration()

    m.AddCommand(sitk.sitkIterationEvent, on_iteration)
    m.Execute(fixed, moving)
    return events, m.GetOptimizerStopConditionDescription()


def _dense(fixed, moving, position) -> float:
    m = _method(lambda _m: None)
    m.SetInitialTransform(sitk.TranslationTransform(2, list(position)), inPlace=False)
    return float(m.MetricEvaluate(fixed, moving))


def _pairing(events, fixed, moving) -> str | None:
    if len(events) < 2:
        return None
    dense = [_dense(fixed, moving, p) for _, p, _ in events]
    start = _dense(fixed, moving, (0.0, 0.0))

    def close(a, b):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))

    current = all(close(v, d) for (v, _, _), d in zip(events, dense, strict=True))
    previous = all(close(v, d) for (v, _, _), d in zip(events, [start, *dense[:-1]], strict=True))
    if current and not previous:
        return "current"
    if previous and not current:
        return "previous"
    return "both" if current else None


def probe_family(name: str) -> dict[str, Any]:
    warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        return _probe_family(name)
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings)


def _probe_family(name: str) -> dict[str, Any]:
    fixed, moving = _pair()
    configure = FAMILIES[name]
    out: dict[str, Any] = {}
    try:
        events, stop = _run(configure, fixed, moving)
        out["pairing"] = _pairing(events, fixed, moving)
        out["events"] = len(events)
        out["stop"] = stop
        if name in _ONE_EVENT_PER_ITERATION:  # elsewhere an event is an evaluation: the counter repeats
            out["runs_per_level"] = sum(1 for e in events if e[2] == 0)
        stopped, _ = _run(configure, fixed, moving, stop_at=2)
        out["stop_honoured"] = len(stopped) <= 3 and len(stopped) < len(events)
    except RuntimeError as exc:  # pragma: no cover - a probe that cannot run says so
        out["error"] = str(exc).strip().splitlines()[-1][:200]
    return out


def _cache_file() -> Path:
    base = os.environ.get("REGBENCH_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regbench"
    )
    return Path(base) / f"probe-simpleitk-{sitk.Version_VersionString()}-v{PROBE_VERSION}.json"


def run_probe() -> dict[str, Any]:
    """Probe every family now (no cache)."""
    return {
        "simpleitk": sitk.Version_VersionString(),
        "itk": sitk.Version_ITKVersionString(),
        "probe_version": PROBE_VERSION,
        "families": {name: probe_family(name) for name in FAMILIES},
    }


@functools.cache
def semantics() -> dict[str, Any]:
    """The probe's result for the installed SimpleITK: from the cache file if present, else measured and stored."""
    path = _cache_file()
    try:
        cached = json.loads(path.read_text())
        if cached.get("simpleitk") == sitk.Version_VersionString() and cached.get("probe_version") == PROBE_VERSION:
            return cached
    except (OSError, ValueError):
        pass
    result = run_probe()
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


def pairing_note(declared: str | None, stops: list[str | None], result: dict[str, Any] | None = None) -> str | None:
    """A note when a strategy's declared ``metric_pairing`` disagrees with what the probe found for the
    optimizer that ran (read from its stop-condition strings), else None."""
    if declared is None:
        return None
    result = result or semantics()
    families = {family_of_stop(s) for s in stops} - {None}
    for family in sorted(families):
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
