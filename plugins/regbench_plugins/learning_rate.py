"""Learning-rate policies of gradient descent: estimation Never / Once / EachIteration, and a per-level schedule.

SimpleITK estimates the rate only when a scales estimator is attached (reference §1.3), so each estimating
variant uses physical-shift scales. The effective rate of every iteration is in the record's trace
(``trace.learning_rate``) and per level (``levels[].learning_rate_first/last``).

SimpleITK cannot change the rate inside one ``Execute``; the per-level schedule therefore runs one execution
per pyramid level (that level's shrink, smoothing and sampling seed), each continuing from the last result.
"""

from __future__ import annotations

from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.gradient_descent import (
    GD_RATE,
    GradientDescent,
    GradientDescentParams,
    configure_gradient_descent,
)
from regbench_plugins.support import SCALES, resolve_scales


@dataclass(frozen=True)
class LevelScheduleParams:
    learning_rates: tuple[float, ...] = param(
        (2 * GD_RATE, GD_RATE),
        "fixed learning rate for each pyramid level, coarsest first; the last value repeats for extra levels",
        min=0,
        min_exclusive=True,
    )
    number_of_iterations: int = param(200, "iteration cap per pyramid level", min=0)
    convergence_minimum_value: float = param(
        1e-6, "stop a level when the windowed relative decrease of the metric falls below this", min=0
    )
    convergence_window_size: int = param(10, "iterations in the convergence window", min=2)
    scales: str = param(
        "auto",
        "parameter scales estimator; 'auto': physical_shift, but none for a B-spline (the rates are fixed)",
        choices=SCALES,
    )


class LevelSchedule(regbench.Strategy):
    """Gradient descent with a fixed learning rate per pyramid level: one execution per level."""

    Params = LevelScheduleParams

    def run(self, ctx: regbench.RunContext, params: LevelScheduleParams) -> sitk.Transform | None:
        if not params.learning_rates:
            raise regbench.ParameterError(f"strategy {self.name!r}: learning_rates needs at least one rate")
        scales = resolve_scales(ctx, params.scales, "never")
        transform = None
        for level in range(ctx.setup.levels):
            rate = params.learning_rates[min(level, len(params.learning_rates) - 1)]
            method = ctx.new_method(initial_transform=transform, levels=[level])
            configure_gradient_descent(
                method,
                GradientDescentParams(
                    learning_rate=rate,
                    number_of_iterations=params.number_of_iterations,
                    convergence_minimum_value=params.convergence_minimum_value,
                    convergence_window_size=params.convergence_window_size,
                    estimate_learning_rate="never",
                    scales=scales,
                ),
            )
            transform = ctx.execute(method).transform
        return transform


@regbench.hookimpl
def regbench_register_strategies(register):
    register(
        GradientDescent(
            "gd-once",
            "gd with the rate estimated once per level (physical-shift scales); SHOWS A FAILURE: the rate "
            "re-estimated at a finer level is far too large and the run diverges",
            estimate_learning_rate="once",
            scales="physical_shift",
        )
    )
    register(
        GradientDescent(
            "gd-each-iteration",
            "gd with the rate re-estimated every iteration (physical-shift scales); SHOWS A TRAP: every step "
            "moves by maximum_step_size, so it stalls short of the optimum and learning_rate is ignored",
            estimate_learning_rate="each_iteration",
            scales="physical_shift",
        )
    )
    register(
        LevelSchedule(
            "gd-level-schedule",
            "gd with a fixed learning rate per pyramid level, one execution per level",
        )
    )
