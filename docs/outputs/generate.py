"""Regenerate the command outputs the docs quote: ``python docs/outputs/generate.py [NAME ...]``.

With no name it regenerates **every** file in ``docs/outputs``: the examples below and those of the two other
generators beside it (:data:`GENERATORS`: ``generate_diagnostics.py`` for docs/diagnostics.md,
``generate_evidence.py`` for docs/recommend.md, each also runnable alone); with names, only those examples.

Each example's commands run in a scratch directory of their own (its own result store) with the built-in plugins
only, no ``REGBENCH_*`` setting of the caller, 100 columns and no colour; their output (stdout and stderr, as a
terminal shows them) is written, after each command line, to ``docs/outputs/<name>.txt``, which the pages
include with ``--8<-- "<name>.txt"``. ``tests/test_docs_outputs.py`` reruns the quick examples and compares them
with these files after :func:`normalise`. Rerun it after changing what a command prints, then re-read the prose
around each block.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The generator modules beside this file, each with ``COMMANDS`` (name -> shell commands) and optionally
#: ``prepare(name, workdir)``, which writes the inputs its commands read.
GENERATORS = ("generate", "generate_diagnostics", "generate_evidence", "generate_clusters")
RAW_250 = "-p estimate_learning_rate=never -p learning_rate=250"  # gd's raw fixed rate, as given

# name -> shell commands (run one after another; each is echoed with a "$ " prompt)
COMMANDS: dict[str, list[str]] = {
    "tour-run": ["regbench run -s lbfgs2 -c synth2d-affine --seed 1"],
    # LBFGS2's "rounding error" stop on six seeds: the same text, registered or not
    "rounding-error": [
        "for seed in 1 2 3 4 5 6; do regbench run -s lbfgs2 -c synth2d-affine --seed $seed --json"
        ' | python -c "import json,sys; r=json.load(sys.stdin); '
        "print('seed', r['seed'], r['stop_category'], 'rounding_failure', r['rounding_failure'], "
        "'registered', r['registered'], 'error', round(r['initial_error_mean'], 3), '->', "
        "round(r['error_mean'], 4))\"; done",
    ],
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
        # the rate per level, which the table may leave out at 100 columns
        "regbench run -s gd-once -c synth2d-affine --seed 1 --json"
        ' | python -c "import json,sys; r=json.load(sys.stdin); '
        "[print('level', v['index'], 'learning rate', round(v['learning_rate_first'], 1), '->', "
        "round(v['learning_rate_last'], 1)) for s in r['segments'] for v in s['levels']]\"",
        "regbench run -s gd -c synth2d-affine --seed 1",
    ],
    "learning-rate-ignored": [
        "for rate in 0.5 50; do regbench run -s gd-each-iteration -c synth2d-affine --seed 1 "
        '-p learning_rate=$rate --json | python -c "import json,sys; r=json.load(sys.stdin); '
        "print('learning_rate', r['params']['learning_rate'], 'iterations', r['iterations'], "
        "'error_mean', r['error_mean'])\"; done",
    ],
}


#: What legitimately differs from one regeneration to the next, each (pattern, replacement): the docs' numbers and
#: labels must not. Times (a run's wall and CPU seconds, the progress bar's clock, the periodic progress lines),
#: run keys, dates, and the last digits of Mattes MI on several threads (thread-order noise, docs/simpleitk.md).
NORMALISE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b\d+(\.\d+)?(e-?\d+)? s / \d+(\.\d+)?(e-?\d+)? s\b"), "<wall> s / <cpu> s"),
    (re.compile(r"\b\d+:[\d:]*…? left \d+:[\d:]*…?"), "<elapsed> left <left>"),  # "0:00:01", or cut: "0:00…"
    (re.compile(r"^progress: .*\n", re.M), ""),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12,64}\b"), "<key>"),  # hex with a letter and a digit
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?"), "<date>"),
    # reproducible: the same seed on 2 threads, the dense metric to 6 significant digits
    (re.compile(r"(threads [2-9] iterations \d+ dense metric -?\d\.\d{5})\d*"), r"\1…"),
    # regbench audit's threads source (1 vs 2 threads): its spread, and so its verdict, is thread-order noise
    (re.compile(r"^(  threads +\d+ runs  ).*$", re.M), r"\1<thread noise>"),
]


def normalise(text: str) -> str:
    """``text`` with what legitimately varies (:data:`NORMALISE`) replaced by placeholders."""
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def run(name: str, commands: list[str], workdir: Path) -> str:
    """The example's commands run one after another in ``workdir``, each echoed after a ``$`` prompt."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REGBENCH_")}
    env |= {
        "PYTHONIOENCODING": "utf-8",
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "REGBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
        # this interpreter's regbench and python first, also when the caller's venv is not activated
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    if "REGBENCH_CACHE_DIR" in os.environ:  # a cache changes no output
        env["REGBENCH_CACHE_DIR"] = os.environ["REGBENCH_CACHE_DIR"]
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


@dataclass(frozen=True)
class Example:
    """One file of ``docs/outputs``: the commands that print it, and what they need beside them."""

    name: str
    commands: list[str]
    generator: str  # the module that defines it
    prepare: Callable[[str, Path], None] | None = None

    def output(self, workdir: Path) -> str:
        if self.prepare:
            self.prepare(self.name, workdir)
        return run(self.name, self.commands, workdir)


def examples(generators: tuple[str, ...] = GENERATORS) -> dict[str, Example]:
    """Every example of ``generators`` (modules beside this file), by name."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    found: dict[str, Example] = {}
    for module_name in generators:
        module = importlib.import_module(module_name)
        prepare = getattr(module, "prepare", None)
        found |= {name: Example(name, commands, module_name, prepare) for name, commands in module.COMMANDS.items()}
    return found


def main(names: list[str], generators: tuple[str, ...] = GENERATORS) -> None:
    """Write ``docs/outputs/<name>.txt`` for the examples named (every one of ``generators`` without names)."""
    known = examples(generators)
    unknown = sorted(set(names) - set(known))
    if unknown:
        sys.exit(f"unknown example(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, example in known.items():
            if names and name not in names:
                continue
            workdir = Path(tmp) / name  # a store of its own: no "Already in ..." from another example's run
            workdir.mkdir()
            (HERE / f"{name}.txt").write_text(example.output(workdir), encoding="utf-8")
            print(f"wrote docs/outputs/{name}.txt", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
