"""Cases: registration problems held fixed while strategies vary.

A case owns its images (loaded lazily), optional masks, initial transform and ground truth, and its
:class:`Setup` (transform model, metric, sampling, pyramid, interpolator) so that every strategy faces the same
problem. The harness builds the ``ImageRegistrationMethod`` from the setup with :func:`apply_setup`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from regbench.cases.data import LABEL_PIXEL_IDS, CaseData, check_case_data  # noqa: F401  (re-exported)
from regbench.cases.setup import (
    INTERPOLATORS,
    JITTERS,
    MAX_ANTS_RADIUS,  # noqa: F401  (re-exported, as the names below: the old import path)
    MAX_HISTOGRAM_BINS,  # noqa: F401
    MAX_MESH,  # noqa: F401
    MAX_SHRINK,  # noqa: F401
    METRICS,
    MIN_HISTOGRAM_BINS,  # noqa: F401
    SAMPLINGS,  # noqa: F401
    TRANSFORMS,  # noqa: F401
    UNSUPPORTED_METRICS,  # noqa: F401
    CaseError,
    Setup,
)
from regbench.cases.simulation import Simulation, simulate
from regbench.util.strict_json import dumps


@dataclass
class Case:
    """A registration problem. ``loader`` builds the :class:`CaseData` on first use.

    A *simulated* case (``simulation`` set; :meth:`simulated` makes one) has data that depend on the run seed:
    its ``loader`` gives the source pair, and each seed's instance (:meth:`for_seed`) is the source's fixed
    image warped through a random transform of the setup's model, with an exact truth
    (:func:`regbench.cases.simulation.simulate`). Loaded without a seed, it is seed 0's instance.
    """

    name: str
    loader: Callable[[], CaseData]
    setup: Setup = field(default_factory=Setup)
    description: str = ""
    tags: tuple[str, ...] = ()
    default: bool = False  # part of the default suite
    unavailable: str | None = None  # why it cannot run here and how to fix that
    # What else identifies the problem beyond its name and setup (e.g. its files' paths, sizes and modification
    # times): part of every run's key, so editing a case's definition never returns a stale stored result.
    identity: dict[str, Any] = field(default_factory=dict)
    provenance: Any = None  # set when registered
    simulation: Simulation | None = None  # a simulated case: one instance per run seed (see the docstring)
    simulated_from: str | None = None  # the name of the case whose images a simulated case uses, for reports
    # Run every strategy the other way too (moving onto fixed) and measure how far T_bwd ∘ T_fwd is from the
    # identity on the fixed foreground (regbench.evaluation.inverse): evidence without truth, at twice the cost.
    inverse_consistency: bool = False
    _data: CaseData | None = field(default=None, init=False, repr=False)
    # A simulated case's own state: the seed of an instance, the case it derives from (which holds the source
    # pair and the last few instances, so every seed's case shares one source and one evaluation cache entry).
    _seed: int | None = field(default=None, init=False, repr=False)
    _template: Case | None = field(default=None, init=False, repr=False)
    _source: CaseData | None = field(default=None, init=False, repr=False)
    _instances: dict[int, Case] = field(default_factory=dict, init=False, repr=False)

    def load(self) -> CaseData:
        if self.unavailable:
            raise CaseError(f"case {self.name!r} is unavailable: {self.unavailable}")
        if self.simulation is not None and self._seed is None:
            return self.for_seed(0).load()
        if self._data is None:
            data = self.loader() if self.simulation is None else self._instance_data()
            check_case_data(self.name, data, self.setup)
            self._data = data
        return self._data

    def fingerprint(self) -> dict[str, Any]:
        """The case's definition for run keys: setup, identity and the version of the plugin that made it (and,
        for a simulated case, the simulation and its source: other magnitudes are another problem)."""
        provenance = self.provenance.as_dict() if self.provenance is not None else None
        out = {"setup": dataclasses.asdict(self.setup), "identity": self.identity, "provenance": provenance}
        if self.simulation is not None:
            # `instances` only says how many seeds the user means to run: not part of the problem
            problem = {k: v for k, v in dataclasses.asdict(self.simulation).items() if k != "instances"}
            out.update(simulation=problem, simulated_from=self.simulated_from)
        if self.inverse_consistency:
            out["inverse_consistency"] = True
        return out

    def for_seed(self, seed: int) -> Case:
        """The case a run with ``seed`` solves: ``self`` for an ordinary case; for a simulated one, that seed's
        instance: a case of the same name, setup and provenance whose identity holds the seed (so its instance
        key differs per seed) and whose data is built from the seed. The last few are kept per process."""
        if self.simulation is None:
            return self
        template, seed = self._template or self, int(seed)
        instance = template._instances.pop(seed, None)
        if instance is None:
            instance = dataclasses.replace(template, identity={**template.identity, "simulation_seed": seed})
            instance._seed, instance._template = seed, template
        template._instances[seed] = instance  # the most recent last
        while len(template._instances) > _INSTANCES_KEPT:
            template._instances.pop(next(iter(template._instances)))
        return instance

    def simulated(self, simulation: Simulation, name: str | None = None) -> Case:
        """A companion case of simulated instances of this case's fixed image (``<name>-sim`` by default,
        tagged ``simulated``): never pooled with this case's results. Its data depend on the run seed."""
        if self.simulation is not None:
            raise CaseError(f"case {self.name!r} is already simulated: simulate its source {self.simulated_from!r}")
        simulation = simulation.resolved(self.setup)
        simulation.check_model(self.setup.transform)
        return Case(
            name or f"{self.name}-sim",
            self.load,
            self.setup,
            description=simulation.describe(self.name),
            tags=(*self.tags, "simulated"),
            default=self.default,
            unavailable=self.unavailable,
            identity=dict(self.identity),
            simulation=simulation,
            simulated_from=self.name,
        )

    def _instance_data(self) -> CaseData:
        assert self.simulation is not None and self._seed is not None
        template = self._template or self
        if template._source is None:
            source = template.loader()
            check_case_data(self.simulated_from or self.name, source, self.setup)
            template._source = source
        source = template._source
        instance = simulate(
            self.simulation, self.setup, as_float(source.fixed), self._seed, source.fixed_mask, source.fixed_labels
        )
        return CaseData(**vars(instance))

    @property
    def dimension(self) -> int:
        return self.load().fixed.GetDimension()


#: How many seeds' instances a simulated case keeps per process (runs of one case often come seed after seed).
_INSTANCES_KEPT = 4

# The models with a matrix, a translation and a centre (SimpleITK's classes share no base class for them).
LinearModel = (
    sitk.Euler2DTransform
    | sitk.Euler3DTransform
    | sitk.Similarity2DTransform
    | sitk.Similarity3DTransform
    | sitk.AffineTransform
)


# -- building a registration method from a setup ---------------------------------------------------------


def configure_metric(method: sitk.ImageRegistrationMethod, setup: Setup) -> None:
    if setup.metric == "mean_squares":
        method.SetMetricAsMeanSquares()
    elif setup.metric == "correlation":
        method.SetMetricAsCorrelation()
    elif setup.metric == "mattes":
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=setup.histogram_bins)
    elif setup.metric == "ants_nc":
        method.SetMetricAsANTSNeighborhoodCorrelation(radius=setup.ants_radius)
    elif setup.metric == "jhmi":
        # Joint-histogram MI (Parzen-smoothed joint histogram); with ITK 5.4 its derivative has the wrong sign on
        # multimodal pairs (docs/diagnostics.md, the gradient audit).
        method.SetMetricAsJointHistogramMutualInformation(numberOfHistogramBins=setup.histogram_bins)
    else:
        raise CaseError(f"setup: metric {setup.metric!r} is not one of {', '.join(METRICS)}")
    method.SetInterpolator(INTERPOLATORS[setup.interpolator])


def configure_masks(method: sitk.ImageRegistrationMethod, data: CaseData) -> None:
    if data.fixed_mask is not None:
        method.SetMetricFixedMask(sitk.Cast(data.fixed_mask > 0, sitk.sitkUInt8))
    if data.moving_mask is not None:
        method.SetMetricMovingMask(sitk.Cast(data.moving_mask > 0, sitk.sitkUInt8))


def initial_model_transform(setup: Setup, data: CaseData, seed: int | None = None) -> sitk.Transform:
    """The optimized transform at its starting point: the case's initial transform if it has the model's
    type, otherwise the model's identity centred on the fixed image; then, for a run seed ≥ 1 when the setup
    asks for it, a misalignment drawn from that seed (:func:`jitter`). A copy: callers may change it."""
    key = (id(setup), id(data), seed)
    cached = _STARTS.get(key)
    if cached is None or cached[0] is not setup or cached[1] is not data:
        # a run asks for its start several times (its context, its instance, its evaluation): made once
        cached = (setup, data, _model_start(setup, data, seed))
        if len(_STARTS) >= 16:
            _STARTS.pop(next(iter(_STARTS)))
        _STARTS[key] = cached
    return sitk.Transform(cached[2]).Downcast()


#: The last few starts, by the identity of their setup and data (checked, not only their ids) and the seed.
_STARTS: dict[tuple[int, int, int | None], tuple[Setup, CaseData, sitk.Transform]] = {}


def _model_start(setup: Setup, data: CaseData, seed: int | None) -> sitk.Transform:
    fixed = data.fixed
    dim = fixed.GetDimension()
    initial = data.initial_transform
    if initial is not None and _model_name(setup.transform, dim) == initial.GetName():
        return jitter(sitk.Transform(initial).Downcast(), setup, seed)
    if setup.transform == "bspline":
        mesh = list(setup.mesh_size) * (dim if len(setup.mesh_size) == 1 else 1)
        return jitter(sitk.BSplineTransformInitializer(fixed, mesh, order=3), setup, seed)
    if setup.transform == "translation":
        return jitter(sitk.TranslationTransform(dim), setup, seed)
    model: LinearModel = {
        "rigid": sitk.Euler2DTransform() if dim == 2 else sitk.Euler3DTransform(),
        "similarity": sitk.Similarity2DTransform() if dim == 2 else sitk.Similarity3DTransform(),
        "affine": sitk.AffineTransform(dim),
    }[setup.transform]
    if initial is None:
        return jitter(
            sitk.CenteredTransformInitializer(
                fixed, data.moving, model, sitk.CenteredTransformInitializerFilter.GEOMETRY
            ).Downcast(),
            setup,
            seed,
        )
    return jitter(_centred_on_image(model, fixed), setup, seed)


def has_jitter(setup: Setup) -> bool:
    """The setup perturbs the start per seed (seeds ≥ 1 start elsewhere than seed 0)."""
    return any(getattr(setup, name) for name, _, _ in JITTERS)


def jitter(transform: sitk.Transform, setup: Setup, seed: int | None) -> sitk.Transform:
    """``transform`` (the model's start) misaligned as :class:`Setup`'s ``initial_jitter*`` fields ask, drawn
    from ``seed`` alone; seed 0 (and None) is the nominal start, returned unchanged.

    The rotation R (angle ~ N(0, σ_angle) degrees; in 3D about an axis uniform on the sphere) and the scale
    s = exp(N(0, σ_scale)) act about the transform's centre, before its own linear part: the matrix A becomes
    s·R·A. The translation t ~ N(0, σ) per axis is added to the transform's translation. A B-spline model gets t
    on every control point: B-spline bases sum to one, so that is a pure translation over the fixed image domain,
    a misalignment the model can undo exactly. Each part has its own random stream, so turning one on leaves the
    others' draws unchanged.
    """
    if seed is None or int(seed) == 0 or not has_jitter(setup):
        return transform
    dim = transform.GetDimension()
    streams = [np.random.default_rng([int(seed), 0x5EED, part]) for part in range(3)]
    offset = streams[0].normal(0.0, setup.initial_jitter, dim) if setup.initial_jitter else np.zeros(dim)
    if isinstance(transform, sitk.TranslationTransform):
        transform.SetOffset([float(a + b) for a, b in zip(transform.GetOffset(), offset, strict=True)])
        return transform
    if isinstance(transform, sitk.BSplineTransform):
        params = np.array(transform.GetParameters()).reshape(dim, -1)  # all x coefficients, then all y, ...
        transform.SetParameters(tuple(float(v) for v in (params + offset[:, None]).ravel()))
        return transform
    if not isinstance(transform, LinearModel):
        raise TypeError(f"cannot misalign a {transform.GetName()} (not downcast, or not a model)")
    linear = np.eye(dim)
    if setup.initial_jitter_angle:
        angle = np.radians(streams[1].normal(0.0, setup.initial_jitter_angle))
        axis = streams[1].standard_normal(3)
        linear = _rotation(dim, float(angle), axis / np.linalg.norm(axis))
    if setup.initial_jitter_scale:
        linear = float(np.exp(streams[2].normal(0.0, setup.initial_jitter_scale))) * linear
    if not np.array_equal(linear, np.eye(dim)):
        matrix = linear @ np.reshape(transform.GetMatrix(), (dim, dim))
        transform.SetMatrix(tuple(float(v) for v in matrix.ravel()))
    transform.SetTranslation([float(a + b) for a, b in zip(transform.GetTranslation(), offset, strict=True)])
    return transform


def _rotation(dim: int, angle: float, axis: np.ndarray) -> np.ndarray:
    """A rotation by ``angle`` radians; in 3D about the unit ``axis`` (Rodrigues), in 2D the axis is unused."""
    c, s = np.cos(angle), np.sin(angle)
    if dim == 2:
        return np.array([[c, -s], [s, c]])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + s * k + (1 - c) * k @ k


def _centred_on_image(model: LinearModel, fixed: sitk.Image) -> LinearModel:
    # With a separate initial transform the model starts at identity, centred on the fixed image.
    centre = fixed.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in fixed.GetSize()])
    model.SetCenter(centre)
    return model


def _model_name(transform: str, dim: int) -> str:
    return {
        "translation": "TranslationTransform",
        "rigid": f"Euler{dim}DTransform",
        "similarity": f"Similarity{dim}DTransform",
        "affine": "AffineTransform",
        "bspline": "BSplineTransform",
    }[transform]


def uses_moving_initial(setup: Setup, data: CaseData) -> bool:
    """The case's initial transform is applied before the model (it is not of the model's type)."""
    initial = data.initial_transform
    return initial is not None and initial.GetName() != _model_name(setup.transform, initial.GetDimension())


def apply_setup_levels(
    method: sitk.ImageRegistrationMethod,
    setup: Setup,
    levels: Sequence[int],
    transform: sitk.Transform,
    sampling_seed: int,
) -> None:
    """Pyramid, sampling and the optimized transform for the selected case levels."""
    method.SetShrinkFactorsPerLevel([int(setup.shrink_factors[x]) for x in levels])
    method.SetSmoothingSigmasPerLevel([float(setup.smoothing_sigmas[x]) for x in levels])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    strategy = {
        "none": method.NONE,
        "regular": method.REGULAR,
        "random": method.RANDOM,
    }[setup.sampling]
    method.SetMetricSamplingStrategy(strategy)
    if setup.sampling != "none":
        method.SetMetricSamplingPercentagePerLevel([setup.percentage(x) for x in levels], sampling_seed)
    if isinstance(transform, sitk.BSplineTransform) and setup.mesh_scale_factors:
        # Factors are relative to the case's first mesh; a transform continued from a grown mesh is already
        # refined by `done`, so only the remaining refinement is asked for.
        base = setup.mesh_size[0]
        done = max(1, round(transform.GetTransformDomainMeshSize()[0] / base))
        factors = [max(1, round(setup.mesh_scale_factors[x] / done)) for x in levels]
        method.SetInitialTransformAsBSpline(transform, inPlace=True, scaleFactors=factors)
    else:
        method.SetInitialTransform(transform, inPlace=True)


def full_mapping(setup: Setup, data: CaseData, transform: sitk.Transform) -> sitk.Transform:
    """The fixed → moving mapping of an optimized transform: the case's initial transform (when it is not of
    the model's type) applied after it."""
    if uses_moving_initial(setup, data):
        composite = sitk.CompositeTransform(data.initial_transform)
        composite.AddTransform(transform)
        return composite
    return transform


def initial_mapping(setup: Setup, data: CaseData, seed: int | None = None) -> sitk.Transform:
    """Where every strategy starts on this case (for this run seed, when the setup jitters the start)."""
    return full_mapping(setup, data, initial_model_transform(setup, data, seed))


def as_float(image: sitk.Image) -> sitk.Image:
    """A scalar float image (registration needs one); a multi-component image gives its first component (a case
    load refuses one whose components differ: see ``check_case_data``)."""
    if image.GetNumberOfComponentsPerPixel() > 1:
        image = sitk.VectorIndexSelectionCast(image, 0)
    if image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        return image
    return sitk.Cast(image, sitk.sitkFloat32)


def case_digest(case: Case) -> str:
    """A SHA-256 of the case's definition (:meth:`Case.fingerprint`), as every run records it. Setup values equal
    to their defaults are left out, so a regbench that adds a setup key (with a default that changes nothing) does
    not make every stored run's case file look changed."""
    definition = case.fingerprint()
    defaults = dataclasses.asdict(Setup())
    definition["setup"] = {k: v for k, v in definition["setup"].items() if k not in defaults or defaults[k] != v}
    return hashlib.sha256(dumps(definition, sort_keys=True).encode()).hexdigest()
