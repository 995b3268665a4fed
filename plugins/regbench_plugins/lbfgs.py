"""Limited-memory BFGS (SimpleITK's LBFGS2Optimizerv4, libLBFGS), every parameter SimpleITK exposes, validated.

ITK 5.4 runs libLBFGS twice per level (reference §7): the iteration events of both runs are counted, so a
level may report up to twice ``number_of_iterations``. Its usual stop, "A rounding error occurred ...", is a
line-search end at a good point more often than a failure: judge by the measures. ``hessian_approximate_accuracy``
0 would crash the process (SIGSEGV) and is refused.

No default keeps it inside the image under Mattes MI. Without scales, a quasi-Newton step after a few
iterations can take every sample out of the moving image (synth2d-rigid-mi: angle 0.2 rad, translation
(-4.6, -4.1) mm after 3 iterations, then a step out); mean squares would return DBL_MAX and the line search
would back off, but Mattes MI throws. SimpleITK exposes no step length bound: ``line_search_maximum_step``
bounds the step *multiplier* of the search direction, not its length (with 1, 15 of 16 cases stopped far from
the truth; 100 does not prevent the jump), and LBFGS2 has no parameter bounds. Physical-shift scales avoid
the jump on that case but end at 4.9 px, and are worse on 11 of 15 others (ITK scales the gradient it hands to
libLBFGS, not the function, so the two disagree and the line search stops early; reference §7, §10).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import param
from regbench_plugins.support import SCALES, resolve_scales, set_scales


@dataclass(frozen=True)
class LBFGS2Params:
    solution_accuracy: float = param(1e-5, "stop when |g| / max(1, |x|) falls below this (libLBFGS epsilon)", min=0)
    number_of_iterations: int = param(100, "iteration cap per run of libLBFGS (0: none); runs twice per level", min=0)
    hessian_approximate_accuracy: int = param(
        6, "corrections kept for the inverse Hessian (m); 0 crashes SimpleITK", min=1, max=100
    )
    delta_convergence_distance: int = param(0, "iterations back for the delta test (past; 0: off)", min=0)
    delta_convergence_tolerance: float = param(1e-5, "relative decrease over 'past' iterations to stop (delta)", min=0)
    line_search_maximum_evaluations: int = param(40, "function evaluations per line search", min=1)
    line_search_minimum_step: float = param(1e-20, "smallest line-search step", min=0, min_exclusive=True)
    line_search_maximum_step: float = param(1e20, "largest line-search step", min=0, min_exclusive=True)
    line_search_accuracy: float = param(
        1e-4, "sufficient-decrease parameter of the line search (ftol)", min=0, max=0.5, min_exclusive=True
    )
    scales: str = param(
        "none",
        "parameter scales estimator; LBFGS2 re-estimates scales at every cost evaluation, which can cost far "
        "more than the metric (reference §10); 'jacobian' is refused for B-spline transforms",
        choices=SCALES,
    )


class LBFGS2(regbench.SingleRunStrategy):
    """LBFGS2 (libLBFGS, More-Thuente line search). Runs twice per level in ITK 5.4: both count."""

    Params = LBFGS2Params
    metric_pairing = "current"
    iteration_cap_param = "number_of_iterations"  # per run of libLBFGS (two runs per level in ITK 5.4)

    def run(self, ctx: regbench.RunContext, params: LBFGS2Params) -> sitk.Transform | None:
        # LBFGS2 never estimates a learning rate, so 'auto' is plain physical-shift scales where valid.
        params = dataclasses.replace(params, scales=resolve_scales(ctx, params.scales, "each_iteration"))
        return super().run(ctx, params)

    def configure(self, method: sitk.ImageRegistrationMethod, params: LBFGS2Params) -> None:
        method.SetOptimizerAsLBFGS2(
            solutionAccuracy=params.solution_accuracy,
            numberOfIterations=params.number_of_iterations,
            hessianApproximateAccuracy=params.hessian_approximate_accuracy,
            deltaConvergenceDistance=params.delta_convergence_distance,
            deltaConvergenceTolerance=params.delta_convergence_tolerance,
            lineSearchMaximumEvaluations=params.line_search_maximum_evaluations,
            lineSearchMinimumStep=params.line_search_minimum_step,
            lineSearchMaximumStep=params.line_search_maximum_step,
            lineSearchAccuracy=params.line_search_accuracy,
        )
        set_scales(method, params.scales)


@regbench.hookimpl
def regbench_register_strategies(register: Callable[[regbench.Strategy], None]) -> None:
    register(
        LBFGS2(
            "lbfgs2",
            "LBFGS2, no scales (re-estimating them each evaluation is costly), solution accuracy 1e-7 "
            "(SimpleITK's 1e-5 stops B-splines early on [0, 1] intensities); no step bound exists: under "
            "Mattes MI a long step can leave the image (no_overlap)",
            solution_accuracy=1e-7,
        )
    )
