"""Manual learning-rate restarts: a sequence of gradient-descent executions with given or geometrically
decreasing rates, each starting from the previous result.

The rates are multiples of the rate estimated at the start of the first level (``run_first_level_rate``: the
first execution runs the pyramid with it held, and later ones reuse the estimate), so they follow the metric's
scale; ``rate_base='raw'`` takes fixed rates as given instead.

SimpleITK's setters only take effect at the next ``Execute`` (reference §9.4), so a rate change is a new
execution: the record has one segment per rate and its iteration count is the sum over them. With
``keep_best`` the returned transform is the segment result with the lowest full-resolution metric (one metric
evaluation per segment) instead of the last one, and the segments of the executions after it are marked
``rejected`` (their results were discarded).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.gd_rate import configure_gradient_descent, configure_held, run_first_level_rate
from regbench_plugins.gradient_descent import GradientDescentParams
from regbench_plugins.learning_rate import HeldRateParams
from regbench_plugins.support import last_level_metric, rate_base_scales


@dataclass(frozen=True)
class RestartParams(HeldRateParams):
    learning_rates: tuple[float, ...] = param(
        (),
        "rate of each execution, in order (multiples of the estimated rate, or raw rates: see rate_base); "
        "empty: a geometric sequence from first_learning_rate",
        min=0,
        min_exclusive=True,
    )
    first_learning_rate: float = param(
        1.0, "rate of the first execution of the geometric sequence", min=0, min_exclusive=True
    )
    rate_factor: float = param(
        0.5, "each execution's rate is the previous one times this", min=0, max=1, min_exclusive=True
    )
    executions: int = param(4, "number of executions of the geometric sequence", min=1, max=50)
    restart_levels: str = param(
        "finest",
        "pyramid levels of the executions after the first: 'finest' (the case's last level) or 'all'",
        choices=("finest", "all"),
    )
    keep_best: bool = param(False, "return the best execution's transform rather than the last one")
    number_of_iterations: int = param(100, "iteration cap per pyramid level of each execution", min=0)

    def rates(self) -> tuple[float, ...]:
        if self.learning_rates:
            return self.learning_rates
        return tuple(self.first_learning_rate * self.rate_factor**i for i in range(self.executions))


class LearningRateRestarts(regbench.Strategy):
    """Gradient descent restarted with a new fixed rate each execution, from the last result."""

    Params = RestartParams
    metric_pairing = "previous"  # gradient descent reports f before its step
    iteration_cap_param = "number_of_iterations"  # per level: hit_iteration_limit reads it

    def run(self, ctx: regbench.RunContext, params: RestartParams) -> sitk.Transform | None:
        estimated = params.rate_base == "estimated"
        scales = rate_base_scales(ctx, params.scales, params.rate_base)
        gd = GradientDescentParams(
            number_of_iterations=params.number_of_iterations,
            convergence_minimum_value=params.convergence_minimum_value,
            convergence_window_size=params.convergence_window_size,
            maximum_step_size=params.maximum_step_size,
            estimate_learning_rate="never",
            scales=scales,
        )
        finest = [ctx.setup.levels - 1]
        rates = params.rates()
        transform = None
        held = None
        results, firsts = [], []  # each execution's result, and the index of its first segment
        for i, rate in enumerate(rates):
            firsts.append(len(ctx.segments))
            if i == 0 and estimated:
                held = run_first_level_rate(ctx, gd, (rate,) * ctx.setup.levels)
                transform = held.transform
            else:
                levels = None if i == 0 or params.restart_levels == "all" else finest
                method = ctx.new_method(initial_transform=transform, levels=levels)
                if held is None:
                    configure_gradient_descent(method, dataclasses.replace(gd, learning_rate=rate))
                else:  # relative to the held rate, with the scales it was estimated with
                    configure_held(ctx, method, gd, rate * held.rate, held.scales)
                transform = ctx.execute(method).transform
            results.append(transform)
        if not params.keep_best:
            return transform
        values = [last_level_metric(ctx, t) for t in results]
        ranked = [(v, i) for i, v in enumerate(values) if v is not None]
        kept = min(ranked)[1] if ranked else len(results) - 1
        ctx.record.measures["restart_metrics"] = values
        ctx.record.measures["restart_kept"] = kept
        if kept != len(results) - 1:
            # The executions after the kept one were run and their results discarded.
            for segment in ctx.segments[firsts[kept + 1] :]:
                segment.rejected = True
            ctx.note(
                f"kept execution {kept} of {len(results)} (lowest full-resolution metric), not the last one; "
                f"the later executions are rejected (full-resolution metrics: {_values(values)})"
            )
        return results[kept]


def _values(values: list[float | None]) -> str:
    return ", ".join("no value" if v is None else f"{v:.6g}" for v in values)


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    register(
        LearningRateRestarts(
            "gd-restarts",
            "gd, then 3 restarts from the last result at the finest level with the rate halved each time (rates "
            "relative to the one estimated at the start of the first level; one segment per execution)",
        )
    )
    register(
        LearningRateRestarts(
            "gd-restarts-best",
            "gd-restarts returning the execution result with the lowest metric instead of the last",
            keep_best=True,
        )
    )
