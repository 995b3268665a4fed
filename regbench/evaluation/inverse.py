"""Inverse consistency: the reverse registration of a run, and how far the two results are from inverses.

For a case with ``inverse_consistency`` set (a TOML case: ``inverse_consistency = true``), every run is repeated
the other way round after the forward run, from the same seed and with the same strategy and parameters: the
case's moving image (and its mask and labels) as the fixed one and the fixed as the moving, the case's initial
transform inverted where it has one. T_fwd maps fixed points into moving space and T_bwd moving points into fixed
space, so for each voxel centre p of the fixed foreground (:func:`regbench.evaluation.measures.foreground`)

    d(p) = ‖T_bwd(T_fwd(p)) − p‖

is zero for a perfectly consistent pair. The record keeps its mean and 95th percentile over the foreground (at
most :data:`MAX_POINTS` of its voxels, a regular subsample)
(``inverse_consistency_mean``, ``inverse_consistency_p95``, physical units). It needs no truth, but it doubles
the work, so it is off by default; the reverse run's time is kept apart (``measures["inverse_run_time_s"]``) and
is not part of the run's wall or CPU time, so times stay comparable with runs that did not ask for it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case, CaseData
from regbench.evaluation.measures import affine_displacement, foreground, physical_points
from regbench.record import RunRecord
from regbench.util.transforms import is_deformable

#: Foreground points measured at most (a regular subsample beyond it), as for the spread over seeds.
MAX_POINTS = 20000


def reversed_case(case: Case) -> Case:
    """``case`` with its images swapped (moving onto fixed): its truth and landmarks are dropped, its initial
    transform inverted (left out when it has no inverse)."""
    data = case.load()

    def load() -> CaseData:
        initial = None
        if data.initial_transform is not None:
            try:
                initial = data.initial_transform.GetInverse()
            except RuntimeError:  # e.g. a B-spline: the reverse run starts from the model's own start
                initial = None
        return CaseData(
            fixed=data.moving,
            moving=data.fixed,
            fixed_mask=data.moving_mask,
            moving_mask=data.fixed_mask,
            initial_transform=initial,
            fixed_labels=data.moving_labels,
            moving_labels=data.fixed_labels,
        )

    return Case(
        f"{case.name}.reversed", load, case.setup, description=f"{case.name}, moving onto fixed", tags=case.tags
    )


def consistency(forward: sitk.Transform, backward: sitk.Transform, data: CaseData) -> dict[str, float | None]:
    """Mean and 95th percentile of ‖T_bwd(T_fwd(p)) − p‖ over ``data``'s fixed foreground (module docstring)."""
    points = physical_points(data.fixed)[foreground(data)]
    if not len(points):
        return {"inverse_consistency_mean": None, "inverse_consistency_p95": None}
    points = points[:: max(1, len(points) // MAX_POINTS)]  # a regular subsample: the figures barely move
    there = _mapped(forward, points)
    distances = np.linalg.norm(_mapped(backward, there) - points, axis=1)
    return {
        "inverse_consistency_mean": float(distances.mean()),
        "inverse_consistency_p95": float(np.percentile(distances, 95)),
    }


def _mapped(transform: sitk.Transform, points: np.ndarray) -> np.ndarray:
    """T(p) for each row of ``points``: with numpy for an affine map, point by point for a deformable one."""
    if is_deformable(transform):
        return np.array([transform.TransformPoint([float(c) for c in p]) for p in points])
    return points + affine_displacement(transform, points)


def measure(record: RunRecord, forward: sitk.Transform, case: Case, run_reverse: Any) -> tuple[float, float]:
    """Run the reverse registration with ``run_reverse(reversed_case, scratch_record)`` (which returns the
    reverse mapping) and set ``record``'s inverse-consistency fields; a failing reverse run leaves them None with
    a note. Returns the wall and CPU seconds it took."""
    started, cpu = time.perf_counter(), time.process_time()
    scratch = RunRecord(record.strategy, record.case, record.seed, params=record.params, threads=record.threads)
    try:
        backward = run_reverse(reversed_case(case), scratch)
        fields = consistency(forward, backward, case.load())
    except Exception as exc:
        record.notes.append(f"inverse consistency not measured: the reverse run raised {type(exc).__name__}: {exc}")
    else:
        record.inverse_consistency_mean = fields["inverse_consistency_mean"]
        record.inverse_consistency_p95 = fields["inverse_consistency_p95"]
    seconds = time.perf_counter() - started
    record.measures["inverse_run_time_s"] = seconds
    return seconds, time.process_time() - cpu
