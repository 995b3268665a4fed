"""What a recommendation is judged against, from the registered plugins: each case's tolerance in its physical
units (``--tolerance``, or half the smallest voxel spacing of its fixed image) and the strategies registered as
demonstrations of a failure (shown, never recommended).
"""

from __future__ import annotations

from functools import lru_cache

DEFAULT_TOLERANCE = 0.5  # where a case's spacing is unknown (it cannot be loaded here)


def demonstrations() -> dict[str, str]:
    """Strategy name → what it demonstrates, for the strategies registered as demonstrations of a failure."""
    return dict(_demonstrations())


@lru_cache(maxsize=1)
def _demonstrations() -> tuple[tuple[str, str], ...]:
    from regbench.plugins import make_plugin_manager

    try:
        pm = make_plugin_manager(strict=False)
        return tuple((n, s.demonstrates) for n, s in pm.strategies().items() if getattr(s, "demonstrates", None))
    except Exception:  # a report must not fail because a plugin does
        return ()


def spacing_tolerance(spacing) -> float:
    """Half the smallest voxel spacing: the default tolerance of a case."""
    return 0.5 * float(min(spacing))


def case_tolerances(cases, tolerance: float | None = None) -> dict[str, tuple[float, str]]:
    """Per case: (tolerance, where it came from). ``tolerance`` given: that, for every case."""
    out = {}
    pm = None
    for case in cases:
        if tolerance is not None:
            out[case] = (float(tolerance), "--tolerance")
            continue
        if pm is None:
            from regbench.plugins import make_plugin_manager

            pm = make_plugin_manager(strict=False)
        try:
            spacing = pm.get_case(case).load().fixed.GetSpacing()
            out[case] = (spacing_tolerance(spacing), f"half the smallest spacing {min(spacing):g}")
        except Exception:
            out[case] = (DEFAULT_TOLERANCE, "case not loadable here: default")
    return out
