"""Learning-rate policies of gradient descent: estimation Never / Once / EachIteration, and a per-level schedule.

SimpleITK estimates the rate only when a scales estimator is attached (reference §1.3), so each estimating
variant uses physical-shift scales. The effective rate of every iteration is in the record's trace
(``trace.learning_rate``) and per level (``levels[].learning_rate_first/last``).

SimpleITK cannot change the rate inside one ``Execute``; the per-level schedule therefore runs one execution
per pyramid level (that level's shrink, smoothing and sampling seed), each continuing from the last result.
Its rates are multiples of the rate estimated at the start of the first level (``run_first_level_rate``), so
they follow the metric's scale; ``rate_base='raw'`` takes fixed rates as given instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.gd_rate import configure_gradient_descent, run_first_level_rate
from regbench_plugins.gradient_descent import GradientDescent, GradientDescentParams
from regbench_plugins.support import SCALES, rate_base_scales

RATE_BASES = ("estimated", "raw")
RATE_BASE_HELP = (
    "'estimated': rates are multiples of the rate estimated at the start of the first level (its first step "
    "moves the farthest sample point by maximum_step_size), halved for a level whose metric rises, so they "
    "follow the metric's scale; 'raw': rates are used as given (they depend on the metric and intensity range)"
)
MAXIMUM_STEP_HELP = (
    "physical step (mm) of the first iteration at rate multiple 1, for the estimate; 0: the coarsest level's "
    "smallest spacing; unused with rate_base 'raw'"
)


def per_level(rates: tuple[float, ...], levels: int) -> tuple[float, ...]:
    """One rate per level: the last value repeats for extra levels."""
    return tuple(rates[min(level, len(rates) - 1)] for level in range(levels))


@dataclass(frozen=True)
class HeldRateParams:
    """What the strategies that hold a rate over one execution per level share."""

    rate_base: str = param("estimated", RATE_BASE_HELP, choices=RATE_BASES)
    maximum_step_size: float = param(0.0, MAXIMUM_STEP_HELP, min=0)
    convergence_minimum_value: float = param(
        1e-6, "stop a level when the windowed relative decrease of the metric falls below this", min=0
    )
    convergence_window_size: int = param(10, "iterations in the convergence window", min=2)
    scales: str = param(
        "auto",
        "parameter scales estimator; 'auto': physical_shift, but none for a B-spline under raw rates; "
        "the estimated rate needs one",
        choices=SCALES,
    )


@dataclass(frozen=True)
class LevelScheduleParams(HeldRateParams):
    learning_rates: tuple[float, ...] = param(
        (2.0, 1.0),
        "learning rate for each pyramid level, coarsest first (multiples of the estimated rate, or raw rates: "
        "see rate_base); the last value repeats for extra levels",
        min=0,
        min_exclusive=True,
    )
    number_of_iterations: int = param(200, "iteration cap per pyramid level", min=0)


class LevelSchedule(regbench.Strategy):
    """Gradient descent with its own learning rate per pyramid level: one execution per level."""

    Params = LevelScheduleParams
    metric_pairing = "previous"  # gradient descent reports f before its step
    iteration_cap_param = "number_of_iterations"  # per level: hit_iteration_limit reads it

    def run(self, ctx: regbench.RunContext, params: LevelScheduleParams) -> sitk.Transform | None:
        if not params.learning_rates:
            raise regbench.ParameterError(f"strategy {self.name!r}: learning_rates needs at least one rate")
        estimated = params.rate_base == "estimated"
        scales = rate_base_scales(ctx, params.scales, params.rate_base)
        rates = per_level(params.learning_rates, ctx.setup.levels)
        gd = GradientDescentParams(
            number_of_iterations=params.number_of_iterations,
            convergence_minimum_value=params.convergence_minimum_value,
            convergence_window_size=params.convergence_window_size,
            maximum_step_size=params.maximum_step_size,
            scales=scales,
        )
        if estimated:
            return run_first_level_rate(ctx, gd, rates).transform
        transform = None
        for level, rate in enumerate(rates):
            method = ctx.new_method(initial_transform=transform, levels=[level])
            configure_gradient_descent(
                method, dataclasses.replace(gd, learning_rate=rate, estimate_learning_rate="never")
            )
            transform = ctx.execute(method).transform
        return transform


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    register(
        GradientDescent(
            "gd-once",
            "gd with the rate estimated once per level (physical-shift scales); SHOWS A FAILURE: the rate "
            "re-estimated at a finer level is far too large and the run diverges",
            estimate_learning_rate="once",
            scales="physical_shift",
            demonstrates="the rate re-estimated at a finer level is far too large: the run diverges",
        )
    )
    register(
        GradientDescent(
            "gd-each-iteration",
            "gd with the rate re-estimated every iteration (physical-shift scales); SHOWS A TRAP: every step "
            "moves by maximum_step_size, so it stalls short of the optimum and learning_rate is ignored",
            estimate_learning_rate="each_iteration",
            scales="physical_shift",
            demonstrates="every step moves by maximum_step_size: it stalls short of the optimum",
        )
    )
    register(
        LevelSchedule(
            "gd-level-schedule",
            "gd with its own rate per pyramid level (2× then 1× the rate estimated at the start of the first "
            "level), one execution per level",
        )
    )
