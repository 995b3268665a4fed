"""Where plugins come from: the built-in plugin modules, the entry-point group, the environment variables that
steer loading (autoload, tracing) and the distribution (name, version) a built-in plugin belongs to.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os

ENTRY_POINT_GROUP = "regbench"
AUTOLOAD_ENV = "REGBENCH_DISABLE_PLUGIN_AUTOLOAD"
#: "1" (or "stderr"): one line per hook call and result on stderr; any other value: appended to that file
#: (worker processes write there too, each line with its process id).
TRACE_ENV = "REGBENCH_TRACE_HOOKS"

#: Built-in plugin modules, registered by name. Those of ``regbench_plugins`` use only the public API; the run
#: notes of ``regbench.diagnostics`` read the probe, which is not public.
BUILTIN_PLUGINS = (
    "regbench_plugins.evaluation",
    "regbench.diagnostics.run_notes",
    "regbench_plugins.stop_texts",
    "regbench_plugins.gradient_descent",
    "regbench_plugins.lbfgs",
    "regbench_plugins.lbfgsb",
    "regbench_plugins.learning_rate",
    "regbench_plugins.restarts",
    "regbench_plugins.gradient_free",
    "regbench_plugins.elastix",
    "regbench_plugins.ants",
    "regbench_plugins.ants_cg",
    "regbench_plugins.probes",
    "regbench_plugins.synthetic_cases",
    "regbench_plugins.brainweb_cases",
    "regbench_plugins.colin27_cases",
)


@functools.cache  # one lookup per distribution and process: each reads and parses its METADATA
def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _builtin_distribution(plugin_name: str) -> tuple[str, str | None] | None:
    if plugin_name.startswith(("regbench.", "regbench_plugins.")):
        return ("regbench", _version("regbench"))
    return None


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]
