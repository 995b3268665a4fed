"""Stability without truth: how far apart a strategy's returned transforms land across seeds on one case.

The **spread** of a set of transforms (fixed → moving) is measured on the fixed image's foreground (the case's
fixed mask, or the thresholded fixed image: :func:`regbench.evaluation.measures.foreground`): each transform sends every
foreground voxel centre p to T_i(p); the spread at p is the root-mean-square distance of those positions from
their mean, and the spread of the set is its mean over the foreground, in physical units:

    spread = mean_p sqrt( mean_i ‖T_i(p) − mean_j T_j(p)‖² )

Seeds differ in their start (jitter), their metric samples and anything random in the strategy, so a strategy
that reliably reaches one optimum has a spread far below a voxel; one that stops wherever it starts spreads as
much as the starts do. It needs no truth: the evidence of last resort beside the dense metric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import CaseData
from regbench.evaluation.measures import affine_displacement, displacement, foreground, physical_points
from regbench.report.load.columns import Runs
from regbench.util.transforms import is_deformable, transform_from_dict

#: Foreground points the spread is measured on at most (a regular subsample beyond it: the mean barely moves).
MAX_POINTS = 20000


def spread(transforms: Sequence[sitk.Transform], data: CaseData) -> float | None:
    """The spread (module docstring) of ``transforms`` on ``data``'s fixed foreground; None for fewer than two."""
    if len(transforms) < 2:
        return None
    where = foreground(data)
    points = physical_points(data.fixed)[where]
    step = max(1, len(points) // MAX_POINTS)
    points = points[::step]
    mapped = []
    for transform in transforms:
        if is_deformable(transform):
            moved = displacement(transform, data.fixed)[where][::step]
        else:
            moved = affine_displacement(transform, points)
        mapped.append(points + moved)
    positions = np.stack(mapped)  # (transforms, points, dim)
    deviation = positions - positions.mean(axis=0)
    return float(np.sqrt((deviation**2).sum(axis=-1).mean(axis=0)).mean())


def solver_spreads(runs: Runs, load: Callable[[str], CaseData | None]) -> dict[str, float]:
    """Per solver, the spread of its returned transforms over its executed runs on the one case of ``runs``
    (``load`` gives the case's data, or None where it cannot be loaded: then no spread is measured)."""
    cases = sorted({str(c) for c in runs["case"].tolist()})
    if len(cases) != 1:
        return {}
    data = load(cases[0])
    if data is None:
        return {}
    ok = np.flatnonzero(runs["status"] == "ok")
    by_key = {r.key: r for r in runs.records([str(runs["key"][i]) for i in ok])}
    out: dict[str, float] = {}
    for solver in sorted({str(runs.solver[i]) for i in ok}):
        keys = [str(runs["key"][i]) for i in ok if str(runs.solver[i]) == solver]
        stored = [by_key[k].transform for k in keys if k in by_key]
        transforms = [transform_from_dict(t) for t in stored if t]
        value = spread(transforms, data)
        if value is not None:
            out[solver] = value
    return out
