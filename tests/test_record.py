"""Records are strict JSON both ways."""

import json
import math

import numpy as np
import pytest

from regbench.record import Level, RunRecord, Segment, dumps, to_jsonable


def test_non_finite_and_numpy_values_become_plain_json():
    record = RunRecord(strategy="s", case="c", seed=np.int64(3), final_metric=float("nan"), error_mean=np.float32(1.5))
    record.measures["inf"] = math.inf
    record.measures["arr"] = np.array([1.0, np.nan])
    record.segments.append(Segment(index=0, levels=[Level(index=0, best_metric=np.float64(2.0))]))
    text = record.to_json()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert data["final_metric"] is None and data["error_mean"] == 1.5 and data["seed"] == 3
    assert data["measures"] == {"inf": None, "arr": [1.0, None]}
    assert type(data["segments"][0]["levels"][0]["best_metric"]) is float


def test_round_trip_keeps_everything_and_unknown_fields():
    record = RunRecord(strategy="s", case="c", seed=1, params={"rate": 0.5}, notes=["n"])
    record.segments.append(Segment(index=0, stop_condition="Converged", levels=[Level(index=0, iterations=4)]))
    data = record.to_dict()
    data["from_the_future"] = 7
    again = RunRecord.from_dict(data)
    assert again.segments[0].levels[0].iterations == 4 and again.params == {"rate": 0.5}
    assert again.measures["unknown:from_the_future"] == 7
    assert RunRecord.from_json(record.to_json()).to_dict() == record.to_dict()


def test_dumps_refuses_nothing_after_conversion():
    assert dumps({"a": float("inf"), "b": (np.bool_(True),)}) == '{"a": null, "b": [true]}'
    assert to_jsonable(np.arange(2)) == [0, 1]
