"""The parameters the gradient-descent family shares, and the learning-rate choices they offer.

Below both :mod:`.gd_rate` (the policies, which read these parameters) and :mod:`.gradient_descent` (the
strategies, which declare them), so that neither imports the other for a type. Not a plugin module.
"""

from __future__ import annotations

from dataclasses import dataclass

from regbench import param
from regbench_plugins.support import SCALES

#: SimpleITK's learning-rate estimation modes, by the name a parameter gives them.
ESTIMATE = {"never": 0, "once": 1, "each_iteration": 2}
#: regbench's own policy for plain gradient descent (:func:`regbench_plugins.gd_rate.run_first_level_rate`).
FIRST_LEVEL = "first_level"


@dataclass(frozen=True)
class StepParams:
    """What every member of the family shares."""

    learning_rate: float = param(
        1.0,
        "step multiplier of the scaled gradient: the rate itself under estimate_learning_rate 'never' (or scales "
        "'none'); for plain gradient descent under 'first_level', a multiple of the estimated rate; ignored by "
        "'once' and 'each_iteration' (ITK replaces it)",
        min=0,
        min_exclusive=True,
    )
    number_of_iterations: int = param(200, "iteration cap per pyramid level", min=0)
    estimate_learning_rate: str = param(
        "never",
        "learning-rate estimation: 'never' (use learning_rate), 'once' (at the start of each level), "
        "'each_iteration'; needs a scales estimator to take effect",
        choices=tuple(ESTIMATE),
    )
    maximum_step_size: float = param(
        0.0,
        "physical step (mm) by which an estimated rate's first step moves the farthest sample point; 0: the "
        "coarsest level's smallest spacing, kept for every level",
        min=0,
    )
    scales: str = param(
        "auto",
        "parameter scales estimator; 'auto': physical_shift, but none for a B-spline under a fixed rate; "
        "'jacobian' is refused for B-spline transforms",
        choices=SCALES,
    )
    return_best: bool = param(
        False,
        "return the best position visited at the last level instead of the last iterate (copies the "
        "position each iteration; the cost is recorded)",
    )


@dataclass(frozen=True)
class ConvergenceParams(StepParams):
    convergence_minimum_value: float = param(
        1e-6, "stop when the windowed relative decrease of the metric falls below this", min=0
    )
    convergence_window_size: int = param(10, "iterations in the convergence window", min=2)


@dataclass(frozen=True)
class GradientDescentParams(ConvergenceParams):
    estimate_learning_rate: str = param(
        FIRST_LEVEL,
        "learning-rate policy: 'first_level' (estimated at the start of the coarsest level, then held for every "
        "level, halved for a level whose metric rises, which keeps its attempt that ends best and never one worse "
        "than its start; one execution per level), 'never' (use learning_rate as "
        "given), 'once' (SimpleITK: re-estimated at the start of each level), 'each_iteration'; estimation needs "
        "a scales estimator",
        choices=(FIRST_LEVEL, *ESTIMATE),
    )
