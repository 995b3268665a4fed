"""A strategy that counts its executions, for the lost-Dask-worker test (loaded in workers with ``--plugin``).

Each execution appends ``start SEED PPID`` and, when its run returns, ``end SEED PPID`` to the file
``$REGBENCH_TEST_EXECUTIONS_LOG`` names. ``PPID`` is the Dask worker (``--no-nanny``) whose isolated process ran it.
"""

from __future__ import annotations

import os
import time

import SimpleITK as sitk

import regbench
from regbench import Strategy

EXECUTIONS_LOG = "REGBENCH_TEST_EXECUTIONS_LOG"


def _log(event: str, seed: int) -> None:
    with open(os.environ[EXECUTIONS_LOG], "a", encoding="utf-8") as log:
        log.write(f"{event} {seed} {os.getppid()}\n")


class Counted(Strategy):
    """notes each execution in $REGBENCH_TEST_EXECUTIONS_LOG, sleeps 0.3 s, then returns the identity"""

    def run(self, ctx, params):
        _log("start", ctx.seed)
        time.sleep(0.3)
        _log("end", ctx.seed)
        return sitk.TranslationTransform(ctx.case.dimension)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(Counted("test-counted"))
