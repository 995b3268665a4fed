"""The built-in optimizer families of the semantics probe: how to configure each on the probe's tiny translation
problem, and how to tell it from a record's stop-condition text.

Each configuration allows a handful of iterations, enough for the probe to compare every event with the dense
metric and to stop a second run at its second event; the tolerances are tiny so no family converges before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import regbench
from regbench import ProbeFamily

# LBFGS2's texts carry no class prefix: its ITK 5.4 wording and libLBFGS's own (the stop classifier knows both).
LBFGS2_TEXT = re.compile(
    r"^(Reached maximum number of iterations|Already minimized|Success|Converged|A rounding error|Unknown status|"
    r"The line-search|Line search|Logic error|Insufficient memory|Invalid|Maximum number of)"
)


def _families() -> list[ProbeFamily]:
    return [
        ProbeFamily(
            "gradient_descent",
            lambda m: m.SetOptimizerAsGradientDescent(
                learningRate=1.0, numberOfIterations=6, estimateLearningRate=m.Never, convergenceMinimumValue=1e-12
            ),
            stop_prefix="GradientDescentOptimizerv4Template",
            one_event_per_iteration=True,
        ),
        ProbeFamily(
            "regular_step_gd",
            lambda m: m.SetOptimizerAsRegularStepGradientDescent(
                learningRate=1.0, minStep=1e-9, numberOfIterations=6, gradientMagnitudeTolerance=1e-12
            ),
            stop_prefix="RegularStepGradientDescentOptimizerv4",
            one_event_per_iteration=True,
        ),
        ProbeFamily(
            "gd_line_search",
            lambda m: m.SetOptimizerAsGradientDescentLineSearch(
                learningRate=1.0, numberOfIterations=6, convergenceMinimumValue=1e-12
            ),
            stop_prefix="GradientDescentLineSearchOptimizerv4Template",
            one_event_per_iteration=True,
        ),
        ProbeFamily(
            "conjugate_gradient",
            lambda m: m.SetOptimizerAsConjugateGradientLineSearch(
                learningRate=1.0, numberOfIterations=6, convergenceMinimumValue=1e-12
            ),
            stop_prefix="ConjugateGradientLineSearchOptimizerv4Template",
            one_event_per_iteration=True,
        ),
        # LBFGSB's event is one evaluation (its counter repeats), so no runs per level.
        ProbeFamily(
            "lbfgsb",
            lambda m: m.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-12, numberOfIterations=6),
            stop_prefix="LBFGSBOptimizerv4",
        ),
        # One iteration: the first run hits the cap, so the second (ITK 5.4's double run) shows as a counter reset.
        ProbeFamily(
            "lbfgs2",
            lambda m: m.SetOptimizerAsLBFGS2(solutionAccuracy=1e-12, numberOfIterations=1),
            stop_pattern=LBFGS2_TEXT,
            one_event_per_iteration=True,
        ),
        ProbeFamily(
            "amoeba",
            lambda m: m.SetOptimizerAsAmoeba(simplexDelta=1.0, numberOfIterations=12),
            stop_prefix="AmoebaOptimizerv4",
        ),
        ProbeFamily(
            "powell",
            lambda m: m.SetOptimizerAsPowell(numberOfIterations=3, maximumLineIterations=10, stepLength=1.0),
            stop_prefix="PowellOptimizerv4",
        ),
        ProbeFamily(
            "one_plus_one",
            lambda m: m.SetOptimizerAsOnePlusOneEvolutionary(numberOfIterations=12, seed=1),
            stop_prefix="OnePlusOneEvolutionaryOptimizerv4",
        ),
    ]


@regbench.hookimpl
def regbench_register_probe_families(register: Callable[[ProbeFamily], None]) -> None:
    for family in _families():
        register(family)
