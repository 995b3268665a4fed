"""Every run is isolated by default, a single ``regbench run -s X -c Y`` and ``pytest benchmarks/`` included;
``--in-process`` opts out; ``show``'s command repeats the isolation; text from data is printed as text."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_packages import install

from regbench.cli import main
from regbench.store.sqlite import Store

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PLUGIN = ["--plugin", "runner_plugin"]


def test_a_single_run_that_segfaults_is_a_crashed_record(tmp_path, regbench_process):
    # in a process of its own: the crash must not take pytest down
    result = regbench_process.run(
        "run", "-s", "test-segfault", "-c", "synth2d-translation", *PLUGIN, "--store", "s.sqlite"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "crashed: worker died with signal SIGSEGV" in " ".join(result.stdout.split())
    with Store(tmp_path / "s.sqlite") as db:
        (record,) = db.records()
    assert record.status == "crashed" and record.strategy == "test-segfault"


def test_a_single_run_hanging_past_its_timeout_is_a_timeout_record(tmp_path):
    args = ["run", "-s", "test-hang", "-c", "synth2d-translation", *PLUGIN, "--timeout", "2", "--json"]
    result = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "timeout"


def test_crashed_and_timed_out_runs_carry_the_instance_an_ok_run_has(tmp_path):
    """The worker says which instance it solves before the registration starts; a crashed or timed-out record
    had none (a later matrix warned about them)."""

    def instances(strategies: str, store: str) -> dict[str, tuple[str, str | None]]:
        args = ["run", "-s", strategies, "-c", "synth2d-translation", "--seed", "2", *PLUGIN, "--timeout", "2"]
        result = CliRunner().invoke(main, [*args, "--store", str(tmp_path / store)])
        assert result.exit_code == 0, result.output
        with Store(tmp_path / store) as db:
            return {r.strategy: (r.status, r.instance) for r in db.records()}

    matrix = instances("test-segfault,test-hang,test-pid", "matrix.sqlite")
    ok = matrix["test-pid"]
    assert ok[0] == "ok" and ok[1]
    assert matrix["test-segfault"] == ("crashed", ok[1]) and matrix["test-hang"] == ("timeout", ok[1])
    assert instances("test-segfault", "single.sqlite") == {"test-segfault": ("crashed", ok[1])}


def test_a_single_run_runs_in_a_worker_unless_in_process(tmp_path):
    def ran_in(*extra):
        args = ["run", "-s", "test-pid", "-c", "synth2d-translation", *PLUGIN, "--json", "--force", *extra]
        result = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "s.sqlite")])
        assert result.exit_code == 0, result.output
        (note,) = [n for n in json.loads(result.stdout)["notes"] if n.startswith("ran in process")]
        return int(note.split()[-1])

    assert ran_in() != os.getpid()
    assert ran_in("--in-process") == os.getpid()


def test_in_process_refuses_what_needs_a_worker(tmp_path):
    for extra in (["--timeout", "5"], ["--workers", "2"], ["--executor", "dask"]):
        args = ["run", "-s", "gd", "-c", "synth2d-translation", "--in-process", *extra]
        result = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "s.sqlite")])
        assert result.exit_code == 2 and "--in-process runs here" in " ".join(result.output.split()), result.output


def test_an_in_process_matrix_runs_here(tmp_path):
    args = ["run", "-s", "test-pid", "-s", "gd", "-c", "synth2d-translation", *PLUGIN, "--in-process"]
    result = CliRunner().invoke(
        main, [*args, "-p", "gd.number_of_iterations=3", "--json", "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    (pid,) = [r for r in json.loads(result.stdout) if r["strategy"] == "test-pid"]
    assert f"ran in process {os.getpid()}" in pid["notes"]


def test_the_dry_run_says_where_a_single_run_goes(tmp_path):
    def plan(*extra):
        args = ["run", "-s", "gd", "-c", "synth2d-translation", "--dry-run", "--json", *extra]
        return json.loads(CliRunner().invoke(main, [*args, "--store", str(tmp_path / "s")]).stdout)

    assert (plan()["executor"], plan()["workers"], plan()["timeout_s"]) == ("local", 1, 1800)
    assert (plan("--in-process")["executor"], plan("--in-process")["timeout_s"]) == ("in-process", None)


def test_shows_command_for_a_crashed_run_repeats_it_isolated(tmp_path, regbench_process):
    first = regbench_process.run(
        "run", "-s", "test-segfault", "-c", "synth2d-translation", *PLUGIN, "--store", "a.sqlite"
    )
    assert first.returncode == 0, first.stderr
    with Store(tmp_path / "a.sqlite") as db:
        (record,) = db.records()
    shown = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["show", record.key, "--store", str(tmp_path / "a.sqlite")])
    (line,) = [line for line in shown.output.splitlines() if line.startswith("command: ")]
    command = shlex.split(line.removeprefix("command: "))
    assert command[:2] == ["regbench", "run"] and "--in-process" not in command and "--plugin" in command
    again = regbench_process.run(*command[1:], "--store", "b.sqlite")
    assert again.returncode == 0, again.stderr  # the crash is a record again, not the end of regbench
    with Store(tmp_path / "b.sqlite") as db:
        assert [r.status for r in db.records()] == ["crashed"]


def test_shows_command_for_a_timed_out_run_keeps_its_limit(tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["run", "-s", "test-hang", "-c", "synth2d-translation", *PLUGIN, "--timeout", "1.5", "--store", str(store)]
    assert CliRunner().invoke(main, args).exit_code == 0
    with Store(store) as db:
        (record,) = db.records()
    shown = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["show", record.key, "--store", str(store)])
    assert "--timeout 1.5" in shown.output


# -- text from data is text -----------------------------------------------------------------------------------


def test_an_error_text_with_markup_and_escapes_is_printed_as_text(tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["run", "-s", "test-markup", "-c", "synth2d-translation", *PLUGIN, "--store", str(store)]
    for attempt in range(2):  # the run, then the stored record shown again
        result = CliRunner(env={"COLUMNS": "300"}).invoke(main, args)
        assert result.exit_code == 0, (attempt, result.output)
        assert "[/bold] broke [link=http://example.invalid]here[/link]" in result.output
        assert "\x1b" not in result.output and "\\x1b[2J" in result.output
    with Store(store) as db:
        (record,) = db.records()
    shown = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["show", record.key, "--store", str(store)])
    assert shown.exit_code == 0 and "[/bold] broke" in shown.output and "\x1b" not in shown.output


def test_list_prints_descriptions_and_hints_as_text():
    result = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["list", *PLUGIN])
    assert result.exit_code == 0, result.output
    assert "[link=http://example.invalid]click[/link]" in result.output
    assert "\x1b" not in result.output and "\\x1b[2Jcleared" in result.output


def test_show_prints_names_in_titles_as_text(tmp_path):
    from regbench.record import Level, RunRecord, Segment

    record = RunRecord("gd", "[link=http://example.invalid]evil[/link]", 0, key="k" * 20)
    record.segments = [Segment(0, levels=[Level(0, iterations=3)], stop_condition="x")]
    path = tmp_path / "run.json"
    path.write_text(record.to_json())
    shown = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    titles = [line.strip() for line in shown.output.splitlines() if line.strip().startswith("gd on ")]
    assert titles == ["gd on [link=http://example.invalid]evil[/link], seed 0"]  # the per-level table's title


# -- pytest benchmarks/ --------------------------------------------------------------------------------------------

CRASHING = """
import ctypes

import regbench


class Crash(regbench.Strategy):
    '''reads address 0, as a broken C++ extension would'''

    def run(self, ctx, params):
        ctypes.string_at(0)


@regbench.hookimpl
def regbench_register_strategies(register):
    register(Crash("thirdparty-segfault"))
"""


@pytest.mark.slow
def test_pytest_benchmarks_with_a_crashing_third_party_strategy_finish(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, CRASHING, distribution="regbench-crashing", entry_point="crashing")
    out = tmp_path / "out.json"
    args = ["benchmarks/test_registration.py", "-p", "no:cacheprovider", "--benchmark-json", str(out)]
    args += ["--regbench-strategies", "thirdparty-segfault,gd", "--regbench-cases", "synth2d-translation"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    status = {b["extra_info"]["strategy"]: b["extra_info"]["status"] for b in data["benchmarks"]}
    assert status == {"thirdparty-segfault": "crashed", "gd": "ok"}
    times = {
        b["extra_info"]["strategy"]: (b["stats"]["min"], b["extra_info"]["wall_time_s"]) for b in data["benchmarks"]
    }
    assert times["gd"][0] == pytest.approx(times["gd"][1])  # timed inside the worker: the run's own wall time
    assert "crashed: worker died with signal SIGSEGV" in result.stdout
