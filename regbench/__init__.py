"""regbench: compare SimpleITK image-registration optimizers on equal terms.

The public API. Everything else is an implementation detail that may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

from regbench.cases import Case, CaseData, CaseError, Setup
from regbench.harness import ExecutionFailed, RunContext
from regbench.hookspecs import hookimpl
from regbench.plugins import PluginError, Provenance, make_plugin_manager
from regbench.record import Level, RunRecord, Segment
from regbench.run import run_one
from regbench.strategy import NoParams, ParameterError, SingleRunStrategy, Strategy, param


def classify_stop(text: str, pm=None) -> str:
    """The stop category of an optimizer's stop text, through the ``regbench_classify_stop`` hook chain."""
    return (pm or make_plugin_manager()).classify_stop(text)


__all__ = [
    "Case",
    "CaseData",
    "CaseError",
    "ExecutionFailed",
    "Level",
    "NoParams",
    "ParameterError",
    "PluginError",
    "Provenance",
    "RunContext",
    "RunRecord",
    "Segment",
    "Setup",
    "SingleRunStrategy",
    "Strategy",
    "__version__",
    "classify_stop",
    "hookimpl",
    "make_plugin_manager",
    "param",
    "run_one",
]
