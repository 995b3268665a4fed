"""The command line's own start-up, printed in one run: ``pytest benchmarks/test_startup_bench.py -s``.

- ``regbench --help`` ≤ 0.5 s and ``regbench list`` ≤ 1.0 s (median of 7 runs each), printed beside
  ``python -c "import SimpleITK"``, the floor every command that registers pays;
(What ``--help`` must not import is checked in tests/test_cli_imports.py.)

Timings are whole processes (interpreter start included), measured interleaved so a busy moment hits all alike;
the load average is printed beside them.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HELP_TARGET_S = 0.5
LIST_TARGET_S = 1.0
REPEATS = 7

REGBENCH = (
    [sys.executable, "-m", "regbench.cli"]
    if not (Path(sys.executable).parent / "regbench").exists()
    else [str(Path(sys.executable).parent / "regbench")]
)
COMMANDS = {
    "python -c 'import SimpleITK'": [sys.executable, "-c", "import SimpleITK"],
    "regbench --help": [*REGBENCH, "--help"],
    "regbench list": [*REGBENCH, "list"],
}


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def test_help_and_list_start_quickly(capsys):
    for command in COMMANDS.values():  # warm the file cache: the first start of a fresh machine is not the point
        _seconds(command)
    load = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(REPEATS):
        for name, command in COMMANDS.items():
            times[name].append(_seconds(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    with capsys.disabled():
        print(f"\n[regbench start-up] median of {REPEATS}, load average {load[0]:.2f} {load[1]:.2f}:")
        for name, value in medians.items():
            print(f"  {name:32s} {value:.3f} s (min {min(times[name]):.3f}, max {max(times[name]):.3f})")
        print(f"  targets: --help ≤ {HELP_TARGET_S} s, list ≤ {LIST_TARGET_S} s")
    assert medians["regbench --help"] <= HELP_TARGET_S
    assert medians["regbench list"] <= LIST_TARGET_S
