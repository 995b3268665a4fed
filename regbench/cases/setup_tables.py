"""A case file's ``[setup]`` tables: each value checked against the type of its :class:`~regbench.cases.case.Setup`
field and converted to it, and how types and TOML values read in the messages of a wrong one.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from regbench.cases.setup import CaseError, Setup

SETUP_KEYS = tuple(f.name for f in fields(Setup))
#: Each setup key's type, read from :class:`Setup`'s annotations: a new field parses by its type with no edit here.
SETUP_TYPES: dict[str, Any] = typing.get_type_hints(Setup)


def parse_setup(table: dict[str, Any], where: str, locate: Callable[[str], str] | None = None) -> Setup:
    """A :class:`Setup` from a TOML table: every value is checked against the type of its :class:`Setup` field
    (lists become tuples; one value where a list is expected is a list of one). A wrong key or type raises a
    :class:`CaseError` naming the place (``locate(key)``, else ``where``), the key and the expected type."""
    return parse_table(Setup, "setup", table, where, locate)


T = typing.TypeVar("T")


def parse_table(
    cls: type[T],
    label: str,
    table: dict[str, Any],
    where: str,
    locate: Callable[[str], str] | None = None,
    value_errors_at_key: bool = False,
) -> T:
    """A ``cls`` (a dataclass) from a TOML table, each value checked against its field's type; messages call the
    table ``label``. A :class:`CaseError` the class itself raises is placed at ``where``, or, with
    ``value_errors_at_key``, at the line of the key it names (``"<label>: <key> ..."``)."""
    hints = typing.get_type_hints(cls)
    keys = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        place = locate(key) if locate is not None else where
        if key not in keys:
            raise CaseError(f"{place}: unknown {label} key {key!r}; valid keys: {', '.join(keys)}")
        try:
            values[key] = convert(value, hints[key])
        except _WrongType:
            kind = "" if isinstance(value, list) else f" ({_toml_type(value)})"
            raise CaseError(
                f"{place}: {label} {key!r} must be {describe_type(hints[key])}, got {_toml_repr(value)}{kind}"
            ) from None
    try:
        return cls(**values)
    except CaseError as exc:
        named = str(exc).removeprefix(f"{label}: ").split(" ", 1)[0]
        place = locate(named) if value_errors_at_key and locate is not None and named in table else where
        raise CaseError(f"{place}: {exc}") from None


class _WrongType(Exception):
    pass


def _unwrap_optional(hint: Any) -> Any:
    """``X | None`` → ``X`` (TOML has no null: an optional field is given by its value, or left out)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def convert(value: Any, hint: Any) -> Any:
    """``value`` (as TOML gives it) as the type ``hint`` names: str, bool, int, float (an int is accepted),
    ``tuple[X, ...]`` (a list, or one value), ``tuple[X, Y]`` (a list of that length), ``Literal[...]``, and
    ``X | None``. Raises :class:`_WrongType` when it does not fit, :class:`TypeError` for a type this parser
    does not know (a new kind of Setup field: teach it here)."""
    hint = _unwrap_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        items = value if isinstance(value, list) else [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0]) for v in items)
        if len(items) != len(args):
            raise _WrongType
        return tuple(convert(v, a) for v, a in zip(items, args, strict=True))
    if origin is typing.Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise _WrongType
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _WrongType
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _WrongType
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _WrongType
    if hint is str:
        if isinstance(value, str):
            return value
        raise _WrongType
    raise TypeError(f"casefiles cannot parse a setup field of type {hint!r}")


# How a type reads in messages: one value, a list of them, and one of a list.
_NAMES = {
    str: ("a string", "strings", "string"),
    bool: ("true or false", "booleans", "boolean"),
    int: ("an integer", "integers", "integer"),
    float: ("a finite number", "finite numbers", "number"),
}


def describe_type(hint: Any) -> str:
    """What a value of type ``hint`` looks like in TOML, for messages: 'a list of integers', 'a finite number'."""
    hint = _unwrap_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] in _NAMES:
                _, many, single = _NAMES[args[0]]
                return f"a list of {many} (or one {single})"
            return f"a list of values, each {describe_type(args[0])}"
        return f"a list of {len(args)} values ({', '.join(describe_type(a) for a in args)})"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint in _NAMES:
        return _NAMES[hint][0]
    return getattr(hint, "__name__", repr(hint))


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float" if math.isfinite(value) else "not finite"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__  # dates and times


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_repr(v) for v in value) + "]"
    return repr(value)
