"""What an evaluation plugin (``regbench_evaluate``) may write into a run's record: measure fields (numbers, and
``dice_per_label`` a mapping of numbers) and any other name, which goes to ``record.measures``; never the run's
identity, what the optimizer did, its status or its timings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from regbench.record import MEASURE_FIELDS, RunRecord
from regbench.util.strict_json import to_jsonable

#: Record fields no evaluation may set: the run's identity, what the optimizer did, its status and timings.
_NOT_MEASURES = frozenset(f.name for f in dataclasses.fields(RunRecord)) - set(MEASURE_FIELDS)


#: Measure fields whose value is a mapping (name → number or None), not a number: the per-label Dice.
MAPPING_MEASURES = frozenset({"dice_per_label"})


def _is_number(value: Any) -> bool:
    """None or a number (bool is not one)."""
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float, np.number)))


def merge_measures(record: RunRecord, measures: Any) -> None:
    """One ``regbench_evaluate`` result into the record: measure fields (numbers; ``dice_per_label`` a mapping of
    numbers), ``measures`` (a dict) and other names into ``record.measures``; any other record field is refused
    with a note (an evaluation adds measures, it does not rewrite what ran)."""
    if not isinstance(measures, Mapping):
        record.notes.append(f"regbench_evaluate returned {measures!r:.80}, not a dict: ignored")
        return
    refused = []
    for name, value in measures.items():
        if name == "measures" and isinstance(value, Mapping):
            record.measures.update({str(k): to_jsonable(v) for k, v in value.items()})
        elif name in MAPPING_MEASURES:
            if value is not None and not (isinstance(value, Mapping) and all(map(_is_number, value.values()))):
                refused.append(f"{name} (not a mapping of numbers: {value!r:.40})")
                continue
            setattr(record, name, None if value is None else {str(k): to_jsonable(v) for k, v in value.items()})
        elif name in MEASURE_FIELDS:
            if not _is_number(value):
                refused.append(f"{name} (not a number: {value!r:.40})")
                continue
            setattr(record, name, to_jsonable(value))
        elif name in _NOT_MEASURES or not isinstance(name, str):
            refused.append(repr(name))
        else:
            record.measures[name] = to_jsonable(value)
    if refused:
        record.notes.append(
            f"regbench_evaluate tried to set {', '.join(refused)}: refused; an evaluation may set the measure "
            f"fields ({', '.join(MEASURE_FIELDS)}) and any other name, which goes to measures"
        )
