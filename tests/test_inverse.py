"""Inverse consistency: the reverse run on request, ‖T_bwd ∘ T_fwd − id‖ on the fixed foreground."""

from __future__ import annotations

import dataclasses

import numpy as np
import SimpleITK as sitk

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.evaluation.inverse import consistency, reversed_case
from regbench.util.transforms import transform_from_dict


def test_consistency_is_zero_for_inverse_transforms_and_the_leftover_shift_otherwise():
    data = make_tiny_case().load()
    forward = sitk.TranslationTransform(2, (2.0, -1.0))
    exact = consistency(forward, sitk.TranslationTransform(2, (-2.0, 1.0)), data)
    assert exact["inverse_consistency_mean"] == 0.0 and exact["inverse_consistency_p95"] == 0.0
    off = consistency(forward, sitk.TranslationTransform(2, (-2.0 + 0.3, 1.0 + 0.4)), data)
    assert np.isclose(off["inverse_consistency_mean"], 0.5) and np.isclose(off["inverse_consistency_p95"], 0.5)
    # a rotation and its inverse about the same centre
    rotation = sitk.Euler2DTransform((31.5, 31.5), 0.1, (1.0, 0.5))
    back = consistency(rotation, rotation.GetInverse(), data)
    assert back["inverse_consistency_mean"] < 1e-9


def test_the_reversed_case_swaps_images_and_masks_and_drops_the_truth():
    case = make_tiny_case()
    data = case.load()
    reverse = reversed_case(case).load()
    assert reverse.fixed is data.moving and reverse.moving is data.fixed
    assert reverse.truth is None and reverse.landmarks is None


def test_a_case_that_asks_for_it_gets_the_reverse_run_outside_its_timed_run():
    case = dataclasses.replace(make_tiny_case(), inverse_consistency=True)
    plain = regbench.run_one("rsgd", make_tiny_case(), seed=0)
    record = regbench.run_one("rsgd", case, seed=0)
    assert plain.inverse_consistency_mean is None  # off by default
    assert record.status == "ok"
    # independently: the reverse registration on its own, and the leftover of two translations is their sum
    reverse = regbench.run_one("rsgd", reversed_case(make_tiny_case()), seed=0)
    forward_t = np.array(transform_from_dict(record.transform).GetParameters())
    reverse_t = np.array(transform_from_dict(reverse.transform).GetParameters())
    assert np.isclose(record.inverse_consistency_mean, np.linalg.norm(forward_t + reverse_t), rtol=1e-9)
    # (not zero: the fixed image's zero-filled border makes the reverse problem another one, 0.48 px apart)
    assert 0.05 < record.inverse_consistency_mean < 1.0
    assert record.inverse_consistency_p95 >= record.inverse_consistency_mean
    assert record.measures["inverse_run_time_s"] > 0
    # the run's own times do not carry the reverse run; and it is another run key (another definition)
    assert record.wall_time_s < plain.wall_time_s + record.measures["inverse_run_time_s"] * 0.5 + 0.5
    assert record.key != plain.key
    regbench.RunRecord.from_json(record.to_json())
