"""Runs that run out of memory, and an observer of finished runs, for the memory-outcome tests (``--plugin``)."""

from __future__ import annotations

import os

import SimpleITK as sitk

import regbench
from regbench import Strategy


class WrappedMemoryError(Strategy):
    """its Execute fails as SimpleITK reports a MemoryError raised inside a wrapped call: a SystemError ("returned a
    result with an exception set") whose cause is the MemoryError"""

    def run(self, ctx, params):
        method = ctx.new_method()
        method.SetOptimizerAsGradientDescent(1.0, 5)

        def execute(fixed, moving):
            try:
                raise MemoryError
            except MemoryError as exc:
                raise SystemError(
                    "<built-in function ImageRegistrationMethod_Execute> returned a result with an exception set"
                ) from exc

        method.Execute = execute
        ctx.execute(method)


class Huge(Strategy):
    """asks numpy for 8 GiB (uninitialized: without an address-space limit nothing is touched)"""

    def run(self, ctx, params):
        import numpy as np

        block = np.empty(2**30)  # 8 GiB of float64
        return sitk.TranslationTransform(ctx.case.dimension) if block.size else None


@regbench.hookimpl
def regbench_register_strategies(register):
    register(WrappedMemoryError("test-wrapped-memory"))
    register(Huge("test-huge"))


#: A file each finished run's key, status and outcome, as ``regbench_run_finished`` sees them, is appended to.
FINISHED_LOG = "REGBENCH_TEST_MEMORY_LOG"


@regbench.hookimpl
def regbench_run_finished(record):
    path = os.environ.get(FINISHED_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{record.key} {record.status} {record.outcome}\n")
