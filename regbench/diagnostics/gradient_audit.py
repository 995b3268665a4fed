"""Gradient audit: does the metric's derivative point where the dense metric goes down?

At a few start points, one gradient-descent iteration with a tiny learning rate (unit scales, no learning-rate
estimation, one thread, dense metric, full resolution) gives SimpleITK's step; a central finite difference of
the same dense metric (``MetricEvaluate``, value only) gives the true descent direction. Their cosine is +1 when
the derivative is right, −1 when it has the wrong sign. The audit works in the translation subspace (a
translation composed after the case's start mapping): cheap for every model, and a sign error shows there.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.case import Case, CaseData, Setup, as_float, configure_masks, configure_metric, initial_mapping

#: A cosine below this is flagged: the first step does not go downhill.
WARN_BELOW = 0.5


@dataclass
class GradientAudit:
    case: str
    metric: str
    cosines: list[float | None] = field(default_factory=list)  # one per start point
    starts: list[list[float]] = field(default_factory=list)  # translation offsets (physical units)
    simpleitk: str = ""

    @property
    def worst(self) -> float | None:
        known = [c for c in self.cosines if c is not None]
        return min(known) if known else None

    @property
    def flagged(self) -> bool:
        worst = self.worst
        return worst is not None and worst < WARN_BELOW

    def warning(self) -> str | None:
        """The short case-level line, or None when the derivative agrees."""
        if not self.flagged:
            return None
        return (
            f"gradient audit: {self.metric} derivative disagrees with the dense metric's finite difference "
            f"(cosine {self.worst:+.2f}); gradient-based optimizers may walk uphill"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "worst": self.worst, "flagged": self.flagged}


def _method(setup: Setup, data: CaseData) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    method.SetNumberOfWorkUnits(1)
    configure_metric(method, setup)
    configure_masks(method, data)
    method.SetMetricSamplingStrategy(method.NONE)
    return method


def _value(
    method: sitk.ImageRegistrationMethod,
    start: sitk.Transform,
    offset: np.ndarray,
    fixed: sitk.Image,
    moving: sitk.Image,
) -> float:
    method.SetMovingInitialTransform(start)
    method.SetInitialTransform(sitk.TranslationTransform(fixed.GetDimension(), offset.tolist()), inPlace=False)
    return float(method.MetricEvaluate(fixed, moving))


def first_step(
    method: sitk.ImageRegistrationMethod,
    start: sitk.Transform,
    offset: np.ndarray,
    fixed: sitk.Image,
    moving: sitk.Image,
    rate: float = 1e-6,
) -> np.ndarray:
    """SimpleITK's first gradient-descent step from ``offset`` (unit scales), divided by the rate: the
    metric's descent direction as the optimizer sees it."""
    # A measuring instrument (a tiny step reads the derivative), not optimizer knowledge: it stays in the core.
    method.SetOptimizerAsGradientDescent(
        learningRate=rate, numberOfIterations=1, estimateLearningRate=method.Never, maximumStepSizeInPhysicalUnits=0.0
    )
    method.SetOptimizerScales([1.0] * fixed.GetDimension())
    method.SetMovingInitialTransform(start)
    method.SetInitialTransform(sitk.TranslationTransform(fixed.GetDimension(), offset.tolist()), inPlace=False)
    out = method.Execute(fixed, moving)
    return (np.asarray(out.GetParameters()) - offset) / rate


def fd_descent(
    method: sitk.ImageRegistrationMethod,
    start: sitk.Transform,
    offset: np.ndarray,
    fixed: sitk.Image,
    moving: sitk.Image,
    h: float = 0.25,
) -> np.ndarray:
    """Minus the central finite-difference gradient of the dense metric (step ``h`` physical units)."""
    grad = np.zeros_like(offset)
    for i in range(len(offset)):
        e = np.zeros_like(offset)
        e[i] = h
        grad[i] = (
            _value(method, start, offset + e, fixed, moving) - _value(method, start, offset - e, fixed, moving)
        ) / (2 * h)
    return -grad


def cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if not (na > 0 and nb > 0) or not np.isfinite(na * nb):
        return None
    return float(np.dot(a, b) / (na * nb))


def audit_pair(
    setup: Setup,
    data: CaseData,
    start: sitk.Transform | None = None,
    offsets: Iterable[Sequence[float] | np.ndarray] | None = None,
    h: float = 0.25,
) -> tuple[list[list[float]], list[float | None]]:
    """Cosines between SimpleITK's first step and the finite-difference descent at each offset."""
    fixed, moving = as_float(data.fixed), as_float(data.moving)
    dim = fixed.GetDimension()
    start = start if start is not None else sitk.TranslationTransform(dim)
    spacing = float(min(fixed.GetSpacing()))
    if offsets is None:
        # the start, then two voxels off along the first axis and back along the last
        offsets = [np.zeros(dim), np.eye(dim)[0] * 2.0 * spacing, -np.eye(dim)[dim - 1] * 2.0 * spacing]
    method = _method(setup, data)
    cosines: list[float | None] = []
    for offset in offsets:
        offset = np.asarray(offset, dtype=float)
        try:
            step = first_step(method, start, offset, fixed, moving)
            descent = fd_descent(method, start, offset, fixed, moving, h * spacing)
            cosines.append(cosine(step, descent))
        except RuntimeError:
            cosines.append(None)
    return [list(map(float, o)) for o in offsets], cosines


def audit_case(case: Case, metric: str | None = None) -> GradientAudit:
    """Audit ``case`` (its own metric, or ``metric``) at the nominal start and two small offsets."""
    import dataclasses

    setup = case.setup if metric is None else dataclasses.replace(case.setup, metric=metric)
    data = case.load()
    start = initial_mapping(case.setup, data, 0)
    starts, cosines = audit_pair(setup, data, start)
    return GradientAudit(case.name, setup.metric, cosines, starts, sitk.Version_VersionString())


# -- what is known without measuring, and a cache of what was measured -----------------------------------------


def known_warning(setup: Setup) -> str | None:
    """A warning known from the SimpleITK version alone (no images read): JHMI's derivative under ITK < 6
    (wrong on asymmetric, i.e. multimodal, pairs: ITK PR #6569 fixes it on ITK's main branch only)."""
    if setup.metric == "jhmi" and _itk_major() < 6:
        return (
            f"gradient audit: jhmi's derivative is wrong on multimodal pairs with ITK {_itk_version()} (first-step "
            "cosine -1.0 on the synthetic pair); prefer mattes"
        )
    return None


def _itk_version() -> str:
    try:
        return sitk.Version_ITKVersionString()
    except AttributeError:  # pragma: no cover
        return "?"


def _itk_major() -> int:
    try:
        return int(_itk_version().split(".")[0])
    except ValueError:  # pragma: no cover
        return 0


def _cache_file() -> Path:
    root = Path(
        os.environ.get("REGBENCH_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "regbench"
    )
    return root / f"gradient-audit-simpleitk-{sitk.Version_VersionString()}.json"


def _case_key(case: Case, metric: str) -> str:
    payload = json.dumps(
        {"case": case.name, "definition": case.fingerprint(), "metric": metric}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _read_cache() -> dict[str, Any]:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def cached_audit(case: Case, metric: str | None = None) -> dict[str, Any] | None:
    """The stored audit of ``case`` (this SimpleITK, this definition), or None: never computes."""
    return _read_cache().get(_case_key(case, metric or case.setup.metric))


def audit_case_cached(case: Case, metric: str | None = None) -> dict[str, Any]:
    """:func:`audit_case`, stored per case definition and metric in the user cache (one file per SimpleITK)."""
    metric = metric or case.setup.metric
    key = _case_key(case, metric)
    cache = _read_cache()
    if key not in cache:
        cache[key] = audit_case(case, metric).as_dict()
        try:
            _cache_file().parent.mkdir(parents=True, exist_ok=True)
            tmp = _cache_file().with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
            os.replace(tmp, _cache_file())  # atomic
        except OSError:  # pragma: no cover - a read-only cache is not an error
            pass
    return cache[key]


def case_warning(case: Case) -> str | None:
    """The short case-level warning line for ``list``, ``show`` and reports: the measured audit if it is cached
    and flagged, else what is known for the metric on this SimpleITK."""
    audit = cached_audit(case)
    if audit and audit.get("flagged"):
        return (
            f"gradient audit: {audit['metric']} derivative disagrees with the dense metric "
            f"(worst first-step cosine {audit['worst']:+.2f})"
        )
    if audit and not audit.get("flagged"):
        return None
    return known_warning(case.setup)


# -- the synthetic multimodal pair ---------------------------------------------------------------------------


@functools.cache
def _multimodal_data() -> CaseData:
    from regbench.cases.tiny import _texture

    fixed = _texture(seed=3)
    shifted = sitk.GetArrayFromImage(
        sitk.Resample(fixed, fixed, sitk.TranslationTransform(2, (3.0, -2.0)), sitk.sitkLinear, 0.0)
    )
    moving = sitk.GetImageFromArray((1.0 - shifted**4).astype(np.float32))
    moving.CopyInformation(fixed)
    return CaseData(fixed=fixed, moving=moving, truth=sitk.TranslationTransform(2, (-3.0, 2.0)))


def make_multimodal_case(metric: str = "jhmi") -> Case:
    """A 2D 64² pair whose intensities are related by a non-linear, non-symmetric map (moving = 1 − shifted⁴,
    so the two marginal histograms differ): the pair on which ITK 5.4's JHMI derivative points uphill."""
    return Case(
        f"multimodal-{metric}",
        _multimodal_data,
        Setup(transform="translation", metric=metric),
        description="2D 64² texture against 1 − (shifted texture)⁴: asymmetric marginals (gradient audit)",
        tags=("synthetic", "2d", "testing"),
    )
