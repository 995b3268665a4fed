"""Regenerate the recommendations on a pair given without its truth: ``python docs/outputs/generate_evidence.py
[NAME ...]`` (``generate.py`` runs these too).

The pair is the ITK Software Guide's BrainWeb T1 slice (fixed) and the PD slice shifted by (13, 17) px (moving),
from Debian's ``insighttoolkit5-examples``, described in a TOML case file *without* its truth, as a user with their
own images would. Three case files, three answers (docs/recommend.md quotes them):

- ``evidence-truth-free``: the pair alone: decided by the dense metric and the spread over seeds;
- ``evidence-labels``: the pair with label images, each slice segmented on its own by Otsu thresholds into white
  matter and the rest of the head (:func:`segment`): imperfect, as a user's segmentations are, and blind to the
  shift between the slices;
- ``evidence-simulated``: the pair with a ``[case.simulate]`` table: decided by the error on random rigid
  deformations of the T1 slice, with an exact truth.

Each runs the same strategies on 6 seeds in a scratch directory (:func:`prepare` writes the case file and the
label images there) and writes ``docs/outputs/<name>.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the docs' command runner: 100 columns, no colour

DATA = Path("/usr/share/doc/insighttoolkit5-examples/examples/Data")
FIXED, MOVING = DATA / "BrainT1SliceBorder20.png", DATA / "BrainProtonDensitySliceShifted13x17y.png"
STRATEGIES = "gd,rsgd,cg,lbfgs2,amoeba,gd-each-iteration"

CASE = f"""[[case]]
name = "t1-pd"
fixed = "{FIXED}"
moving = "{MOVING}"
description = "BrainWeb T1 (fixed) vs PD (moving), truth withheld"
{{extra}}
[case.setup]
transform = "rigid"
metric = "mattes"
histogram_bins = 32
shrink_factors = [4, 2, 1]
smoothing_sigmas = [2.0, 1.0, 0.0]
initial_jitter = 1.0
initial_jitter_angle = 2.0
{{table}}"""

LABELS = 'fixed_labels = "t1-labels.nii.gz"\nmoving_labels = "pd-labels.nii.gz"\n'
SIMULATE = "\n[case.simulate]\ntranslation = 12.0\nrotation = 8.0\n"

EXAMPLES = {  # name -> (case-file lines, a table after the setup, the cases run)
    "evidence-truth-free": ("", "", "t1-pd"),
    "evidence-labels": (LABELS, "", "t1-pd"),
    "evidence-simulated": ("", SIMULATE, "t1-pd*"),
}
COMMANDS = {
    name: [
        f"regbench run --cases mine.toml -c '{cases}' -s {STRATEGIES} --seeds 6 > /dev/null",
        "regbench recommend --cases mine.toml -c t1-pd",
    ]
    for name, (_, _, cases) in EXAMPLES.items()
}


def first_component(path: Path) -> sitk.Image:
    image = sitk.ReadImage(str(path))
    return sitk.VectorIndexSelectionCast(image, 0) if image.GetNumberOfComponentsPerPixel() > 1 else image


def segment(path: Path, classes: int, white_matter: int) -> sitk.Image:
    """Two labels from Otsu thresholds of the smoothed image: 2 = the ``white_matter`` class (the brightest in T1,
    the second brightest of five in PD), 1 = the rest of the head."""
    image = sitk.SmoothingRecursiveGaussian(sitk.Cast(first_component(path), sitk.sitkFloat32), 1.0)
    otsu = sitk.GetArrayFromImage(sitk.OtsuMultipleThresholds(image, numberOfThresholds=classes - 1))
    labels = sitk.GetImageFromArray(np.where(otsu == white_matter, 2, np.where(otsu > 0, 1, 0)).astype(np.uint8))
    labels.CopyInformation(image)
    return labels


def write_labels(workdir: Path) -> None:
    """Each slice segmented on its own, as a user would: no label knows the shift between them."""
    sitk.WriteImage(segment(FIXED, 4, white_matter=3), str(workdir / "t1-labels.nii.gz"))
    sitk.WriteImage(segment(MOVING, 5, white_matter=3), str(workdir / "pd-labels.nii.gz"))


def prepare(name: str, workdir: Path) -> None:
    """The example's case file and the label images it may name, in ``workdir``."""
    if not FIXED.exists():
        sys.exit(f"{FIXED} is missing: sudo apt-get install insighttoolkit5-examples")
    extra, table, _ = EXAMPLES[name]
    write_labels(workdir)
    (workdir / "mine.toml").write_text(CASE.format(extra=extra, table=table), encoding="utf-8")


if __name__ == "__main__":
    generate.main(sys.argv[1:], generators=("generate_evidence",))
