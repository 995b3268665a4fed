"""Strict JSON: values made JSON-ready (dataclasses, numpy values, tuples; NaN and Infinity become null) and
written without NaN or Infinity. Imports nothing of regbench.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

#: Values strict JSON takes as they are (floats once checked finite); ``bool`` is left out on purpose (numpy's
#: ``bool_`` is not, so a column holding it takes the slow path).
_PLAIN = frozenset({float, int, str, type(None)})


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, numpy values, tuples and non-finite floats into strict-JSON-ready Python."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.metadata.get("json", True)
        }
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(type(v) in _PLAIN for v in value):  # a trace column: one pass, no call per value
            return [None if type(v) is float and not math.isfinite(v) else v for v in value]
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(data: Any, **kwargs: Any) -> str:
    """Strict JSON: raises rather than writing NaN or Infinity."""
    return json.dumps(to_jsonable(data), allow_nan=False, **kwargs)


def finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
