"""Return the best visited position of a gradient-descent-family run instead of the last iterate.

SimpleITK returns the optimizer's last iterate and has no binding for ITK's ``ReturnBestParametersAndValue``
(reference §6), so the tracking happens in an observer. Inside a gradient-descent ``sitkIterationEvent`` the
metric value is f(x_k), the value *before* the step, while the position is x_{k+1}, *after* it (§3.3): the
value at callback k belongs to the position of callback k−1. Only the last pyramid level counts (values at
other levels are on other images). Copying the position each iteration is the price (§8): it is measured and
recorded in ``record.measures``.

Not a plugin module: the gradient-descent strategies use it when their ``return_best`` parameter is on.
"""

from __future__ import annotations

import time

import SimpleITK as sitk

import regbench
from regbench_plugins.support import copy_with_parameters, last_level_metric


class BestTracker:
    """Observes one ``Execute`` and keeps (value, position) of the best visited point at its last level."""

    def __init__(self, method: sitk.ImageRegistrationMethod, last_level: int) -> None:
        self.method = method
        self.last_level = last_level
        self.level = -1
        # At the first level, the starting position is the initial transform (inPlace, read before Execute).
        self.previous: tuple[float, ...] | None = tuple(method.GetInitialTransform().GetParameters())
        self.best_value: float | None = None
        self.best_position: tuple[float, ...] | None = None
        self.best_iteration: int | None = None
        self.copies = 0
        self.copy_seconds = 0.0

    def attach(self) -> None:
        self.method.AddCommand(sitk.sitkMultiResolutionIterationEvent, self._on_level)
        self.method.AddCommand(sitk.sitkIterationEvent, self._on_iteration)

    def _on_level(self) -> None:
        self.level = self.method.GetCurrentLevel()
        if self.level == self.last_level and self.level > 0:
            # The level starts where the previous one ended (a grown B-spline mesh changes the size, and the
            # pair is then skipped below).
            self.previous = self._copy_position()

    def _on_iteration(self) -> None:
        if self.level != self.last_level:
            return
        value = self.method.GetMetricValue()
        position = self._copy_position()
        previous = self.previous
        comparable = previous is not None and len(previous) == len(position)
        if comparable and (self.best_value is None or value < self.best_value):
            self.best_value, self.best_position = value, previous
            self.best_iteration = self.method.GetOptimizerIteration()  # the iterate x_k this value is of
        self.previous = position

    def _copy_position(self) -> tuple[float, ...]:
        start = time.perf_counter()
        position = tuple(self.method.GetOptimizerPosition())
        self.copy_seconds += time.perf_counter() - start
        self.copies += 1
        return position


def execute_returning_best(
    ctx: regbench.RunContext, method: sitk.ImageRegistrationMethod, levels: int
) -> sitk.Transform:
    """``ctx.execute(method)`` (a method with ``levels`` pyramid levels) with best-position tracking; return
    the better of the best visited position and the last iterate, compared by one full-resolution metric
    evaluation each."""
    tracker = BestTracker(method, levels - 1)
    tracker.attach()
    segment = ctx.execute(method)
    last = segment.transform
    chosen, which = last, "last"
    if tracker.best_position is not None:
        best = copy_with_parameters(last, tracker.best_position)
        best_value, last_value = last_level_metric(ctx, best), last_level_metric(ctx, last)
        if best_value is not None and (last_value is None or best_value < last_value):
            chosen, which = best, "best"
        ctx.record.measures.update({"return_best_metric_best": best_value, "return_best_metric_last": last_value})
    per_copy = tracker.copy_seconds / tracker.copies if tracker.copies else None
    ctx.record.measures.update(
        {
            "return_best_chose": which,
            "return_best_iteration": tracker.best_iteration if which == "best" else None,
            "position_copies": tracker.copies,
            "position_copy_s": tracker.copy_seconds,
            "position_copy_s_per_iteration": per_copy,
            "position_copy_fraction": tracker.copy_seconds / segment.wall_time_s if segment.wall_time_s else None,
        }
    )
    if which == "best":
        ctx.note(
            f"returned the best visited position (iteration {tracker.best_iteration} of the last level), "
            "not SimpleITK's last iterate"
        )
    return chosen
