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
{table}
memory = "1GB"
walltime = "00:10:00"
python = {python}
"""


def executions(log: Path) -> list[tuple[str, str]]:
    """(run key, SLURM job id or '-') of every execution logged."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(key, job) for key, job, _ in (line.split() for line in lines)]


def stored(path: Path) -> list[dict]:
    with Store.read_only(path) as store:
        return sorted((record.without_timings() for record in store.records()), key=lambda data: data["key"])


def on_slurm(slurm: dict[str, str], regbench_process, tmp_path: Path, table: str) -> tuple[list[dict], set[str]]:
    """``regbench run --cluster slurm`` of :data:`RUN_FILE` with ``table`` for its jobs: the stored records, and
    the SLURM jobs the runs executed in, after checking each run executed once, in a job, and no job is left."""
    (tmp_path / "run.toml").write_text(RUN_FILE.format(table=table, python=f'"{sys.executable}"'))  # the venv's
    log = tmp_path / "slurm.log"
    done = regbench_process.run(
        "run",
        "--config",
        "run.toml",
        "--cluster",
        "slurm",
        "--store",
        "slurm.sqlite",
        env={**slurm, EXECUTIONS_LOG: str(log)},
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    records, ran = stored(tmp_path / "slurm.sqlite"), executions(log)
    jobs = {job for _, job in ran}
    print(f"{len(records)} runs, {len(ran)} executions in SLURM jobs {sorted(jobs)}")
    assert len(records) == 4 and {record["status"] for record in records} == {"ok"}
    # Each run executed once, inside a SLURM job (its processes see SLURM_JOB_ID).
    assert sorted(key for key, _ in ran) == [record["key"] for record in records]
    assert "-" not in jobs, ran
    # The cluster was closed: its jobs are cancelled, not left holding the node until their walltime.
    queue = subprocess.run(["squeue", "--noheader", "--format", "%i"], env={**os.environ, **slurm}, capture_output=True)
    assert jobs.isdisjoint(queue.stdout.decode().split()), queue.stdout
    return records, jobs


@pytest.mark.slow
def test_a_matrix_runs_once_per_run_in_slurm_jobs_and_gives_the_local_records(slurm, regbench_process, tmp_path):
    records, jobs = on_slurm(slurm, regbench_process, tmp_path, "cores = 2\njobs = 1")
    assert len(jobs) == 1  # the one job asked for
    here = tmp_path / "local.log"
    local = regbench_process.run(
        "run", "--config", "run.toml", "--store", "local.sqlite", env={EXECUTIONS_LOG: str(here)}
    )
    assert local.returncode == 0, local.stdout + local.stderr
    assert {job for _, job in executions(here)} == {"-"}  # the local run's counter says where it was: not in a job
    assert records == stored(tmp_path / "local.sqlite")


@pytest.mark.slow
def test_adaptive_bounds_submit_jobs_while_runs_wait(slurm, regbench_process, tmp_path):
    _, jobs = on_slurm(slurm, regbench_process, tmp_path, "cores = 1\nminimum_jobs = 0\nmaximum_jobs = 2")
    assert 1 <= len(jobs) <= 2
