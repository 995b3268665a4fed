"""Strategies whose worker is killed from outside (SIGKILL), for the runner's retry test (``--plugin``)."""

from __future__ import annotations

import os
import signal

import SimpleITK as sitk

import regbench
from regbench import Strategy


class KilledOnce(Strategy):
    """its worker is SIGKILLed the first time (marker file in $REGBENCH_TEST_MARKER_DIR), then it returns"""

    def run(self, ctx, params):
        marker = os.path.join(os.environ["REGBENCH_TEST_MARKER_DIR"], f"killed-{ctx.seed}")
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return sitk.TranslationTransform(ctx.case.dimension)


class KilledAlways(Strategy):
    """its worker is SIGKILLed every time"""

    def run(self, ctx, params):
        os.kill(os.getpid(), signal.SIGKILL)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(KilledOnce("test-killed-once"))
    register(KilledAlways("test-killed-always"))


class Greedy(Strategy):
    """allocates 1 GiB (numpy), as a leaking strategy would"""

    def run(self, ctx, params):
        import numpy as np

        block = np.ones(2**27)  # 1 GiB of float64: fine without a limit, past --max-memory 256
        return sitk.TranslationTransform(ctx.case.dimension) if block.size else None


@regbench.hookimpl(specname="regbench_register_strategies")
def register_greedy(register):
    register(Greedy("test-greedy"))
