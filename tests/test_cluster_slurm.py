"""``regbench run --cluster slurm`` on a real SLURM: a controller and a node on this machine (Debian's slurm-wlm
and munge, started by ``tools/slurm-single-node.sh``), the matrix's runs counted where they execute.

It uses the SLURM that ``$SLURM_CONF`` configures when its node is up (``.ci/run`` starts one so), else starts
one itself (root only) and stops it after the module; where neither can be had, it is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from regbench.store.sqlite import Store

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "slurm-single-node.sh"
COMMANDS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel")
EXECUTIONS_LOG = "REGBENCH_TEST_EXECUTIONS_LOG"  # tests/cluster_count_plugin.py appends to it


def node_up(env: dict[str, str]) -> bool:
    """Whether ``sinfo`` (with ``env``) answers with a node ready for jobs."""
    try:
        states = subprocess.run(
            ["sinfo", "--noheader", "--format", "%t"], env=env, capture_output=True, text=True, timeout=20
        ).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(state in ("idle", "mix") for state in states)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment (``SLURM_CONF``) of a running single-node SLURM."""
    if importlib.util.find_spec("dask_jobqueue") is None:  # not imported here: it sets the Ctrl-C handler
        pytest.skip("the cluster extra is not installed: pip install 'regbench[cluster]'")
    if os.environ.get("SLURM_CONF") and node_up(dict(os.environ)):
        yield {"SLURM_CONF": os.environ["SLURM_CONF"]}
        return
    missing = [command for command in COMMANDS if shutil.which(command) is None]
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)} not found): apt-get install -y slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("starting SLURM needs root (slurmd, munged); or start one and set SLURM_CONF")
    directory = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["bash", str(SCRIPT), "start", str(directory)], capture_output=True, text=True, timeout=180, check=False
    )
    try:
        if start.returncode != 0:
            pytest.skip(f"SLURM did not start ({SCRIPT.name} exit {start.returncode}): {start.stderr.strip()[-600:]}")
        yield {"SLURM_CONF": str(directory / "slurm.conf")}
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(directory)], capture_output=True, timeout=60, check=False)


RUN_FILE = """\
strategies = ["gd"]
cases = ["synth2d-translation"]
seeds = 4
plugins = ["cluster_count_plugin"]

[params]
number_of_iterations = 5

[cluster]
cores = 2
memory = "1GB"
walltime = "00:10:00"
jobs = 1
python = {python}
"""


def executions(log: Path) -> list[tuple[str, str]]:
    """(run key, SLURM job id or '-') of every execution logged."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(key, job) for key, job, _ in (line.split() for line in lines)]


def stored(path: Path) -> list[dict]:
    with Store.read_only(path) as store:
        return sorted((record.without_timings() for record in store.records()), key=lambda data: data["key"])


@pytest.mark.slow
def test_a_matrix_runs_once_per_run_in_slurm_jobs_and_gives_the_local_records(slurm, regbench_process, tmp_path):
    (tmp_path / "run.toml").write_text(RUN_FILE.format(python=f'"{sys.executable}"'))  # the venv's Python
    on_slurm, here = tmp_path / "slurm.log", tmp_path / "local.log"
    env = {**slurm, EXECUTIONS_LOG: str(on_slurm)}
    done = regbench_process.run(
        "run", "--config", "run.toml", "--cluster", "slurm", "--store", "slurm.sqlite", env=env, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "submitted 1 SLURM job (each 2 cores and 1GB, 2 Dask workers)" in done.stderr, done.stderr
    local = regbench_process.run(
        "run", "--config", "run.toml", "--store", "local.sqlite", env={EXECUTIONS_LOG: str(here)}
    )
    assert local.returncode == 0, local.stdout + local.stderr

    records = stored(tmp_path / "slurm.sqlite")
    ran = executions(on_slurm)
    print(f"{len(records)} runs, {len(ran)} executions in SLURM jobs {sorted({job for _, job in ran})}")
    assert len(records) == 4 and {record["status"] for record in records} == {"ok"}
    # Each run executed once, inside the one SLURM job submitted (its processes see SLURM_JOB_ID).
    assert sorted(key for key, _ in ran) == [record["key"] for record in records]
    jobs = {job for _, job in ran}
    assert len(jobs) == 1 and "-" not in jobs, ran
    assert {job for _, job in executions(here)} == {"-"}  # the local run's counter says where it was: not in a job
    assert records == stored(tmp_path / "local.sqlite")
    # The cluster was closed: its job is cancelled, not left holding the node until its walltime.
    queue = subprocess.run(["squeue", "--noheader", "--format", "%i"], env={**os.environ, **slurm}, capture_output=True)
    assert jobs.isdisjoint(queue.stdout.decode().split()), queue.stdout
