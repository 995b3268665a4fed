"""Regenerate the command outputs the docs quote: ``python docs/outputs/generate.py``.

Each example's commands run in a scratch directory of their own (its own result store) with the built-in plugins
only, 100 columns and no colour; their output (stdout and stderr, as a terminal shows them) is written, after each
command line, to ``docs/outputs/<name>.txt``, which the pages include with ``--8<-- "<name>.txt"``.
Rerun it after changing a strategy or a case, then re-read the prose around each block.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW_250 = "-p estimate_learning_rate=never -p learning_rate=250"  # gd's raw fixed rate, as given

# name -> shell commands (run one after another; each is echoed with a "$ " prompt)
COMMANDS: dict[str, list[str]] = {
    "tour-run": ["regbench run -s lbfgs2 -c synth2d-affine --seed 1"],
    # A raw fixed rate too large for Mattes MI (the default first_level policy would halve it): the run passes
    # through a good alignment and walks away from it.
    "best-or-last": [
        f"regbench run -s gd -c synth2d-rigid-mi --seed 1 {RAW_250}",
        f"regbench run -s gd-best -c synth2d-rigid-mi --seed 1 {RAW_250}",
    ],
    "final-metric-converged": [
        f"regbench run -s gd -c synth2d-rigid-mi --seed 1 {RAW_250} --json > gd.json",
        "regbench show gd.json | sed -n '/^The final metric/,/^dense metric/p'",
    ],
    "final-metric-cap": [
        "regbench run -s gd -c synth2d-affine --seed 1 -p number_of_iterations=20 --json > gd20.json",
        "regbench show gd20.json | sed -n '/^The final metric/,/^dense metric/p'",
    ],
    "final-metric-sampled": [
        "regbench run -s lbfgs2 -c synth2d-affine-mi --seed 1 --json > lbfgs2-mi.json",
        "regbench show lbfgs2-mi.json | sed -n '/^The final metric/,/^dense metric/p'",
    ],
    "reproducible": [
        "for seed in 1 1 2; do regbench run -s gd -c synth2d-affine-mi --seed $seed --threads 1 --force --json"
        ' | python -c "import json,sys; r=json.load(sys.stdin); '
        "print('seed', r['seed'], 'threads', r['threads'], 'iterations', r['iterations'], "
        "'dense metric', r['final_metric_dense'])\"; done",
        "for run in 1 2 3; do regbench run -s gd -c synth2d-affine-mi --seed 1 --threads 2 --force --json"
        ' | python -c "import json,sys; r=json.load(sys.stdin); '
        "print('seed', r['seed'], 'threads', r['threads'], 'iterations', r['iterations'], "
        "'dense metric', r['final_metric_dense'])\"; done",
    ],
    "few-iterations": ["regbench run -s gd-each-iteration -c synth2d-affine --seed 1"],
    "lbfgs2-cap": ["regbench run -s lbfgs2 -c synth2d-bspline --seed 1 -p number_of_iterations=5"],
    "learning-rate": [
        "regbench run -s gd-once -c synth2d-affine --seed 1",
        "regbench run -s gd -c synth2d-affine --seed 1",
    ],
    "learning-rate-ignored": [
        "for rate in 0.5 50; do regbench run -s gd-each-iteration -c synth2d-affine --seed 1 "
        '-p learning_rate=$rate --json | python -c "import json,sys; r=json.load(sys.stdin); '
        "print('learning_rate', r['params']['learning_rate'], 'iterations', r['iterations'], "
        "'error_mean', r['error_mean'])\"; done",
    ],
}


def run(name: str, commands: list[str], workdir: Path) -> str:
    env = {
        **os.environ,
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "REGBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    env.pop("REGBENCH_BLOCK_PLUGINS", None)
    lines = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, encoding="utf-8", check=False
        )
        if done.returncode:
            sys.exit(f"{name}: '{command}' exited {done.returncode}:\n{done.stderr}")
        lines.append(f"$ {command}")
        output = (done.stdout + done.stderr).rstrip()
        if output:
            lines.append(output)
    return "\n".join(line.rstrip() for line in "\n".join(lines).splitlines()) + "\n"


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, commands in COMMANDS.items():
            if names and name not in names:
                continue
            workdir = Path(tmp) / name  # a store of its own: no "Already in ..." from another example's run
            workdir.mkdir()
            (HERE / f"{name}.txt").write_text(run(name, commands, workdir), encoding="utf-8")
            print(f"wrote docs/outputs/{name}.txt")


if __name__ == "__main__":
    main(sys.argv[1:])
