"""A strategy whose result depends on something its run key does not hold, as a host's CPU or BLAS can: gradient
descent whose largest step is ``$REGBENCH_TEST_DRIFT`` mm (unset: 1). Loaded with ``--plugin drift_plugin``
by the tests of ``regbench merge`` and the report's "same key, different host" table."""

from __future__ import annotations

import os
from dataclasses import dataclass

import regbench
from regbench import param

DRIFT_ENV = "REGBENCH_TEST_DRIFT"


@dataclass(frozen=True)
class DriftParams:
    number_of_iterations: int = param(8, "iterations per level", min=1)


class HostDrift(regbench.SingleRunStrategy):
    """gradient descent, its largest step $REGBENCH_TEST_DRIFT mm (a stand-in for a host's hidden difference)"""

    Params = DriftParams

    def configure(self, method, params):
        step = float(os.environ.get(DRIFT_ENV, "1"))  # the largest step, in mm: the rate is estimated from it
        method.SetOptimizerAsGradientDescent(
            learningRate=1.0,
            numberOfIterations=params.number_of_iterations,
            estimateLearningRate=method.Once,
            maximumStepSizeInPhysicalUnits=step,
        )
        method.SetOptimizerScalesFromPhysicalShift()


@regbench.hookimpl
def regbench_register_strategies(register):
    register(HostDrift("test-hostdrift"))
