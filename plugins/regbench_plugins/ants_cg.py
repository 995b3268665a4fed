"""Same optimizer, different wrapper: SimpleITK's conjugate-gradient line search configured as ANTs configures its
rigid and affine stages (strategy ``cg-ants``), and the built-in comparison of it with ANTs itself
(:func:`compare_wrappers`) on the same instances.

ANTs' settings (antsRegistration's ``itkantsRegistrationHelper.hxx`` and antspyx 0.6.3's ``registration.py``, read
for this module): ``ConjugateGradientLineSearchOptimizerv4`` with learning rate and maximum physical step the
gradient step antspyx passes (``Affine[0.25]``), the rate estimated at each iteration, line search in [0, 2] with
epsilon 0.2 (ITK's 20 line-search iterations), convergence 1e-6 over a window of 10, physical-shift scales. The
case gives the metric, sampling and pyramid to both. What the wrappers still do differently: ANTs optimizes a new
transform (centre at the origin) composed after its initial one and computes in single precision by default;
SimpleITK optimizes the start transform itself, in double; ANTs caps each level on its own schedule, SimpleITK one
cap for every level (compare with a common ``number_of_iterations``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import regbench
from regbench_plugins import ants_map
from regbench_plugins.gradient_descent import ConjugateGradientLineSearch

#: ANTs' conjugate-gradient settings, as the parameters of regbench's ``cg`` strategy.
ANTS_SETTINGS: dict[str, Any] = {
    "learning_rate": ants_map.GRADIENT_STEP,
    "maximum_step_size": ants_map.GRADIENT_STEP,
    "estimate_learning_rate": "each_iteration",
    "line_search_lower_limit": 0.0,
    "line_search_upper_limit": 2.0,
    "line_search_epsilon": 0.2,
    "line_search_maximum_iterations": 20,
    "convergence_minimum_value": ants_map.CONVERGENCE_THRESHOLD,
    "convergence_window_size": ants_map.CONVERGENCE_WINDOW,
    "scales": "physical_shift",
}
#: The comparison's default tolerance on the foreground error difference, physical units (mm; px on the 2D cases).
TOLERANCE = 0.05


def compare_wrappers(
    cases: Iterable[regbench.Case],
    seeds: Iterable[int] = (1,),
    number_of_iterations: int = 200,
    tolerance: float = TOLERANCE,
    single_precision: bool = False,
    pm: Any = None,
) -> list[dict[str, Any]]:
    """ANTs' stage of each case's model (strategy ``ants``) against ``cg-ants`` on the same instances
    (case, seed), one thread, the same per-level cap: per instance each side's foreground error (the whole
    domain's where the case has no foreground), their difference, whether it is within ``tolerance``, and where
    they differ how: iterations per level, stops (ANTs': inferred per level; SimpleITK's: the last level's), wall
    time."""
    pm = pm or regbench.make_plugin_manager()
    rows = []
    for case in cases:
        if case.setup.transform not in ants_map.STAGES:
            raise regbench.UnsupportedSetup(f"case {case.name!r}: ANTs' linear stages are {', '.join(ants_map.STAGES)}")
        for seed in seeds:
            common = {"seed": seed, "threads": 1, "pm": pm}
            ants = regbench.run_one(
                "ants",
                case,
                params={"number_of_iterations": number_of_iterations, "single_precision": single_precision},
                **common,
            )
            cg = regbench.run_one("cg-ants", case, params={"number_of_iterations": number_of_iterations}, **common)
            rows.append(_row(case.name, seed, ants, cg, tolerance))
    return rows


def _row(case: str, seed: int, ants: Any, cg: Any, tolerance: float) -> dict[str, Any]:
    def error(record: Any) -> float | None:
        return record.error_mean_fg if record.error_mean_fg is not None else record.error_mean

    a, c = error(ants), error(cg)
    difference = None if a is None or c is None else a - c
    return {
        "case": case,
        "seed": seed,
        "ants_status": ants.status,
        "cg_status": cg.status,
        "ants_error": a,
        "cg_error": c,
        "difference": difference,
        "within_tolerance": difference is not None and abs(difference) <= tolerance,
        "tolerance": tolerance,
        "ants_iterations": [level.iterations for level in ants.levels],
        "cg_iterations": [level.iterations for level in cg.levels],
        "ants_stops": [level.stop_category for level in ants.levels],  # inferred, per level
        "cg_stop": cg.stop_category,  # SimpleITK's stop text describes the last level only
        "ants_wall_time_s": ants.wall_time_s,
        "cg_wall_time_s": cg.wall_time_s,
    }


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    register(
        ConjugateGradientLineSearch(
            "cg-ants",
            "SimpleITK's conjugate-gradient line search set up as ANTs sets up its rigid and affine stages "
            "(rate estimated each iteration, max step 0.25, line search [0, 2], epsilon 0.2)",
            number_of_iterations=1200,
            **ANTS_SETTINGS,
        )
    )
