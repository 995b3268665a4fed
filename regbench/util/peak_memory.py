"""A run's peak resident memory: the window starts with the run, so a worker that runs many reports each run's own
peak, not its largest so far."""

from __future__ import annotations

import resource


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux), so a worker's runs each report their own peak, not the
    largest run's so far."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory since :func:`reset_peak_rss` (Linux VmHWM), else the process's lifetime peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
