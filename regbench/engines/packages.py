"""Another engine's Python package, for the plugins that run it: whether it is installed (read from the package
metadata, without importing it: an engine's import can cost seconds) and its version, part of every run's key."""

from __future__ import annotations

import functools


def missing_package(distribution: str, install: str) -> str | None:
    """``install`` (what to run to get ``distribution``, e.g. ``"pip install 'regbench[elastix]'"``) when the
    distribution is not installed, for ``Strategy(unavailable=...)``; None when it is."""
    import importlib.metadata  # here: 10–30 ms that a command that runs no engine does not pay

    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return install
    return None


@functools.cache  # read once per process: it is part of every run's key
def package_version(distribution: str) -> str:
    """The installed version of ``distribution``."""
    import importlib.metadata

    return importlib.metadata.version(distribution)
