"""Strategies that misbehave, for the runner's isolation tests (loaded in workers with ``--plugin``), and an observer
of finished runs that appends to the file ``$REGBENCH_TEST_FINISHED_LOG`` names (when set) one line per record."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass

import SimpleITK as sitk

import regbench
from regbench import Case, Strategy, param


class Segfault(Strategy):
    """dies with SIGSEGV (a null-pointer read, as a broken C++ extension would)"""

    def run(self, ctx, params):
        ctypes.string_at(0)


class Kill(Strategy):
    """sends itself a signal"""

    def run(self, ctx, params):
        os.kill(os.getpid(), signal.SIGSEGV)


class Hang(Strategy):
    """never returns"""

    def run(self, ctx, params):
        while True:
            time.sleep(60)


@dataclass(frozen=True)
class SleepParams:
    seconds: float = param(0.2, "how long to sleep", min=0)
    schedule: tuple[float, ...] = param((1.0,), "a sequence parameter, unused (grids of sequences)", min=0)


class Sleep(Strategy):
    """sleeps, then returns the identity: a run of known length"""

    Params = SleepParams

    def run(self, ctx, params):
        time.sleep(params.seconds)
        print("a plugin printing to stdout must not disturb the runner")
        return sitk.TranslationTransform(ctx.case.dimension)


class Pid(Strategy):
    """notes the process it runs in, then returns the identity"""

    def run(self, ctx, params):
        ctx.note(f"ran in process {os.getpid()}")
        return sitk.TranslationTransform(ctx.case.dimension)


class Markup(Strategy):
    """raises an error whose text is rich markup and a terminal escape"""

    def run(self, ctx, params):
        raise RuntimeError("[/bold] broke [link=http://example.invalid]here[/link] \x1b[2J\x1b]0;title\x07")


@regbench.hookimpl
def regbench_register_strategies(register):
    register(Segfault("test-segfault"))
    register(Kill("test-sigsegv"))
    register(Hang("test-hang"))
    register(Sleep("test-sleep"))
    register(Pid("test-pid"))
    register(Markup("test-markup"))


FINISHED_LOG = "REGBENCH_TEST_FINISHED_LOG"


@regbench.hookimpl
def regbench_run_finished(record):
    path = os.environ.get(FINISHED_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{record.strategy} {record.status} {os.getpid()}\n")


@regbench.hookimpl
def regbench_register_cases(register):
    register(Case("test-unavailable", loader=None, unavailable="it needs files nobody has"))
    register(
        Case(
            "test-markup-description",
            loader=None,
            description="[bold red]loud[/bold red] \x1b[2Jcleared",
            unavailable="[link=http://example.invalid]click[/link] \x1b[2Jcleared",
        )
    )
