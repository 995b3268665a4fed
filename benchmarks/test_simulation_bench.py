"""The cost of making a simulated instance: ``pytest benchmarks/test_simulation_bench.py -s``.

A simulated case (``[case.simulate]``, docs/cases.md) builds each seed's instance when a run of that seed first
loads it: the random truth, the fixed image resampled through it, the mask and labels resampled by nearest
neighbour, the intensity change and the noise, then the checks every case's data passes. This prints that time
per instance (the median over seeds, each a new instance) for a 2D 256² and a 3D 64³ image with a mask and three
labels, for an affine and a B-spline model, with one ITK thread as inside a run, beside the time of one linear
resampling of the same image through the same truth (the unit the cost is made of) and the load average.
Target: at most 20 resamplings' worth per instance, so an instance costs far less than the registration on it.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest
import SimpleITK as sitk
from regbench_plugins.synthetic import TISSUES, phantom

from regbench import Case, CaseData, Setup, Simulation
from regbench.run import DEFAULT_THREADS, itk_globals

SEEDS = range(7)
TARGET_RESAMPLINGS = 20
SIZES = {"2D 256²": (256, 256), "3D 64³": (64, 64, 64)}
MODELS = {
    "affine": (Setup(transform="affine"), Simulation(translation=4.0, rotation=5.0, scale=0.05, noise=0.02)),
    "bspline": (
        Setup(transform="bspline", mesh_size=(4,)),
        Simulation(translation=2.0, rotation=3.0, bspline=3.0, mesh=4, noise=0.02),
    ),
}


def _case(size: tuple[int, ...], setup: Setup) -> Case:
    image = phantom(size, 1)
    labels = sitk.Cast(sitk.BinaryThreshold(image, 0.1, 2.0) + (image > TISSUES[1] - 0.1), sitk.sitkUInt8)
    labels = labels + sitk.Cast(image > TISSUES[2] - 0.1, sitk.sitkUInt8)
    mask = sitk.Cast(labels > 0, sitk.sitkUInt8)
    data = CaseData(fixed=image, moving=image, fixed_mask=mask, fixed_labels=labels, moving_labels=labels)
    return Case("bench", lambda: data, setup)


def _median_seconds(action, repeats) -> float:
    times = []
    for argument in repeats:
        start = time.perf_counter()
        action(argument)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("size_name", list(SIZES))
def test_an_instance_costs_a_few_resamplings(size_name, model, capsys):
    setup, simulation = MODELS[model]
    case = _case(SIZES[size_name], setup).simulated(simulation)
    with itk_globals(DEFAULT_THREADS):
        case.for_seed(1000).load()  # the source pair: read once per case in a run
        image, truth = case.loader().fixed, case.for_seed(0).load().truth
        per_instance = _median_seconds(lambda seed: case.for_seed(seed).load(), SEEDS)
        resample = _median_seconds(lambda _: sitk.Resample(image, image, truth, sitk.sitkLinear, 0.0), SEEDS)
    with capsys.disabled():
        print(
            f"\n[regbench simulation] {size_name} {model:8} {1e3 * per_instance:8.1f} ms per instance "
            f"(median of {len(SEEDS)} seeds) = {per_instance / resample:5.1f} linear resamplings "
            f"({1e3 * resample:.1f} ms each); load average {os.getloadavg()[0]:.2f}"
        )
    assert per_instance <= TARGET_RESAMPLINGS * resample
    assert np.isfinite(sitk.GetArrayViewFromImage(case.for_seed(0).load().fixed)).all()
