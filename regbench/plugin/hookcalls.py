"""How the plugin manager tells which plugin's code is running, and how it describes hook calls.

A register hook is one pluggy call; ``register(item)`` learns which plugin called it from the call stack (the
innermost frame that runs a hook implementation's code), and an exception from a hook call names the plugin whose
implementation is innermost in its traceback. No pluggy internals: only ``HookImpl.function``/``plugin``.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from types import CodeType, FrameType
from typing import Any

import pluggy

from regbench.util.env_vars import appendable_file


def _code(function: Any) -> CodeType | None:
    return getattr(getattr(function, "__func__", function), "__code__", None)


def impl_codes(impls: Iterable[pluggy.HookImpl]) -> dict[int, list[pluggy.HookImpl]]:
    """The code objects of hook implementations (and of what they decorate) by identity (equal code in two files
    compares equal), to find a running implementation by its frame."""
    owners: dict[int, list[pluggy.HookImpl]] = {}
    for impl in impls:
        for function in {impl.function, inspect.unwrap(impl.function)}:
            code = _code(function)
            if code is not None and impl not in owners.setdefault(id(code), []):
                owners[id(code)].append(impl)
    return owners


def impl_of(frame: FrameType, owners: dict[int, list[pluggy.HookImpl]]) -> pluggy.HookImpl | None:
    impls = owners.get(id(frame.f_code))
    if not impls:
        return None
    if len(impls) > 1:  # one class's method in several plugin instances: the running one is its ``self``
        me = frame.f_locals.get("self")
        return next((impl for impl in impls if impl.plugin is me), impls[0])
    return impls[0]


def running_impl(owners: dict[int, list[pluggy.HookImpl]]) -> pluggy.HookImpl | None:
    """The innermost hook implementation on the call stack (the plugin calling ``register``)."""
    frame = inspect.currentframe()
    while frame is not None:
        impl = impl_of(frame, owners)
        if impl is not None:
            return impl
        frame = frame.f_back
    return None


def culprit(exc: BaseException, owners: dict[int, list[pluggy.HookImpl]]) -> pluggy.HookImpl | None:
    """The innermost hook implementation in the exception's traceback: the plugin whose code raised."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        found = impl_of(tb.tb_frame, owners) or found
        tb = tb.tb_next
    return found


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe(exc: BaseException) -> str:
    return one_line(f"{type(exc).__name__}: {exc}")


def short(value: Any, width: int = 120) -> str:
    text = one_line(repr(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def tracer(write: Callable[[str], None]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The ``before`` and ``after`` functions of ``add_hookcall_monitoring`` that write one line each."""

    def before(hook_name: str, impls: list[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        args = ", ".join(f"{k}={short(v)}" for k, v in kwargs.items())
        plugins = ", ".join(impl.plugin_name for impl in reversed(impls)) or "no implementation"
        write(f"{hook_name}({args}) -> {plugins}")

    def after(outcome: pluggy.Result, hook_name: str, impls: list[pluggy.HookImpl], kwargs: Any) -> None:
        if outcome.exception is not None:
            write(f"{hook_name} raised {describe(outcome.exception)}")
        else:
            write(f"{hook_name} returned {short(outcome.get_result())}")

    return before, after


def trace_writer(target: str, env_name: str) -> Callable[[str], None]:
    """Where ``$env_name`` sends the trace: stderr, or appended to a file, checked now (a bad path is the
    variable's fault, not the first hook call's)."""
    pid = os.getpid()
    if target.strip().lower() in ("1", "true", "yes", "on", "stderr"):
        return lambda line: print(f"regbench[{pid}] {line}", file=sys.stderr, flush=True)
    appendable_file(env_name, target, "1 for stderr")

    def append(line: str) -> None:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"regbench[{pid}] {line}\n")

    return append
