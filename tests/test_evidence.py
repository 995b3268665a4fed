"""The evidence ladder: every case gets an answer from the strongest evidence it has, and says which decided."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from run_summaries import summary_row

from regbench.cases.case import CaseData
from regbench.record import RunRecord
from regbench.report.decide.evidence import DICE_TOLERANCE, GAP_TOLERANCE, case_evidence
from regbench.report.decide.per_case import recommend_all
from regbench.report.load.columns import from_dicts, from_records
from regbench.report.stats.stability import solver_spreads, spread
from regbench.util.transforms import transform_to_dict


def rows(case: str, per_strategy: dict[str, list[dict]]) -> list[dict]:
    return [
        summary_row(strategy, case, seed, **fields)
        for strategy, runs in per_strategy.items()
        for seed, fields in enumerate(runs)
    ]


def no_spread(name):
    return None


def test_a_case_without_truth_is_decided_by_the_dense_metric_and_says_it_is_weaker():
    # start 1.0; the best run reaches 0.0; "near" within 1% of the gap, "far" at half of it
    runs = from_dicts(
        rows(
            "mine",
            {
                "near": [{"initial_metric_dense": 1.0, "final_metric_dense": 0.005 * s} for s in range(4)],
                "best": [{"initial_metric_dense": 1.0, "final_metric_dense": 0.0} for _ in range(4)],
                "far": [{"initial_metric_dense": 1.0, "final_metric_dense": 0.5} for _ in range(4)],
            },
        )
    )
    (rec,) = recommend_all(runs, tolerance=1.0, load=no_spread)
    assert rec.evidence == "truth-free"
    assert rec.best == "best"
    assert set(rec.recommended) == {"best", "near"}  # near's median gap 0.0075 < GAP_TOLERANCE
    assert GAP_TOLERANCE > 0.0075
    assert "far" not in rec.recommended
    text = " ".join(rec.verdict)
    assert "nothing to recommend" not in text
    assert "no truth, landmarks or labels: decided by the dense metric" in text.lower()
    assert "weaker evidence" in text and "simulated instances" in text


def test_labels_decide_where_there_is_no_truth_and_the_verdict_names_them():
    runs = from_dicts(
        rows(
            "seg",
            {
                "good": [
                    {"dice_mean": 0.90 + 0.001 * s, "initial_dice_mean": 0.5, "label_count": 38} for s in range(5)
                ],
                "bad": [{"dice_mean": 0.70, "initial_dice_mean": 0.5, "label_count": 38} for _ in range(5)],
                # a dense metric that would prefer "bad": labels outrank it
                "x": [{"dice_mean": 0.895, "label_count": 38} for _ in range(5)],
            },
        )
    )
    (rec,) = recommend_all(runs, tolerance=1.0, load=no_spread)
    assert rec.evidence == "labels"
    assert rec.tolerance == DICE_TOLERANCE
    assert rec.best == "good" and set(rec.recommended) == {"good", "x"}
    assert "decided by dice over 38 labels on 5 instances" in " ".join(rec.verdict).lower()


def test_truth_outranks_labels():
    runs = from_dicts(
        rows(
            "both",
            {
                "a": [{"error_mean": 0.1, "dice_mean": 0.6} for _ in range(3)],
                "b": [{"error_mean": 2.0, "dice_mean": 0.9} for _ in range(3)],
            },
        )
    )
    (rec,) = recommend_all(runs, tolerance=0.5, load=no_spread)
    assert rec.evidence == "truth" and rec.best == "a"
    assert "known truth" in " ".join(rec.verdict).lower()


def test_a_real_pair_is_decided_by_its_simulated_instances_and_never_pooled_with_them():
    real = rows("pair", {s: [{"initial_metric_dense": 1.0, "final_metric_dense": 0.1}] * 3 for s in ("a", "b")})
    sim = rows(
        "pair-sim",
        {"a": [{"error_mean": 0.2 + 0.01 * k} for k in range(10)], "b": [{"error_mean": 3.0}] * 10},
    )
    runs = from_dicts(real + sim)
    recs = {r.scope: r for r in recommend_all(runs, tolerance=0.5, load=no_spread)}
    assert recs["pair"].evidence == "simulated"
    assert recs["pair"].best == "a" and recs["pair"].recommended == ["a"]
    assert recs["pair"].n_instances == 10
    assert "10 simulated deformations of pair's fixed image" in " ".join(recs["pair"].verdict)
    # the companion is answered as the pair's evidence, not a second time; and one case left in the pool (the
    # companion): no "all cases" that would count the same evidence twice
    assert set(recs) == {"pair"}
    # without its real pair (the companion alone), it is a case with a truth like any other
    (alone,) = recommend_all(runs.subset(runs["case"] == "pair-sim"), tolerance=0.5, load=no_spread)
    assert alone.scope == "pair-sim" and alone.evidence == "truth"


def test_evidence_of_a_case_with_landmarks_only():
    runs = from_dicts(rows("lm", {"a": [{"measures": {"tre_mean": 0.3}}] * 2}))
    ev = case_evidence("lm", runs)
    assert ev.kind == "landmarks" and ev.column == "tre_mean"


def _image(size=(48, 40), spacing=(1.5, 1.0)):
    array = np.zeros(size[::-1], dtype=np.float32)
    array[8:32, 10:38] = 1.0
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    return image


def test_spread_is_zero_for_identical_transforms_and_the_shift_rms_otherwise():
    data = CaseData(fixed=_image(), moving=_image())
    same = [sitk.TranslationTransform(2, (1.0, 2.0)) for _ in range(3)]
    assert spread(same, data) == 0.0
    # two translations ±d along x: every point sits d from the mean position
    pair = [sitk.TranslationTransform(2, (0.7, 0.0)), sitk.TranslationTransform(2, (-0.7, 0.0))]
    assert np.isclose(spread(pair, data), 0.7)
    assert spread(same[:1], data) is None


def test_unstable_strategies_are_not_recommended_on_truth_free_evidence():
    data = CaseData(fixed=_image(), moving=_image())
    records = []
    for strategy, shifts in {"steady": [0.01, -0.01, 0.0, 0.005], "wobbly": [2.0, -2.0, 1.5, -1.5]}.items():
        for seed, dx in enumerate(shifts):
            record = RunRecord(strategy, "mine", seed, key=f"{strategy}-{seed}", outcome="converged")
            record.instance = f"mine-{seed}"
            record.initial_metric_dense, record.final_metric_dense = 1.0, 0.0
            record.wall_time_s = 1.0
            record.transform = transform_to_dict(sitk.TranslationTransform(2, (dx, 0.0)))
            records.append(record)
    runs = from_records(records)
    spreads = solver_spreads(runs, lambda name: data)
    assert spreads["steady"] < 0.02 and spreads["wobbly"] > 1.0
    (rec,) = recommend_all(runs, tolerance=0.5, load=lambda name: data)
    assert rec.evidence == "truth-free"
    assert rec.best == "steady" and rec.recommended == ["steady"]
    assert rec.candidate("wobbly").why_not.startswith("unstable")


def test_a_strategy_whose_reverse_run_disagrees_is_not_recommended_on_truth_free_evidence():
    runs = from_dicts(
        rows(
            "mine",
            {
                "consistent": [
                    {"initial_metric_dense": 1.0, "final_metric_dense": 0.0, "inverse_consistency_mean": 0.02}
                ]
                * 3,
                "one-way": [{"initial_metric_dense": 1.0, "final_metric_dense": 0.0, "inverse_consistency_mean": 20.0}]
                * 3,
            },
        )
    )
    (rec,) = recommend_all(runs, tolerance=0.5, load=no_spread)
    assert rec.recommended == ["consistent"]
    assert rec.candidate("one-way").why_not.startswith("inverse-inconsistent")


def test_a_simulated_case_asked_for_on_its_own_says_its_truth_is_simulated():
    sim = rows("pair-sim", {"a": [{"error_mean": 0.2, "provenance": {"simulation": {"simulated_from": "pair"}}}] * 3})
    (rec,) = recommend_all(from_dicts(sim), tolerance=0.5, load=no_spread)
    assert rec.evidence == "simulated"
    assert "on 3 simulated deformations of pair's fixed image (case pair-sim)" in " ".join(rec.verdict)


def test_a_pair_decided_by_labels_is_not_pooled_with_its_simulated_companion():
    real = rows("pair", {s: [{"dice_mean": d, "label_count": 4}] * 3 for s, d in (("a", 0.9), ("b", 0.5))})
    sim = rows("pair-sim", {"a": [{"error_mean": 3.0}] * 3, "b": [{"error_mean": 0.1}] * 3})
    other = rows("other", {"a": [{"error_mean": 0.1}] * 3, "b": [{"error_mean": 0.2}] * 3})
    recs = {r.scope: r for r in recommend_all(from_dicts(real + sim + other), tolerance=0.5, load=no_spread)}
    assert recs["pair"].evidence == "labels" and recs["pair"].best == "a"
    pooled = recs["all cases"]
    assert set(pooled.cases) == {"pair", "other"}  # the companion is not pooled with its own real pair
    assert "labels (1 case)" in pooled.decided_by and "truth (1 case)" in pooled.decided_by


def test_when_no_run_improved_on_the_start_the_metric_still_decides():
    runs = from_dicts(
        rows(
            "aligned",
            {
                "stays": [{"initial_metric_dense": -1.0, "final_metric_dense": -1.0}] * 3,
                "drifts": [{"initial_metric_dense": -1.0, "final_metric_dense": -0.5}] * 3,
            },
        )
    )
    (rec,) = recommend_all(runs, tolerance=0.5, load=no_spread)
    assert rec.best == "stays" and rec.recommended == ["stays"]
    text = " ".join(rec.verdict)
    assert "nothing to recommend" not in text and "no run improved on the start" in text
