"""Every stop string of reference §2 is classified as its table says."""

import pytest
from regbench_plugins.stop_texts import classify_text

import regbench
from regbench.evaluation.outcomes import judge_outcome
from regbench.evaluation.stops import CATEGORIES, is_rounding_failure

GD_CLASSES = (
    "GradientDescentOptimizerv4Template",
    "GradientDescentLineSearchOptimizerv4Template",
    "ConjugateGradientLineSearchOptimizerv4Template",
    "RegularStepGradientDescentOptimizerv4",
)

TABLE = [
    # gradient-descent family (every class prefix below)
    *[(f"{c}: Maximum number of iterations (40) exceeded.", "max_iterations") for c in GD_CLASSES],
    *[(f"{c}: Convergence checker passed at iteration 9.", "converged") for c in GD_CLASSES],
    *[(f"{c}: ", "user_stop") for c in GD_CLASSES],
    ("GradientDescentOptimizerv4Template: StopOptimization() called", "user_stop"),
    ("GradientDescentOptimizerv4Template: Metric error during optimization", "error"),
    ("GradientDescentOptimizerv4Template: UpdateTransformParameters error", "error"),
    (
        "RegularStepGradientDescentOptimizerv4: Step too small after 31 iterations. Current step (0.000976562) "
        "is less than minimum step (0.001).",
        "step_too_small",
    ),
    (
        "RegularStepGradientDescentOptimizerv4: Gradient magnitude tolerance met after 12 iterations. Gradient "
        "magnitude (8.1e-05) is less than gradient magnitude tolerance (0.0001).",
        "gradient_tolerance",
    ),
    # LBFGSB
    (
        "LBFGSBOptimizerv4: Function tolerance reached after 6 iterations. The relative reduction of the cost "
        "function <= 2.22045e-09 = CostFunctionConvergenceFactor (1e+07) * machine precision (2.22045e-16).",
        "converged",
    ),
    ("LBFGSBOptimizerv4: Gradient tolerance reached. Gradient tolerance is 1e-05", "converged"),
    ("LBFGSBOptimizerv4: User requested", "max_iterations"),
    ("LBFGSBOptimizerv4: Too many function evaluations. Function evaluations  = 2001", "max_evaluations"),
    (
        "LBFGSBOptimizerv4: Abnormal termination in line search.  Often caused by rounding errors dominating "
        "computation.  This can occur if the function is a very flat surface, or has oscillations.",
        "line_search",
    ),
    ("LBFGSBOptimizerv4: Failure", "error"),
    ("LBFGSBOptimizerv4: Dodgy input", "invalid_parameter"),
    ("LBFGSBOptimizerv4: Solution tolerance reached", "converged"),
    ("LBFGSBOptimizerv4: Solution and Function tolerance both reached", "converged"),
    ("LBFGSBOptimizerv4: Function tolerance too small", "invalid_parameter"),
    ("LBFGSBOptimizerv4: Solution tolerance too small", "invalid_parameter"),
    ("LBFGSBOptimizerv4: Gradient tolerance too small", "invalid_parameter"),
    # LBFGS2 (ITK 5.4 wording)
    ("Converged", "converged"),
    ("Already minimized", "converged"),
    ("Unknown status", "converged"),
    ("Reached maximum number of iterations", "max_iterations"),
    ("A rounding error occurred or line-search steps have an insufficient reduction", "line_search"),
    ("LineSearch became smaller than the minimum linesearch step size", "line_search"),
    ("LineSearch became bigger than the maximum linesearch step size", "line_search"),
    ("LineSearch reached maximum umber of iterations", "line_search"),
    ("LineSearch went outside of the uncertainty interval", "line_search"),
    ("Interval of uncertainty became too small", "line_search"),
    ("Relative width of the interval became too small (less than machine tolerance)", "line_search"),
    ("Negative line search step occurred", "line_search"),
    ("Current search direction increases objective function", "line_search"),
    *[
        (f"Invalid {what}", "invalid_parameter")
        for what in (
            "number of variables",
            "number of variables for SSE",
            "alignment of variables for SSE",
            "solution accuracy parameter",
            "delta convergence distance",
            "delta convergence tolerance",
            "linesearch specified",
            "minimum linesearch step",
            "maximum linesearch step",
            "linesearch accuracy",
            "wolfe coefficient",
            "lnesearch gradient accuracy",
            "machine precision tolerance",
            "maximum linesearch iterations",
            "orthantwise coefficient",
            "orthantwise start",
            "orthantwise end",
        )
    ],
    ("Optimization not started", "error"),
    ("Unknown error", "error"),
    ("Logic error", "error"),
    ("Out of memory", "error"),
    ("Optimization canceled", "user_stop"),
    # LBFGS2, libLBFGS's own wording (ITK 6)
    (
        "A rounding error occurred; alternatively, no line-search step satisfies the sufficient decrease and "
        "curvature conditions.",
        "line_search",
    ),
    ("Success: met stopping criteria (ftol).", "converged"),
    ("The initial variables already minimize the objective function.", "converged"),
    # gradient-free
    (
        "AmoebaOptimizerv4: Both parameters convergence tolerance (1e-08) and function convergence tolerance "
        "(0.0001) have been met in 87 iterations.",
        "converged",
    ),
    ("AmoebaOptimizerv4: Maximum number of iterations exceeded. Number of iterations is 100", "max_evaluations"),
    (
        "PowellOptimizerv4: Cost function values at the current parameter (0.3924) and at the local extrema "
        "(0.3924) are within Value Tolerance (1e-06)",
        "converged",
    ),
    ("PowellOptimizerv4: Maximum number of iterations exceeded. Number of iterations is 100", "max_iterations"),
    ("OnePlusOneEvolutionaryOptimizerv4: Fnorm (0.000147) is less than Epsilon (0.00015 at iteration #52", "converged"),
    ("OnePlusOneEvolutionaryOptimizerv4: Maximum number of iterations (100) exceeded. ", "max_iterations"),
    ("OnePlusOneEvolutionaryOptimizerv4: StopOptimization() called", "user_stop"),
    ("ExhaustiveOptimizerv4: Completed sampling of parametric space of size 3", "converged"),
    ("ExhaustiveOptimizerv4: Running. @ index [2, 3] value is 0.52", "user_stop"),
    # Execute raised: the description is the exception text
    (
        "/build/SimpleITK/Wrapping/Python/sitkPyCommand.cxx:131:\nsitk::ERROR: There was an error executing the "
        "Python Callable.",
        "error",
    ),
    # never guessed
    ("Something no optimizer ever said", "unknown"),
    ("", "unknown"),
]


@pytest.mark.parametrize(("text", "category"), TABLE, ids=[t[:60] for t, _ in TABLE])
def test_reference_table(text, category):
    assert category in CATEGORIES
    assert classify_text(text) == category


def test_public_classify_stop_goes_through_the_hook_chain(pm):
    class Override:
        @regbench.hookimpl
        def regbench_classify_stop(self, text):
            return "user_stop" if text == "Converged" else None

    assert regbench.classify_stop("Converged", pm=pm) == "converged"
    pm.register(Override())
    assert regbench.classify_stop("Converged", pm=pm) == "user_stop"  # a plugin runs before the built-in
    assert regbench.classify_stop("Already minimized", pm=pm) == "converged"  # None defers to the built-in


def test_rounding_failures():
    assert is_rounding_failure("A rounding error occurred or line-search steps have an insufficient reduction")
    assert is_rounding_failure("LBFGSBOptimizerv4: Abnormal termination in line search.  Often caused by ...")
    assert not is_rounding_failure("Already minimized")


@pytest.mark.parametrize(
    ("args", "outcome"),
    [
        (("ok", "converged", 1.7976931348623157e308, 1.0, 2.0), "no_overlap"),  # whatever the text says
        (("ok", "converged", 5.0, 1.0, 3.0), "diverged"),
        (("ok", "line_search", 0.1, 1.0, 0.1), "line_search"),  # a rounding stop at a good solution
        (("ok", "converged", 0.1, 1.0, None), "converged"),
        (("error", "error", None, None, None), "error"),
        (("timeout", None, None, None, None), "timeout"),
    ],
)
def test_outcome_uses_the_numbers(args, outcome):
    assert judge_outcome(*args) == outcome


def test_mattes_no_overlap_exception_is_a_no_overlap_outcome():
    error = (
        "Execute failed: ITK ERROR: MattesMutualInformationImageToImageMetricv4(0x1): All samples map outside "
        "moving image buffer. The images do not sufficiently overlap."
    )
    assert judge_outcome("error", "error", None, None, None, error) == "no_overlap"
    assert judge_outcome("error", "error", None, None, None, "Execute failed: something else") == "error"


def test_object_addresses_are_kept_out_of_stop_texts_and_errors():
    """ITK writes the metric's address into its no-overlap exception, which the optimizer's stop text repeats:
    with it the same run gave a different record each time (found comparing two stores of the default suite)."""
    from regbench import run_one
    from regbench.util.itk_text import without_addresses

    record = run_one("lbfgs2", "synth2d-rigid-mi", seed=0)
    assert record.outcome == "no_overlap"
    texts = [record.stop_condition, record.error, *(s.stop_condition for s in record.segments)]
    texts += [s.error for s in record.segments]
    assert any("MattesMutualInformationImageToImageMetricv4" in (t or "") for t in texts)
    assert not any("0x" in (t or "") for t in texts), texts
    assert without_addresses("Metricv4(0x55b8eb472520): All samples") == "Metricv4: All samples"
