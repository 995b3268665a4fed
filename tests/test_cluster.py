"""``regbench run --cluster``: the ``[cluster]`` table, ``--dry-run``'s job scripts, bad values, a missing
dask-jobqueue, and jobs submitted and cancelled, with stand-in ``sbatch``/``scancel`` commands (a real SLURM runs
in tests/test_cluster_slurm.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.runner.cluster import ClusterSpec, _jobqueue, start_cluster

# Not importorskip: importing dask_jobqueue here would set this process's Ctrl-C handler (see the test below).
pytestmark = pytest.mark.skipif(importlib.util.find_spec("dask_jobqueue") is None, reason="no dask-jobqueue")

TABLE = """\
strategies = ["gd"]
cases = ["synth2d-translation"]
seeds = 2

[cluster]
cores = 4
memory = "8GB"
walltime = "02:00:00"
queue = "short"
jobs = 3
job_extra_directives = ["--exclusive"]
job_script_prologue = ["module load python"]
python = "/opt/env/bin/python"
"""


def run(tmp_path: Path, text: str, *args: str):
    (tmp_path / "run.toml").write_text(text)
    store = str(tmp_path / "s.sqlite")
    return CliRunner().invoke(main, ["run", "--config", str(tmp_path / "run.toml"), "--store", store, *args])


def fake_commands(tmp_path: Path, monkeypatch, sbatch: str) -> Path:
    """``sbatch`` and ``scancel`` stand-ins first on PATH; each call appends its arguments to ``calls.log``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in (("sbatch", sbatch), ("scancel", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_dry_run_prints_each_batch_systems_job_script_and_submits_nothing(tmp_path, monkeypatch):
    log = fake_commands(tmp_path, monkeypatch, "echo Submitted batch job 7")
    slurm = run(tmp_path, TABLE, "--cluster", "slurm", "--dry-run")
    assert slurm.exit_code == 0, slurm.output
    assert "2 runs to run on 3 SLURM jobs (each 4 cores and 8GB, 4 Dask workers)" in slurm.output
    for line in ("#SBATCH -p short", "#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00", "#SBATCH --exclusive"):
        assert line in slurm.output
    assert "module load python\n/opt/env/bin/python -m distributed.cli.dask_worker" in slurm.output
    assert "--nthreads 1" in slurm.output and "--nworkers 4" in slurm.output  # one run at a time per worker
    pbs = run(tmp_path, TABLE, "--cluster", "pbs", "--dry-run", "--json")
    assert pbs.exit_code == 0, pbs.output
    plan = json.loads(pbs.output)
    assert plan["workers"] == 12 and plan["cluster"]["kind"] == "pbs"
    assert "#PBS -l select=1:ncpus=4:mem=" in plan["job_script"] and "#PBS -q short" in plan["job_script"]
    assert not log.exists()  # nothing submitted


def test_threads_per_run_make_fewer_workers_per_job(tmp_path):
    result = run(tmp_path, TABLE, "--cluster", "slurm", "--threads", "2", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(each 4 cores and 8GB, 2 Dask workers)" in result.output
    assert "--nworkers 2" in result.output and "--nthreads 1" in result.output.split("--nworkers")[1]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('memory = "8GB"', 'memory = "8 gigs"', "run.toml:7: [cluster] memory must be a size like '4GB'"),
        ('walltime = "02:00:00"', 'walltime = "two hours"', "run.toml:8: [cluster] walltime must be a time like"),
        ("cores = 4", "cores = 0", "run.toml:6: [cluster] cores must be a positive integer, not 0"),
        ("jobs = 3", "jobs = 3\nmaximum_jobs = 5", "run.toml:10: give [cluster] jobs (a fixed number) or minimum_jobs"),
        ("jobs = 3", "minimum_jobs = 2", "run.toml:10: [cluster] minimum_jobs needs maximum_jobs"),
        ("jobs = 3", "nodes = 3", "run.toml:10: unknown [cluster] key 'nodes'; valid: type, cores, memory,"),
        ("[cluster]", '[cluster]\ntype = "lsf"', "run.toml:6: [cluster] type must be 'slurm' or 'pbs' or 'sge'"),
    ],
)
def test_a_bad_cluster_value_is_a_usage_error_naming_the_key(tmp_path, old, new, message):
    result = run(tmp_path, TABLE.replace(old, new), "--cluster", "slurm", "--dry-run")
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_bad_cluster_option_is_a_usage_error_naming_the_choices(tmp_path):
    result = run(tmp_path, TABLE, "--cluster", "lsf", "--dry-run")
    assert result.exit_code == 2
    assert "'lsf' is not one of 'slurm', 'pbs', 'sge'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scheduler", "tcp://127.0.0.1:8786"), "--cluster slurm starts its own Dask scheduler"),
        (("--executor", "local"), "--cluster slurm runs on Dask workers in batch jobs: drop executor local"),
        (("--in-process",), "--in-process runs here, one run after the other: drop --cluster slurm"),
        (("--workers", "5"), "workers (5, Dask workers in all) and [cluster] jobs both say how many"),
    ],
)
def test_options_that_contradict_a_cluster_are_usage_errors(tmp_path, args, message):
    result = run(tmp_path, TABLE, "--cluster", "slurm", "--dry-run", *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_without_dask_jobqueue_the_message_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import dask_jobqueue raises ModuleNotFoundError
    result = run(tmp_path, TABLE, "--cluster", "slurm", "--dry-run")
    assert result.exit_code == 1
    assert "--cluster slurm needs dask-jobqueue, which is not installed: pip install 'regbench[cluster]'" in (
        result.output
    )


def test_a_refused_submission_fails_the_run_with_what_the_batch_system_said(tmp_path, monkeypatch):
    fake_commands(tmp_path, monkeypatch, "echo 'sbatch: error: invalid partition specified: short' >&2; exit 1")
    result = run(tmp_path, TABLE, "--cluster", "slurm")
    assert result.exit_code == 1, result.output
    assert "--cluster slurm: the batch system refused a job: sbatch: error: invalid partition specified" in (
        result.output
    )
    assert "nothing ran" in result.output


def test_without_the_submission_command_the_run_fails_before_starting_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
    with pytest.raises(Exception, match="sbatch is not on PATH: run regbench where jobs are submitted"):
        start_cluster(ClusterSpec(kind="slurm"))


@pytest.mark.parametrize(
    ("spec", "jobs"),
    [(ClusterSpec(kind="slurm", jobs=3), 3), (ClusterSpec(kind="slurm", cores=2, workers=3), 2)],  # 2 workers a job
)
def test_the_cluster_submits_the_jobs_asked_for_and_cancels_them_on_closing(tmp_path, monkeypatch, spec, jobs):
    log = fake_commands(tmp_path, monkeypatch, 'echo "Submitted batch job $$"')
    cluster = start_cluster(spec)
    submitted = [line for line in log.read_text().splitlines() if line.startswith("sbatch")]
    ids = sorted(job.job_id for job in cluster.workers.values())
    cluster.close()
    cancelled = sorted(line.split()[-1] for line in log.read_text().splitlines() if line.startswith("scancel"))
    assert len(submitted) == len(ids) == jobs
    assert cancelled == ids


def test_loading_dask_jobqueue_leaves_ctrl_c_to_regbench(monkeypatch):
    """dask_jobqueue.runner sets SIGINT to a bare sys.exit() when imported: Ctrl-C would end a run with status 0."""
    for name in [name for name in sys.modules if name.startswith("dask_jobqueue")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, as in a new regbench process
    handler = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert _jobqueue(ClusterSpec(kind="pbs")).__name__ == "PBSCluster"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, handler)
