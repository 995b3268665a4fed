"""The evaluation a matrix run leaves for later, done when a reader first needs it, and kept in the store.

``regbench run`` stores each record with its kept trace positions unevaluated (``evaluation_plan``: what evaluating
them needs), so a run costs little more than its executions (:func:`regbench.run.execute_record`,
``evaluate_later``). The first ``report``, ``show``, ``recommend`` or ``export`` of the store evaluates them
(:func:`complete_pending`): in parallel processes, each record with its run's thread count, the same numbers to the
bit as evaluating during the run, written back to the store, so a second reader costs nothing. A record whose case
cannot be found again (a case file moved or changed, :mod:`~regbench.report.load.case_of_run`) stays pending; the
reader says which and why, and shows the rest.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from regbench.cases.case import CaseError
from regbench.record import RunRecord
from regbench.report.load.case_of_run import CaseResolver
from regbench.run import complete_evaluation
from regbench.store.pending import pending_keys, store_completed
from regbench.store.sqlite import Store, StoreError

#: Up to this many pending records are evaluated in this process: starting a worker costs more than they do.
IN_PROCESS = 4


@dataclass
class Completion:
    """What :func:`complete_pending` did: records completed, and those left pending with the reason."""

    completed: int = 0
    left: dict[str, str] = field(default_factory=dict)  # key → why it stays pending
    seconds: float = 0.0

    def note(self) -> str | None:
        """One line about the records left pending, or None when none was."""
        if not self.left:
            return None
        reasons = sorted(set(self.left.values()))
        shown = "; ".join(reasons[:2]) + ("; ..." if len(reasons) > 2 else "")
        count = len(self.left)
        return (
            f"{count} run{'s' if count > 1 else ''} still without their anytime curve and best-or-last answer "
            f"(the kept positions were not evaluated): {shown}"
        )


def complete_pending(
    path: str | Path,
    keys: set[str] | None = None,
    case_files: Sequence[str | os.PathLike] = (),
    workers: int | None = None,
    announce: bool = True,
) -> Completion:
    """Evaluate the kept positions of the store's pending records (of ``keys``, if given) and store them complete.

    ``case_files``: the ``--cases`` files, for records whose own case file moved. ``workers``: processes (default:
    the usable cores). With ``announce``, one line on stderr says what is being done on a long completion. A store
    that cannot be written leaves its records pending (the note says why)."""
    started = time.perf_counter()
    done = Completion()
    try:
        with Store.read_only(path) as reader:
            pending = pending_keys(reader, keys)
    except StoreError:
        return done  # not a store this reader can open: its own error comes from the reader itself
    if not pending:
        return done
    try:
        store = Store(path, create=False)
    except StoreError as exc:
        done.left = dict.fromkeys(pending, f"the store cannot be written ({exc})")
        return done
    with store:
        records = sorted(store.get_many(pending), key=lambda r: (r.case, r.seed))  # one worker's cases stay warm
        workers = min(workers or _usable_cores(), len(records))
        if announce and len(records) > IN_PROCESS:
            print(
                f"regbench: evaluating the kept positions of {len(records)} runs in {workers} processes (once: the "
                "store keeps them)",
                file=sys.stderr,
                flush=True,
            )
        for key, result in _completed(records, [str(p) for p in case_files], workers):
            if isinstance(result, RunRecord):
                store_completed(store, result)
                done.completed += 1
            else:
                done.left[key] = result
    done.seconds = time.perf_counter() - started
    return done


def complete_in_memory(records: Sequence[RunRecord], case_files: Sequence[str | os.PathLike] = ()) -> Completion:
    """Complete pending records read from a file (JSON lines an export wrote from a pending store), in place."""
    done = Completion()
    try:
        resolver = CaseResolver(case_files=case_files)
    except CaseError as exc:
        done.left = {r.key or r.strategy: str(exc) for r in records if r.evaluation_plan is not None}
        return done
    for record in records:
        if record.evaluation_plan is not None:
            result = _complete(record, resolver)
            if isinstance(result, RunRecord):
                done.completed += 1
            else:
                done.left[record.key or record.strategy] = result
    return done


def _completed(records: list[RunRecord], case_files: list[str], workers: int) -> Iterator[tuple[str, RunRecord | str]]:
    """(key, completed record or why not), as each finishes."""
    try:
        resolver = CaseResolver(case_files=case_files)  # reads the --cases files: a bad one is said once, here
    except CaseError as exc:
        for record in records:
            yield record.key or "", str(exc)
        return
    if workers <= 1 or len(records) <= IN_PROCESS:
        for record in records:
            yield record.key or "", _complete(record, resolver)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold ITK threads
    chunk = max(1, len(records) // (4 * workers))
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        texts = [r.to_json() for r in records]
        results = pool.map(_complete_text, texts, [case_files] * len(texts), chunksize=chunk)
        for record, (ok, text) in zip(records, results, strict=True):
            yield record.key or "", RunRecord.from_json(text) if ok else text


_RESOLVER: dict[tuple[str, ...], CaseResolver] = {}  # a worker's resolver, per --cases files: cases read once


def _complete_text(text: str, case_files: list[str]) -> tuple[bool, str]:
    """In a worker: (True, the completed record's JSON) or (False, why it cannot be completed)."""
    resolver = _RESOLVER.setdefault(tuple(case_files), CaseResolver(case_files=case_files))
    result = _complete(RunRecord.from_json(text), resolver)
    return (True, result.to_json()) if isinstance(result, RunRecord) else (False, result)


def _complete(record: RunRecord, resolver: CaseResolver) -> RunRecord | str:
    try:
        return complete_evaluation(record, resolver.resolve(record))
    except CaseError as exc:
        return str(exc)
    except Exception as exc:  # an image gone or unreadable since the run: the record stays pending, with why
        return f"{record.case}: {type(exc).__name__}: {exc}"


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
