"""Where a run ran: the host's name, CPU, cores, memory, OS, Python, BLAS and thread settings (:func:`host_facts`),
and its load average (:func:`load_average`). Imports nothing of regbench.

The facts are read once per process and cached: a worker runs thousands of runs, and only the load average
changes between them. Reading them imports nothing heavy: numpy's build configuration (numpy is loaded in a
worker anyway) and, when it is installed, threadpoolctl's view of the BLAS libraries this process has loaded.

The host name is stored as the machine gives it, unless ``$REGBENCH_HOST_NAME`` says otherwise: ``hash`` stores
``sha256:`` and 12 hex digits of it instead (the same on every run of that host, so stores still merge and group
by host; a short name can be guessed back from its hash, so this hides a name from a casual reader only), and any
other value is stored as given (a label such as ``lab-a``, or a stable name for containers whose host names change).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import platform
import socket
from typing import Any

HOST_NAME_ENV = "REGBENCH_HOST_NAME"

#: Environment variables that set how many threads a library uses: what makes two hosts' records differ.
THREAD_ENV = (
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
    "ITK_NUMBER_OF_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def host_name() -> str:
    """This host's name as a record stores it: as given, hashed, or the label of ``$REGBENCH_HOST_NAME``."""
    setting = os.environ.get(HOST_NAME_ENV, "").strip()
    name = socket.gethostname()
    if setting == "hash":
        return "sha256:" + hashlib.sha256(name.encode()).hexdigest()[:12]
    label = "".join(ch for ch in setting if ch.isprintable())[:80]  # printable and short: it reaches every table
    return label or name


def host_facts() -> dict[str, Any]:
    """What a run's record says about its host (strict JSON; a fact that cannot be read is None). A copy of the
    facts read at this process's first call, with the host name and thread variables read now (cheap, and a
    test or a user may set them after start)."""
    thread_env = {name: os.environ[name] for name in THREAD_ENV if name in os.environ}
    machine = _machine()
    blas = [dict(lib) for lib in machine["blas"]]  # the record's own: the cached facts stay as read
    return {"name": host_name(), **machine, "blas": blas, "thread_env": thread_env}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded to 0.01; None where the system has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


@functools.cache
def _machine() -> dict[str, Any]:
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "machine": platform.machine() or None,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "blas": _blas(),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _blas() -> list[dict[str, Any]]:
    """The BLAS libraries: threadpoolctl's (loaded libraries, their versions and thread counts) where it is
    installed, else the one numpy was built with."""
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")  # optional: no stub needed where it is absent
        found = [
            {
                "library": info.get("internal_api"),
                "version": info.get("version"),
                "threads": info.get("num_threads"),
                "architecture": info.get("architecture"),
                "source": "threadpoolctl",
            }
            for info in threadpoolctl.threadpool_info()
            if info.get("user_api") == "blas"
        ]
        if found:
            return found
    except Exception:  # not installed, or a library it cannot inspect: numpy's build says the rest
        pass
    try:
        import numpy

        config = numpy.show_config(mode="dicts") or {}
        blas = config.get("Build Dependencies", {}).get("blas", {})
        if blas.get("name"):
            return [{"library": blas.get("name"), "version": blas.get("version"), "source": "numpy build"}]
    except Exception:  # an older numpy without mode="dicts"
        pass
    return []
