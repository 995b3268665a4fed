"""The defaults that follow the machine's cores (workers = cores ÷ ITK threads per run), on a pretend machine:
the suite runs on 2 cores, users have 1 or many."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from regbench.cli import main
from regbench.run import default_threads
from regbench.runner.run_matrix import default_workers

FOUR = ["-s", "gd", "-s", "lbfgs2", "-c", "synth2d-translation", "--seeds", "2", "-p", "gd.number_of_iterations=5"]


@pytest.fixture(params=[1, 4], ids=lambda n: f"{n}-cores")
def cores(request, monkeypatch) -> int:
    """A machine with this many cores for the process, whatever this one has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(request.param)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: request.param)
    return request.param


def dry_run(tmp_path, *extra: str) -> tuple[str, dict]:
    args = ["run", *FOUR, "--store", str(tmp_path / "s.sqlite"), "--dry-run", *extra]
    text = CliRunner().invoke(main, args, catch_exceptions=False)
    plan = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert text.exit_code == 0 and plan.exit_code == 0, text.output + plan.output
    return " ".join(text.output.split()), json.loads(plan.stdout)


def test_the_default_workers_are_the_cores_at_one_thread_each(cores):
    assert default_threads() == cores
    assert default_workers() == cores
    assert default_workers(2) == max(1, cores // 2)
    assert default_workers(8) == 1  # never none


def test_the_printed_plan_follows_the_cores(cores, tmp_path):
    text, plan = dry_run(tmp_path)
    workers = "1 local worker," if cores == 1 else f"{cores} local workers,"
    assert f"4 runs to run on {workers} 1 ITK thread per run" in text
    assert (plan["workers"], plan["threads"]) == (cores, 1)


def test_threads_per_run_divide_the_cores_among_workers(cores, tmp_path):
    text, plan = dry_run(tmp_path, "--threads", "2")
    expected = max(1, cores // 2)
    assert f"on {expected} local worker{'s' if expected > 1 else ''}, 2 ITK threads per run" in text
    assert (plan["workers"], plan["threads"]) == (expected, 2)


def test_chosen_workers_ignore_the_cores(cores, tmp_path):
    _, plan = dry_run(tmp_path, "--workers", "3")
    assert plan["workers"] == 3
