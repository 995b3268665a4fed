"""Which stop text means which category: the exact strings SimpleITK 2.5 / ITK 5.4 produce (reference §2), plus
libLBFGS's own wording that ITK 6 uses. The built-in ``regbench_classify_stop``, tried last, so a plugin's own
rule for its optimizer wins; a text no rule knows is ``unknown``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import regbench

_GD = (
    r"(?:GradientDescentOptimizerv4Template|GradientDescentLineSearchOptimizerv4Template"
    r"|ConjugateGradientLineSearchOptimizerv4Template|RegularStepGradientDescentOptimizerv4)"
)

# (pattern, category), tried in order; patterns are anchored at the start of the text.
RULES: tuple[tuple[str, str], ...] = (
    # gradient-descent family
    (_GD + r": Maximum number of iterations \(\d+\) exceeded\.", "max_iterations"),
    (_GD + r": Convergence checker passed at iteration \d+\.", "converged"),
    (_GD + r": StopOptimization\(\) called", "user_stop"),
    (_GD + r": (?:Metric error during optimization|UpdateTransformParameters error)", "error"),
    (r"RegularStepGradientDescentOptimizerv4: Step too small after", "step_too_small"),
    (r"RegularStepGradientDescentOptimizerv4: Gradient magnitude tolerance met", "gradient_tolerance"),
    (_GD + r": \s*$", "user_stop"),  # StopRegistration() leaves an empty reason
    # LBFGSB (vnl)
    (r"LBFGSBOptimizerv4: Function tolerance reached", "converged"),
    (r"LBFGSBOptimizerv4: Gradient tolerance reached", "converged"),
    (r"LBFGSBOptimizerv4: Solution (?:and Function )?tolerance (?:both )?reached", "converged"),
    (r"LBFGSBOptimizerv4: User requested", "max_iterations"),  # how the iteration cap is reported
    (r"LBFGSBOptimizerv4: Too many function evaluations", "max_evaluations"),
    (r"LBFGSBOptimizerv4: Abnormal termination in line search", "line_search"),
    (r"LBFGSBOptimizerv4: (?:Function|Solution|Gradient) tolerance too small", "invalid_parameter"),
    (r"LBFGSBOptimizerv4: Dodgy input", "invalid_parameter"),
    (r"LBFGSBOptimizerv4: Failure", "error"),
    # LBFGS2 (no class prefix), ITK 5.4 wording
    (r"Converged$", "converged"),
    (r"Already minimized$", "converged"),
    (
        r"Unknown status$",
        "converged",
    ),  # LBFGS_STOP: the delta (past) criterion, missing from ITK 5.4's switch
    (r"Reached maximum number of iterations", "max_iterations"),
    (r"A rounding error occurred", "line_search"),
    (r"LineSearch (?:became smaller|became bigger|reached maximum n?umber|went outside)", "line_search"),
    (r"Interval of uncertainty became too small", "line_search"),
    (r"Relative width of the interval became too small", "line_search"),
    (r"Negative line search step occurred", "line_search"),
    (r"Current search direction increases objective function", "line_search"),
    (r"Invalid ", "invalid_parameter"),
    (r"(?:Optimization not started|Unknown error|Logic error|Out of memory)$", "error"),
    (r"Optimization canceled$", "user_stop"),
    # LBFGS2, libLBFGS's own wording (ITK 6 and codes missing from ITK 5.4's switch)
    (r"Success: reached convergence", "converged"),
    (r"Success: met stopping criteria", "converged"),
    (r"The initial variables already minimize", "converged"),
    (r"The algorithm routine reaches the maximum number of iterations", "max_iterations"),
    (r"The line-search routine reaches the maximum number of evaluations", "line_search"),
    (r"The line-search step (?:became smaller|became larger)", "line_search"),
    (r"A logic error occurred; alternatively, the interval of uncertainty", "line_search"),
    (r"Relative width of the interval of uncertainty is at most", "line_search"),
    (r"The current search direction increases the objective", "line_search"),
    (r"A rounding error occurred; alternatively", "line_search"),
    # gradient-free optimizers
    (r"AmoebaOptimizerv4: Both parameters convergence tolerance", "converged"),
    (r"AmoebaOptimizerv4: Maximum number of iterations exceeded", "max_evaluations"),
    (r"PowellOptimizerv4: Cost function values at the current parameter", "converged"),
    (r"PowellOptimizerv4: Maximum number of iterations exceeded", "max_iterations"),
    (r"OnePlusOneEvolutionaryOptimizerv4: Fnorm \(", "converged"),
    (r"OnePlusOneEvolutionaryOptimizerv4: Maximum number of iterations", "max_iterations"),
    (r"OnePlusOneEvolutionaryOptimizerv4: StopOptimization\(\) called", "user_stop"),
    (r"ExhaustiveOptimizerv4: Completed sampling", "converged"),
    (r"ExhaustiveOptimizerv4: Running\.", "user_stop"),
    # Execute raised: the description is the exception text (a file:line prefix, then sitk::ERROR)
    (r"(?s).*(?:sitk::ERROR|itk::ExceptionObject|ITK ERROR|Exception thrown)", "error"),
)


def rule_classifier(rules: Sequence[tuple[str, str]]) -> Callable[[str], str | None]:
    """A stop-text classifier from (pattern, category) rules: the category of the first pattern that matches the
    start of the text, else None (the next ``regbench_classify_stop`` implementation decides). Another engine's
    plugin (elastix, ANTs) classifies its own texts with one."""
    compiled = tuple((re.compile(pattern), category) for pattern, category in rules)

    def classify(text: str) -> str | None:
        text = (text or "").strip("\n")
        return next((category for pattern, category in compiled if pattern.match(text)), None)

    return classify


_builtin = rule_classifier(RULES)


def classify_text(text: str) -> str:
    """The built-in classification of a stop text (no plugins involved)."""
    return _builtin(text) or "unknown"


@regbench.hookimpl(trylast=True)
def regbench_classify_stop(text: str, segment: regbench.Segment | None) -> str:
    return classify_text(text)
