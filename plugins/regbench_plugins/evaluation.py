"""The built-in evaluation: every run's dense metric, error against the truth, landmark TRE, label overlap and
Jacobian statistics, as :func:`regbench.evaluate_transform` measures them (a plugin of one's own may call it too,
to compare its measures with regbench's)."""

from __future__ import annotations

from typing import Any

import SimpleITK as sitk

import regbench


@regbench.hookimpl
def regbench_evaluate(case: regbench.Case, transform: sitk.Transform, record: regbench.RunRecord) -> dict[str, Any]:
    return regbench.evaluate_transform(case, transform, record)
