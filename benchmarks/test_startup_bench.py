"""The command line's own start-up, printed in one run: ``pytest benchmarks/test_startup_bench.py -s``.

- ``regbench --help`` ≤ 0.5 s and ``regbench list`` ≤ 1.0 s (median of 7 runs each), printed beside
  ``python -c "import SimpleITK"``, the floor every command that registers pays;
- an 8-run ``regbench run`` on 2 workers: the whole command beyond its registrations (Execute ÷ 2) ≤ 0.5 s;
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


#: Issue 24, item 4: what `regbench run` costs beyond its registrations on a small matrix (start-up, workers, the
#: plan, the end), on 2 workers: wall − Execute ÷ 2.
SMALL_MATRIX = ["run", "-s", "gd,lbfgs2", "-c", "synth2d-translation,synth2d-rigid", "--seeds", "2", "-w", "2"]
SMALL_MATRIX_TARGET_S = 0.5


def test_a_small_matrix_costs_little_beyond_its_registrations(capsys, tmp_path):
    """8 runs (gd and lbfgs2 × 2 cases × 2 seeds) from a fresh store, 3 times: the whole command's wall time against
    the sum of its runs' Execute time ÷ 2 workers, read from the store it wrote."""
    from regbench.store.sqlite import Store

    lines, beyond = [], []
    load = os.getloadavg()
    for attempt in range(3):
        store = tmp_path / f"small-{attempt}.sqlite"
        wall = _seconds([*REGBENCH, *SMALL_MATRIX, "--store", str(store)])
        with Store.read_only(store) as db:
            records = list(db.records())
        assert len(records) == 8 and all(r.status == "ok" for r in records)
        execute = sum(s.wall_time_s for r in records for s in r.segments) / 2
        beyond.append(wall - execute)
        lines.append(
            f"wall {wall:.2f} s, Execute ÷ 2 {execute:.2f} s, ratio {wall / execute:.2f}, beyond {wall - execute:.2f} s"
        )
    with capsys.disabled():
        print(
            f"\n[regbench small matrix] 8 runs on 2 workers, load average {load[0]:.2f} before, "
            f"{os.getloadavg()[0]:.2f} after:"
        )
        for line in lines:
            print(f"  {line}")
        print(f"  target: beyond ≤ {SMALL_MATRIX_TARGET_S} s (median {statistics.median(beyond):.2f} s)")
    assert statistics.median(beyond) <= SMALL_MATRIX_TARGET_S
