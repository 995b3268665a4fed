"""The HTML report's figures and pictures, drawn in worker processes while the page's tables are computed.

Drawing is most of a report's time (constrained layout and Agg rendering, a second or more for a figure of many
panels), and each figure is independent of the others: the page's module computes each figure's data, then hands
the figure function and its data to a :class:`Drawer`, which draws and saves it in a worker process started with
``spawn`` (no state inherited from this process, Agg only) and returns what the page needs of it (name, title,
caption, file). Each figure is submitted once, and only those the page shows. With one CPU, or ``workers=0``, the
drawer draws in this process instead: the same functions, the same files.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from regbench.record import RunRecord
from regbench.report.figures.common import Plot

if TYPE_CHECKING:  # SimpleITK is imported where pictures are drawn, not where they are asked for
    from regbench.report.figures.images import Pictures

T = TypeVar("T")

# The resolution of the report's figures, and their PNG compression: zlib level 3 writes a figure in 25-60% less
# time than the default 6, for files 2-12% larger. No tight bounding box: each figure fits itself into its size
# (constrained layout, or the fixed margins of the small multiples; tests/test_html_drawing.py), and measuring the
# tight box cost a second pass over every figure.
DPI = 110
SAVE: dict[str, Any] = {"dpi": DPI, "pil_kwargs": {"compress_level": 3}}


@dataclass(frozen=True)
class DrawnPlot:
    """What the page shows of a figure drawn and saved: its file stem, title, caption and file."""

    name: str
    title: str
    caption: str
    path: Path


def draw_plot(draw: Callable[..., Plot], args: tuple, out: Path) -> DrawnPlot:
    """Draw ``draw(*args)`` and save it as ``out/<name>.png`` (in a worker process, or here)."""
    plot = draw(*args)
    path = out / f"{plot.name}.png"
    plot.figure.savefig(path, **SAVE)
    _collect()
    return DrawnPlot(plot.name, plot.title, plot.caption, path)


# A worker's case resolvers, one per set of --cases files: each case file is read once per process.
_RESOLVERS: dict[tuple[str, ...], Any] = {}


def draw_pictures(record: RunRecord, directory: Path, case_files: tuple[str, ...]) -> Pictures:
    """A run's pictures (:func:`regbench.report.figures.images.write_images`) into ``directory``."""
    from regbench.report.figures import images
    from regbench.report.load.case_of_run import CaseResolver

    if case_files not in _RESOLVERS:
        _RESOLVERS[case_files] = CaseResolver(case_files=case_files)
    pictures = images.write_images(record, directory, resolver=_RESOLVERS[case_files])
    _collect()
    return pictures


def _collect() -> None:
    """In a worker (its automatic garbage collection off, :func:`_start_worker`): free the figure just drawn."""
    if not gc.isenabled():
        gc.collect()


def _ready() -> None:
    """A task that does nothing: submitted once per worker, it starts the workers at once."""


def _start_worker() -> None:
    """Import what every drawing needs once, while the parent still computes the first figure's data."""
    import matplotlib

    matplotlib.use("Agg")
    import regbench.report.figures.anytime
    import regbench.report.figures.images
    import regbench.report.figures.traces  # noqa: F401

    # A figure makes hundreds of thousands of objects, and the automatic collection ran over and over while one was
    # drawn: a worker collects once after each figure instead (:func:`_collect`), and never scans what it imported.
    gc.freeze()
    gc.disable()


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Hide the ``__main__`` module's file and spec while workers are spawned: a spawned process runs the parent's
    main script again (as ``__mp_main__``) to be able to unpickle its functions, and a script that calls
    ``write_html`` at its top level, without ``if __name__ == "__main__"``, must not run again (it may run
    registrations first). The drawing tasks are regbench's own functions: the workers never need it."""
    main = sys.modules.get("__main__")
    saved: dict[str, Any] = {
        name: main.__dict__.pop(name) for name in ("__file__", "__spec__") if main and name in main.__dict__
    }
    if main is not None and "__spec__" in saved:
        main.__spec__ = None  # the start-up code reads it as an attribute
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


class _Here(Executor):
    """Runs each task at once in this process: the drawer of a one-CPU machine."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller sees it at .result(), as from a worker
            future.set_exception(exc)
        return future


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Drawer:
    """Draws figures and pictures in ``workers`` processes (default: one per CPU; 0 or one CPU: here).

    Use it as a context manager: leaving it waits for the tasks still running and stops the workers."""

    def __init__(self, workers: int | None = None) -> None:
        workers = cpus() if workers is None else workers
        self._executor: Executor = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker)
            if workers > 1
            else _Here()
        )
        # the pool starts a worker per task submitted until it has them all: start them now, so that they import
        # while this process computes the page's statistics
        for _ in range(workers if workers > 1 else 0):
            self._submit(_ready)

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc: object) -> None:
        # an error on the page's side: the figures still queued are not drawn
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)

    def plot(self, draw: Callable[..., Plot], *args: Any, out: Path) -> Future[DrawnPlot]:
        return self._submit(draw_plot, draw, args, out)

    def pictures(self, record: RunRecord, directory: Path, case_files: Sequence[str] = ()) -> Future[Pictures]:
        return self._submit(draw_pictures, record, directory, tuple(case_files))

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        with _main_hidden():  # a submit starts the workers it still lacks
            return self._executor.submit(fn, *args)
