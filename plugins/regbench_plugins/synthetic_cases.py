"""Synthetic cases with known truth: a deterministic suite in 2D and 3D (generator in :mod:`.synthetic`).

Each case is a :class:`PairSpec` (size, truth of controlled size, modality, noise, seed) and a setup. Mono-modal
cases use mean squares; multi-modal ones remap the moving image's intensities non-monotonically and use Mattes
mutual information. The cases marked ``default`` form the default suite: small enough that every built-in
strategy on all of them with one seed takes about three minutes on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any  # the keyword sets below mix the types of Setup's fields

import regbench
from regbench import Case, CaseData, Setup
from regbench_plugins.synthetic import PairSpec, TruthSpec, generate, texture, warped_pair

# Two levels; the coarse one halves the image and smooths by one pixel.
PYRAMID: dict[str, Any] = {"shrink_factors": (2, 1), "smoothing_sigmas": (1.0, 0.0)}
MATTES: dict[str, Any] = {"metric": "mattes", "histogram_bins": 32}
# Each seed ≥ 1 starts from its own misalignment (seed 0 from the nominal start), so seeds are distinct instances
# even with a dense metric: per axis a shift of σ = 1 px, a rotation of σ = 2° where the model rotates and a
# scale of σ = 2% where it scales; B-spline models get the shift (all control points moved alike). Small beside
# the truths (5–16 px, 6–10°, ±6%), so every seed poses the same kind of problem.
JITTER: dict[str, float] = {"shift": 1.0, "angle": 2.0, "scale": 0.02}


@dataclass(frozen=True)
class SyntheticCase:
    name: str
    pair: PairSpec
    setup: Setup
    default: bool = False

    def case(self) -> Case:
        dim = len(self.pair.size)
        tags = ["synthetic", f"{dim}d", "multi" if self.pair.multimodal else "mono", self.pair.truth.kind]
        if self.pair.truth.kind == "bspline":
            tags.append("deformable")
        metric = "Mattes MI" if self.setup.metric == "mattes" else self.setup.metric.replace("_", " ")
        return Case(
            self.name,
            partial(generate, self.pair),
            self.setup,
            description=f"{self.pair.describe()}; {self.setup.transform} model, {metric}",
            tags=tuple(tags),
            default=self.default,
        )


def _mono(transform: str, **extra: Any) -> Setup:
    return Setup(transform=transform, **PYRAMID, **extra).jittered(**JITTER)


def _multi(transform: str, **extra: Any) -> Setup:
    return Setup(transform=transform, **PYRAMID, **MATTES, **extra).jittered(**JITTER)


TRANSLATION = TruthSpec("translation", shift=6.0)
RIGID = TruthSpec("rigid", shift=6.0, angle=10.0)
AFFINE = TruthSpec("affine", shift=5.0, angle=6.0, linear=0.06)
BSPLINE = TruthSpec("bspline", bspline=3.0, mesh=4)
SQUARE = (128, 128)
CUBE = (40, 40, 40)
# Sampling a quarter of the pixels at random: the stochastic regime most real registrations use.
SAMPLED: dict[str, Any] = {"sampling": "random", "sampling_percentage": (0.25,)}


def _case(
    name: str, size: tuple[int, ...], truth: TruthSpec, seed: int, setup: Setup, default: bool = False, **pair: Any
) -> SyntheticCase:
    return SyntheticCase(name, PairSpec(tuple(size), truth, seed, **pair), setup, default)


SUITE = (
    # The default suite: 2D 128² and one 3D 40³.
    _case("synth2d-translation", SQUARE, TRANSLATION, 11, _mono("translation"), default=True),
    _case("synth2d-rigid", SQUARE, RIGID, 14, _mono("rigid"), default=True),
    _case("synth2d-affine", SQUARE, AFFINE, 12, _mono("affine"), default=True),
    _case("synth2d-bspline", SQUARE, BSPLINE, 13, _mono("bspline", mesh_size=(4,)), default=True),
    _case("synth2d-rigid-mi", SQUARE, RIGID, 15, _multi("rigid"), default=True, multimodal=True),
    _case("synth2d-affine-mi", SQUARE, AFFINE, 16, _multi("affine", **SAMPLED), default=True, multimodal=True),
    _case("synth2d-translation-far", SQUARE, TruthSpec("translation", shift=16.0), 18, _mono("translation"), True),
    _case("synth3d-affine", CUBE, AFFINE, 31, _mono("affine"), default=True),
    # Beyond the default suite: harder or larger.
    _case("synth2d-bspline-mi", SQUARE, BSPLINE, 17, _multi("bspline", mesh_size=(4,)), multimodal=True),
    _case("synth2d-affine-noisy", SQUARE, AFFINE, 19, _mono("affine"), noise=0.06),
    _case("synth2d-rigid-large", SQUARE, TruthSpec("rigid", shift=10.0, angle=25.0), 20, _mono("rigid")),
    _case("synth3d-rigid-mi", CUBE, RIGID, 32, _multi("rigid"), multimodal=True),
    _case("synth3d-bspline", CUBE, TruthSpec("bspline", bspline=2.0, mesh=3), 33, _mono("bspline", mesh_size=(3,))),
    _case(
        "synth3d-affine-48",
        (48, 48, 48),
        AFFINE,
        34,
        Setup(transform="affine", shrink_factors=(4, 2, 1), smoothing_sigmas=(2.0, 1.0, 0.0)).jittered(**JITTER),
    ),
)


def bspline_2d() -> CaseData:
    """The ``synth2d-bspline`` pair (kept importable for tests and benchmarks)."""
    return next(s for s in SUITE if s.name == "synth2d-bspline").case().loader()


@regbench.hookimpl
def regbench_register_cases(register: Callable[[Case], None]) -> None:
    for spec in SUITE:
        register(spec.case())


__all__ = ["SUITE", "SyntheticCase", "bspline_2d", "texture", "warped_pair"]
