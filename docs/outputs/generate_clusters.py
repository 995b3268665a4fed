"""Regenerate the outputs docs/clusters.md quotes: ``python docs/outputs/generate_clusters.py [NAME ...]``.

As ``generate.py`` (a scratch directory per example, built-in plugins only, 100 columns, no colour; it also runs
these). :func:`prepare` writes the run files the examples print and read: ``--dry-run`` with ``--cluster`` prints
the job script and submits nothing, so no batch system is needed (dask-jobqueue is: the ``cluster`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate

#: The run files, by name: a study of 2 strategies × 3 cases × 20 seeds; the jobs' Python is given (the default,
#: this interpreter, would make the script differ from machine to machine).
RUN_FILES = {
    "slurm.toml": """\
strategies = ["gd", "lbfgs2"]
cases = ["synth2d-affine", "synth2d-bspline", "synth2d-rigid-mi"]
seeds = 20

[cluster]
cores = 8                          # per job: 8 Dask workers of one run each (--threads 1)
memory = "16GB"
walltime = "04:00:00"
queue = "compute"
account = "imaging"
jobs = 4
job_extra_directives = ["--constraint=avx2"]
job_script_prologue = ["module load python/3.11"]
python = "/home/me/study/.venv/bin/python"
""",
    "pbs.toml": """\
strategies = ["gd", "lbfgs2"]
cases = ["synth2d-affine", "synth2d-bspline", "synth2d-rigid-mi"]
seeds = 20

[cluster]
cores = 8
memory = "16GB"
walltime = "04:00:00"
queue = "workq"
minimum_jobs = 0                   # adaptive: jobs come and go with the runs waiting
maximum_jobs = 10
job_script_prologue = ["cd $PBS_O_WORKDIR"]
python = "/home/me/study/.venv/bin/python"
""",
}

COMMANDS: dict[str, list[str]] = {
    "cluster-slurm": ["cat slurm.toml", "regbench run --config slurm.toml --cluster slurm --dry-run"],
    "cluster-pbs": ["cat pbs.toml", "regbench run --config pbs.toml --cluster pbs --dry-run"],
}


def prepare(name: str, workdir: Path) -> None:
    for file, text in RUN_FILES.items():
        (workdir / file).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    generate.main(sys.argv[1:], generators=("generate_clusters",))
