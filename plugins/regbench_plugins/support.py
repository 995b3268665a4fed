"""Helpers shared by the built-in strategy modules (not a plugin: it registers nothing).

Everything here uses only regbench's public API, like a third-party plugin would.
"""

from __future__ import annotations

from collections.abc import Iterable

import SimpleITK as sitk

import regbench
from regbench import UnsupportedSetup, is_no_overlap, is_no_overlap_error

__all__ = [
    "SCALES",
    "UnsupportedSetup",
    "copy_with_parameters",
    "last_level_metric",
    "rate_base_scales",
    "resolve_scales",
    "set_scales",
]

SCALES = ("auto", "none", "physical_shift", "index_shift", "jacobian")


def set_scales(method: sitk.ImageRegistrationMethod, scales: str) -> None:
    """Attach a scales estimator; learning-rate estimation does nothing without one (reference §1.3)."""
    if scales == "physical_shift":
        method.SetOptimizerScalesFromPhysicalShift()
    elif scales == "index_shift":
        method.SetOptimizerScalesFromIndexShift()
    elif scales == "jacobian":
        method.SetOptimizerScalesFromJacobian()
    elif scales != "none":
        raise ValueError(f"scales {scales!r} is not one of {', '.join(SCALES)}")


def resolve_scales(ctx: regbench.RunContext, scales: str, estimate: str = "never") -> str:
    """The scales estimator to use on this case; refuses Jacobian scales on a B-spline transform up front,
    with the reason, instead of ITK's exception.

    ``auto`` is physical-shift scales, except none for a B-spline transform with a fixed learning rate: shift
    scales of B-spline parameters are tiny (~1e-7 on the built-in cases, ~1e-9 in reference §1.3), which makes
    any ordinary fixed rate explode; an estimated rate compensates, so estimation keeps them.
    """
    if scales == "auto":
        scales = "none" if ctx.setup.transform == "bspline" and estimate == "never" else "physical_shift"
        ctx.note(f"scales 'auto' resolved to {scales!r} for this {ctx.setup.transform} case")
    if scales == "jacobian" and ctx.setup.transform == "bspline":
        raise UnsupportedSetup(
            "scales 'jacobian' cannot be used with a B-spline transform: control points outside the central "
            "sampling region get scale 0 and ITK refuses them ('m_Scales values must be > epsilon'); "
            "use scales 'physical_shift', 'index_shift' or 'none'"
        )
    return scales


def rate_base_scales(ctx: regbench.RunContext, scales: str, rate_base: str) -> str:
    """:func:`resolve_scales` for a strategy whose rates are multiples of the rate estimated at the start of the
    first level (``rate_base`` 'estimated') or fixed rates taken as given ('raw'); refuses an estimated base
    without a scales estimator, before any execution, since SimpleITK estimates nothing without one."""
    estimated = rate_base == "estimated"
    resolved = resolve_scales(ctx, scales, "first_level" if estimated else "never")
    if estimated and resolved == "none":
        raise UnsupportedSetup(
            "rate_base 'estimated' needs a scales estimator (SimpleITK estimates nothing without one); "
            "use scales 'auto' or 'physical_shift', or rate_base 'raw'"
        )
    return resolved


def last_level_metric(ctx: regbench.RunContext, transform: sitk.Transform) -> float | None:
    """The case metric of ``transform`` at full resolution without sampling (one metric evaluation: the
    record's dense metric; ``MetricEvaluate`` ignores shrink, smoothing and sampling, reference §3.4), or None
    where no sample maps inside the moving image (DBL_MAX, or Mattes MI's exception).

    Used to compare candidate transforms on equal terms: SimpleITK never evaluates the last iterate when
    the iteration cap stops a gradient-descent run (reference §3.4), and the values in a trace are on each
    level's own shrunk, smoothed or sampled images.
    """
    method = ctx.new_method(initial_transform=transform, levels=[ctx.setup.levels - 1])
    try:
        value = method.MetricEvaluate(ctx.fixed, ctx.moving)
    except RuntimeError as exc:
        if is_no_overlap_error(str(exc)):
            return None
        raise
    return None if is_no_overlap(value) else value


def copy_with_parameters(transform: sitk.Transform, parameters: Iterable[float]) -> sitk.Transform:
    """A copy of ``transform`` (same type and fixed parameters) at ``parameters``."""
    out = sitk.Transform(transform).Downcast()
    out.SetParameters(tuple(float(p) for p in parameters))
    return out
