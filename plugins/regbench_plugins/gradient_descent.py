"""Gradient descent (SimpleITK's GradientDescentOptimizerv4)."""

from __future__ import annotations

from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param

ESTIMATE = {"never": 0, "once": 1, "each_iteration": 2}
SCALES = ("none", "physical_shift", "index_shift", "jacobian")


def set_scales(method: sitk.ImageRegistrationMethod, scales: str) -> None:
    """Attach a scales estimator; learning-rate estimation does nothing without one (reference §1.3)."""
    if scales == "physical_shift":
        method.SetOptimizerScalesFromPhysicalShift()
    elif scales == "index_shift":
        method.SetOptimizerScalesFromIndexShift()
    elif scales == "jacobian":
        method.SetOptimizerScalesFromJacobian()


@dataclass(frozen=True)
class GradientDescentParams:
    learning_rate: float = param(
        1.0,
        "step multiplier (used as given when estimate_learning_rate is 'never')",
        min=0,
        min_exclusive=True,
    )
    number_of_iterations: int = param(200, "iteration cap per pyramid level", min=0)
    convergence_minimum_value: float = param(1e-6, "stop when the windowed relative decrease falls below this", min=0)
    convergence_window_size: int = param(10, "iterations in the convergence window", min=2)
    estimate_learning_rate: str = param("never", "learning-rate estimation policy", choices=tuple(ESTIMATE))
    maximum_step_size: float = param(
        0.0, "largest physical step when estimating the rate (0: the coarsest level's spacing)", min=0
    )
    scales: str = param("physical_shift", "parameter scales estimator", choices=SCALES)


class GradientDescent(regbench.SingleRunStrategy):
    """Plain gradient descent with a fixed or estimated learning rate."""

    Params = GradientDescentParams

    def configure(self, method, params):
        method.SetOptimizerAsGradientDescent(
            learningRate=params.learning_rate,
            numberOfIterations=params.number_of_iterations,
            convergenceMinimumValue=params.convergence_minimum_value,
            convergenceWindowSize=params.convergence_window_size,
            estimateLearningRate=ESTIMATE[params.estimate_learning_rate],
            maximumStepSizeInPhysicalUnits=params.maximum_step_size,
        )
        set_scales(method, params.scales)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(GradientDescent("gd", "gradient descent, fixed learning rate, physical-shift scales"))
