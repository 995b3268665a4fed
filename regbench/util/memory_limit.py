"""The memory a run may use, and what a run that ran out of it is recorded as.

``regbench run --max-memory`` gives each worker process a per-run limit: the process's address space (``RLIMIT_AS``)
is lowered to what it holds plus the limit for the run, and restored after it. A run that runs out of memory is
recorded with status and outcome ``memory`` whichever limit it met: regbench's, one set outside regbench (the
shell's ``ulimit -v``, a batch system's), or none (the machine's own memory). Its error says which, so that
``--max-memory`` is named only when regbench set the limit that was hit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: The per-run memory limit in MiB that ``regbench run --max-memory`` gives its worker processes (0 or unset: none).
MAX_MEMORY_ENV = "REGBENCH_MAX_MEMORY_MB"

#: How an allocation that failed shows in an error text: Python's MemoryError, C++'s std::bad_alloc, ITK's and
#: numpy's own words.
OUT_OF_MEMORY_TEXTS = ("MemoryError", "bad_alloc", "Failed to allocate", "Unable to allocate", "out of memory")

#: The limit regbench set for the run in progress: (RLIMIT_AS soft limit in bytes, the --max-memory MiB), else None.
_in_force: tuple[int, int] | None = None


def max_memory_mb() -> int:
    """The per-run limit this process was given (:data:`MAX_MEMORY_ENV`), in MiB; 0: none."""
    try:
        return max(0, int(os.environ.get(MAX_MEMORY_ENV, "0")))
    except ValueError:
        return 0


@contextlib.contextmanager
def memory_limit(mb: int) -> Iterator[None]:
    """Let the run allocate at most ``mb`` MiB beyond what the process holds now (its address space, RLIMIT_AS:
    the worker's own libraries are not counted against the run); restored afterwards. A limit already as tight,
    set outside regbench (``ulimit -v``), stays the one in force: it is never loosened."""
    global _in_force
    try:
        import resource
    except ImportError:  # not POSIX: no limit
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)  # soft ≤ hard: the soft limit is the one that binds
    now = _address_space_bytes()
    wanted = None if now is None else now + mb * 2**20
    if wanted is None or (soft != resource.RLIM_INFINITY and soft <= wanted):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    _in_force = (wanted, mb)
    try:
        yield
    finally:
        _in_force = None
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _outer_limit_bytes() -> int | None:
    """This process's address-space limit (the soft RLIMIT_AS) when one is set, else None."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def memory_error_in(exc: BaseException | None) -> BaseException | None:
    """The MemoryError ``exc`` is or was raised from (its ``__cause__``/``__context__`` chain: SimpleITK reports one
    raised inside its call as ``SystemError: ... returned a result with an exception set``), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def ran_out_of_memory(exc: BaseException | None, error: str | None) -> bool:
    """Whether a run that raised ``exc`` with ``error`` as its recorded text failed for want of memory."""
    return memory_error_in(exc) is not None or any(text in (error or "") for text in OUT_OF_MEMORY_TEXTS)


def limit_met() -> str:
    """Which memory limit a run that ran out of memory met, in words (the start of its recorded error)."""
    if _in_force is not None:
        return f"the run needed more than its memory limit of {_in_force[1]} MiB (--max-memory)"
    outer = _outer_limit_bytes()
    if outer is not None:
        return (
            f"the run needed more than this process's address-space limit of {outer // 2**20} MiB (RLIMIT_AS, set "
            f"outside regbench: ulimit -v {outer // 1024} in the shell that started it, or a batch system's limit)"
        )
    return "the run ran out of memory (no address-space limit was set: the machine's memory ran out)"


def memory_error_text(exc: BaseException | None, error: str) -> str:
    """The recorded error of a run that ran out of memory: the limit it met, then its error (naming the MemoryError
    where the text of the exception that wrapped it does not)."""
    found = memory_error_in(exc)
    if found is not None and "MemoryError" not in error:
        error += f" (raised from {type(found).__name__}{f': {found}' if str(found) else ''})"
    return f"{limit_met()}: {error}"
