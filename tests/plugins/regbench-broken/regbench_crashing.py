"""A plugin whose strategy segfaults, as a broken C++ extension would: its runs are ``crashed`` records, in
``regbench run`` and in ``pytest benchmarks/`` alike, and every other run goes on."""

import ctypes

import regbench


class Segfault(regbench.Strategy):
    """reads address 0 (SIGSEGV)"""

    def run(self, ctx, params):
        ctypes.string_at(0)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(Segfault("broken-segfault"))
