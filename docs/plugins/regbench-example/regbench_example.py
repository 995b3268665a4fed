"""An example regbench plugin: two strategies and a case, using only regbench's public API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

import regbench
from regbench import Case, CaseData, Setup, param

# -- a strategy: one Execute, so SingleRunStrategy does the running -----------------------------------------


# --8<-- [start:powell]
@dataclass(frozen=True)
class PowellParams:
    number_of_iterations: int = param(100, "outer iterations per pyramid level (Powell runs one more)", min=1)
    maximum_line_iterations: int = param(100, "function evaluations per line search", min=1)
    step_length: float = param(1.0, "initial bracket of each line search, in scaled units", min=0, min_exclusive=True)
    step_tolerance: float = param(1e-6, "stop when a line search moves less than this", min=0)
    value_tolerance: float = param(1e-6, "stop when an iteration improves the metric less than this", min=0)
    physical_shift_scales: bool = param(True, "scale parameters by the physical shift they cause")


class Powell(regbench.SingleRunStrategy):
    """Powell's direction-set method (gradient-free); returns its last point, not the best it visited."""

    Params = PowellParams
    iteration_cap_param = "number_of_iterations"  # the per-level cap SimpleITK counts: see "The iteration cap"

    def configure(self, method, params):
        method.SetOptimizerAsPowell(
            numberOfIterations=params.number_of_iterations,
            maximumLineIterations=params.maximum_line_iterations,
            stepLength=params.step_length,
            stepTolerance=params.step_tolerance,
            valueTolerance=params.value_tolerance,
        )
        if params.physical_shift_scales:
            method.SetOptimizerScalesFromPhysicalShift()


# --8<-- [end:powell]


# -- a strategy that needs the run: its own Strategy.run ----------------------------------------------------


# --8<-- [start:oneplusone]
@dataclass(frozen=True)
class OnePlusOneParams:
    number_of_iterations: int = param(200, "mutations per pyramid level", min=1)
    initial_radius: float = param(1.0, "initial search radius, in scaled units", min=0, min_exclusive=True)
    growth_factor: float = param(1.05, "radius growth after a successful mutation", min=1, min_exclusive=True)
    epsilon: float = param(1.5e-4, "stop when the search radius falls below this", min=0, min_exclusive=True)


class OnePlusOne(regbench.Strategy):
    """(1+1) evolution strategy: random mutations, seeded from the run so that it repeats."""

    Params = OnePlusOneParams
    iteration_cap_param = "number_of_iterations"

    def run(self, ctx, params):
        method = ctx.new_method()  # metric, sampling, pyramid and transform set up from the case
        method.SetOptimizerAsOnePlusOneEvolutionary(
            numberOfIterations=params.number_of_iterations,
            epsilon=params.epsilon,
            initialRadius=params.initial_radius,
            growthFactor=params.growth_factor,
            seed=ctx.seed + 1,  # SimpleITK reads 0 as "seed from the wall clock"
        )
        method.SetOptimizerScalesFromPhysicalShift()
        return ctx.execute(method).transform  # never method.Execute(): the harness records the segment


# --8<-- [end:oneplusone]


# -- a strategy of several executions: one per pyramid level ------------------------------------------------


# --8<-- [start:levels]
@dataclass(frozen=True)
class LevelByLevelParams:
    number_of_iterations: int = param(100, "outer iterations of each level's Powell search", min=1)
    first_step_length: float = param(
        2.0, "initial bracket at the coarsest level (scaled units)", min=0, min_exclusive=True
    )
    step_factor: float = param(0.5, "bracket multiplier from one level to the next", min=0, max=1, min_exclusive=True)


class LevelByLevel(regbench.Strategy):
    """Powell, one execution per pyramid level, each continuing from the last, with a shrinking bracket."""

    Params = LevelByLevelParams
    iteration_cap_param = "number_of_iterations"

    def run(self, ctx, params):
        transform = None  # None: the case's starting transform
        for level in range(ctx.setup.levels):
            method = ctx.new_method(initial_transform=transform, levels=[level])
            method.SetOptimizerAsPowell(
                numberOfIterations=params.number_of_iterations,
                stepLength=params.first_step_length * params.step_factor**level,
            )
            method.SetOptimizerScalesFromPhysicalShift()
            transform = ctx.execute(method).transform  # one segment per execution, in record.segments
        return transform


# --8<-- [end:levels]


# -- a case: images built on first use, with the truth known ------------------------------------------------


# --8<-- [start:case]
def blobs_rigid() -> CaseData:
    """Moving: anisotropic Gaussian blobs on 80²; fixed: the same seen through a known rigid transform."""
    y, x = np.mgrid[0:80, 0:80].astype(float)
    image = np.zeros((80, 80))
    for cx, cy, sx, sy, weight in [(25, 30, 6, 10, 1.0), (52, 24, 9, 5, 0.7), (45, 55, 5, 5, 0.9), (22, 58, 4, 7, 0.5)]:
        image += weight * np.exp(-(((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2) / 2)
    moving = sitk.GetImageFromArray(image.astype(np.float32))
    # The truth maps fixed-space points to moving space, the direction a registration returns.
    truth = sitk.Euler2DTransform((39.5, 39.5), np.deg2rad(6.0), (3.0, -2.0))
    fixed = sitk.Resample(moving, moving, truth, sitk.sitkLinear, 0.0)
    return CaseData(fixed=fixed, moving=moving, truth=truth)


# --8<-- [end:case]


# -- registration: the hooks regbench calls -----------------------------------------------------------------


# --8<-- [start:hooks]
@regbench.hookimpl
def regbench_register_strategies(register):
    register(Powell("example-powell", "Powell direction-set search, physical-shift scales"))
    register(OnePlusOne("example-1p1", "(1+1) evolution strategy seeded from the run"))
    register(LevelByLevel("example-powell-levels", "Powell level by level, the bracket halved at each"))


@regbench.hookimpl
def regbench_register_cases(register):
    register(
        Case(
            "example-blobs-rigid",
            blobs_rigid,
            Setup(transform="rigid", shrink_factors=(2, 1), smoothing_sigmas=(1.0, 0.0)),
            description="2D 80² blobs, known rotation 6° and shift (3, -2), mean squares",
            tags=("synthetic", "2d", "mono", "example"),
        )
    )


# --8<-- [end:hooks]
