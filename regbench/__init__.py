"""regbench: compare SimpleITK image-registration optimizers on equal terms.

The public API: everything a plugin or a script needs is importable from here (``regbench.testing`` holds the
test kit). Everything else is an implementation detail that may change; the built-in plugins use only these names.
"""

from __future__ import annotations

from regbench.cases.case import Case, CaseData, CaseError, Setup, as_float
from regbench.cases.simulation import Simulation, TruthSpec, add_noise, make_truth, remap, simulate, warp
from regbench.engines.external import ExternalExecution, ExternalLevel
from regbench.engines.packages import missing_package, package_version
from regbench.evaluation.measures import evaluate_transform
from regbench.evaluation.stops import CATEGORIES as STOP_CATEGORIES
from regbench.evaluation.stops import is_no_overlap, is_no_overlap_error
from regbench.harness import ExecutionFailed, RunContext
from regbench.hookspecs import hookimpl
from regbench.plugin.manager import (
    MEASURE_FIELDS,
    BrokenPlugin,
    PluginError,
    Provenance,
    RegbenchPluginManager,
    make_plugin_manager,
)
from regbench.record import IterationEvent, Level, RunRecord, Segment
from regbench.run import run_one
from regbench.store.sqlite import Store
from regbench.strategy import (
    NoParams,
    ParameterError,
    ProbeFamily,
    SingleRunStrategy,
    Strategy,
    UnsupportedSetup,
    corner_shift_scales,
    param,
)
from regbench.util.transforms import transform_from_dict, transform_to_dict
from regbench.version import __version__


def classify_stop(text: str, pm: RegbenchPluginManager | None = None) -> str:
    """The stop category of an optimizer's stop text, through the ``regbench_classify_stop`` hook chain."""
    return (pm or make_plugin_manager()).classify_stop(text)


__all__ = [
    "MEASURE_FIELDS",
    "STOP_CATEGORIES",
    "BrokenPlugin",
    "Case",
    "CaseData",
    "CaseError",
    "ExecutionFailed",
    "ExternalExecution",
    "ExternalLevel",
    "IterationEvent",
    "Level",
    "NoParams",
    "ParameterError",
    "PluginError",
    "ProbeFamily",
    "Provenance",
    "RegbenchPluginManager",
    "RunContext",
    "RunRecord",
    "Segment",
    "Setup",
    "Simulation",
    "SingleRunStrategy",
    "Store",
    "Strategy",
    "TruthSpec",
    "UnsupportedSetup",
    "__version__",
    "add_noise",
    "as_float",
    "classify_stop",
    "corner_shift_scales",
    "evaluate_transform",
    "hookimpl",
    "is_no_overlap",
    "is_no_overlap_error",
    "make_plugin_manager",
    "make_truth",
    "missing_package",
    "package_version",
    "param",
    "remap",
    "run_one",
    "simulate",
    "transform_from_dict",
    "transform_to_dict",
    "warp",
]
