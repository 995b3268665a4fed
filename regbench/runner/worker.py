"""The worker side of process isolation: what a worker process keeps between runs, and its message loop.

A worker is ``python -m regbench.runner.worker IN_FD OUT_FD``: it reads one init message (the parent's ``sys.path``
and plugin module names), builds its own plugin manager (entry points load here too), answers ``ready``, then
runs one :class:`RunSpec` per message and answers with the record. Messages are strict JSON over two pipes
of their own, so whatever a plugin prints cannot corrupt them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from regbench.cases.case import Case
from regbench.plugin.manager import PluginError, RegbenchPluginManager, make_plugin_manager
from regbench.record import RunRecord
from regbench.run import complete_evaluation, execute_record, new_record
from regbench.util.memory_limit import max_memory_mb, memory_limit
from regbench.util.strict_json import dumps


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to rebuild one run: names, not objects, so it can cross a process or a network."""

    key: str
    strategy: str
    case: str
    seed: int
    threads: int
    params: dict[str, Any] = field(default_factory=dict)
    case_file: str | None = None  # the user case file the case comes from, else a registered case
    repeat: int = 0  # which execution of the same inputs (``regbench run --repeat K``); 0: the plain key
    # Leave the kept trace positions for the first reader (regbench.report.load.completion): a matrix run's
    # default; a single run shown in full is evaluated at once.
    evaluate_later: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)


class WorkerError(Exception):
    """A worker cannot run a spec at all (a runner failure, not a run result)."""


def import_plugins(modules: Sequence[str]) -> tuple[str, ...]:
    """Import plugin modules by name so an error names the module; returns the names."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise PluginError(f"plugin module {name!r} failed to import: {type(exc).__name__}: {exc}") from exc
    return tuple(modules)


def plugin_manager(plugins: Sequence[str] = (), strict: bool = False) -> RegbenchPluginManager:
    """The built-ins, entry points, and the extra plugin modules (each under its module name, unless an entry point
    already registered it). A module that fails to import raises :class:`PluginError`; other broken plugins are
    in the manager's ``broken`` list (``strict=False``) or raised."""
    return make_plugin_manager(plugins=import_plugins(plugins), strict=strict)


def load_case_file(path: str) -> list[Case]:
    from regbench.cases.files import load_case_file as load

    return load(path)


class WorkerState:
    """A worker's plugin manager and the cases of the user case files it has read, kept between runs."""

    def __init__(self, plugins: Sequence[str] = (), pm: RegbenchPluginManager | None = None) -> None:
        self.pm = pm or plugin_manager(plugins)
        self._file_cases: dict[str, dict[str, Case]] = {}

    def case(self, spec: RunSpec) -> Case:
        if spec.case_file is None:
            return self.pm.get_case(spec.case)
        if spec.case_file not in self._file_cases:
            self._file_cases[spec.case_file] = {c.name: c for c in load_case_file(spec.case_file)}
        try:
            return self._file_cases[spec.case_file][spec.case]
        except KeyError:
            raise WorkerError(f"case {spec.case!r} is no longer in {spec.case_file}") from None

    def run(self, spec: RunSpec, instance_known: Callable[[str], None] | None = None) -> RunRecord:
        try:
            strategy, case = self.pm.get_strategy(spec.strategy), self.case(spec)
        except PluginError as exc:
            broken = "".join(f"; {b.message}" for b in self.pm.broken)
            raise WorkerError(f"{exc} (is the plugin installed where the worker runs?){broken}") from exc
        record, parsed = new_record(strategy, case, spec.seed, spec.params, spec.threads, spec.repeat)
        if record.key != spec.key:
            raise WorkerError(
                f"run {spec.key} has key {record.key} in the worker: its inputs (a case file or image edited "
                "since the run was planned) or its software differ from the runner's "
                f"(worker versions: {dumps(record.versions, sort_keys=True)})"
            )
        limit = max_memory_mb()
        # A run that runs out of memory is recorded ``memory`` by execute_record, before regbench_run_finished sees it.
        with memory_limit(limit) if limit else contextlib.nullcontext():
            return execute_record(
                record,
                strategy,
                case,
                parsed,
                self.pm,
                instance_known=instance_known,
                evaluate_later=spec.evaluate_later,
            )

    def complete(self, record: RunRecord, spec: RunSpec) -> RunRecord:
        """``record`` (of ``spec``) with its kept positions evaluated, if it was stored without."""
        if record.evaluation_plan is None:
            return record
        return complete_evaluation(record, self.case(spec).for_seed(record.seed))


# -- the child process ---------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies (a ``kill -9`` runner must not leave hung workers)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        # Best effort: without it the pipe's EOF still ends an idle worker.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: Sequence[str]) -> int:
    # Ctrl-C reaches the whole process group: the runner decides what an interrupt means, not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    faulthandler.enable()  # a segfault leaves a Python traceback in the worker log the runner attaches
    inbox = Connection(int(argv[0]), writable=False)
    outbox = Connection(int(argv[1]), readable=False)

    def send(**message: Any) -> None:
        outbox.send_bytes(dumps(message).encode())

    init = json.loads(inbox.recv_bytes())
    sys.path[:0] = [p for p in init["sys_path"] if p not in sys.path]
    try:
        state = WorkerState(init["plugins"])
    except Exception as exc:
        send(fatal=f"worker could not start: {type(exc).__name__}: {exc}")
        return 1
    send(ready=os.getpid())
    while True:
        try:
            spec = RunSpec.from_dict(json.loads(inbox.recv_bytes()))
        except EOFError:
            return 0
        try:
            # the instance first: a run that then crashes or times out is recorded with it
            send(record=state.run(spec, lambda instance: send(instance=instance)))  # dumps() converts once
        except Exception as exc:
            send(failure=f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
