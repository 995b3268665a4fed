"""Host provenance: every run's record says where it ran (name, CPU, cores, memory, OS, Python, BLAS, thread
variables, load before and after), read once per process; older records without it still load; ``show`` prints it."""

from __future__ import annotations

import hashlib
import json
import socket

from click.testing import CliRunner

from regbench.cli import main
from regbench.record import RunRecord
from regbench.run import run_one
from regbench.store.sqlite import Store
from regbench.util import host

FACTS = ("name", "cpu", "cores", "cores_usable", "memory_gb", "os", "machine", "python", "blas", "thread_env")


def test_a_run_records_its_host_and_the_load_before_and_after(monkeypatch):
    monkeypatch.delenv(host.HOST_NAME_ENV, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    record = run_one("gd", "synth2d-translation", params={"number_of_iterations": 3})
    facts = record.host
    assert facts is not None and set(FACTS) | {"load_start", "load_end"} == set(facts)
    assert facts["name"] == socket.gethostname()  # as given by default
    assert facts["cores"] >= facts["cores_usable"] >= 1 and facts["memory_gb"] > 0
    assert facts["thread_env"]["OMP_NUM_THREADS"] == "3"
    assert facts["blas"] and facts["blas"][0]["library"]  # numpy's BLAS at least
    assert all(isinstance(v, float) for v in facts["load_start"] + facts["load_end"])
    text = record.to_json()
    assert json.loads(text)["host"] == facts  # strict JSON, round trip
    assert RunRecord.from_json(text).host == facts
    assert "host" not in record.without_timings()  # it measures the machine, not the run
    assert record.summary()["host"] == facts["name"]  # a flat cell for CSV, not a mapping


def test_the_host_name_is_as_given_hashed_or_a_label(monkeypatch):
    name = socket.gethostname()
    monkeypatch.delenv(host.HOST_NAME_ENV, raising=False)
    assert host.host_name() == name
    monkeypatch.setenv(host.HOST_NAME_ENV, "hash")
    assert host.host_name() == "sha256:" + hashlib.sha256(name.encode()).hexdigest()[:12]
    monkeypatch.setenv(host.HOST_NAME_ENV, "lab-a\x1b[31m")
    assert host.host_name() == "lab-a[31m"  # a label, its control characters dropped


def test_the_machine_facts_are_read_once_per_process(monkeypatch):
    calls = []
    host._machine.cache_clear()
    monkeypatch.setattr(host, "_cpu_model", lambda: calls.append(1) or "test cpu")
    try:
        first, second = host.host_facts(), host.host_facts()
    finally:
        host._machine.cache_clear()  # the next reader sees the real CPU again
    assert calls == [1] and first["cpu"] == second["cpu"] == "test cpu"


def test_a_record_without_host_still_loads_and_show_says_so(tmp_path):
    old = RunRecord(strategy="gd", case="c1", seed=0, key="k1").to_dict()
    del old["host"]  # as a regbench before host provenance wrote it
    assert RunRecord.from_dict(old).host is None
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.add(RunRecord.from_dict(old))
        store.add(run_one("gd", "synth2d-translation", params={"number_of_iterations": 3}))
        (new_key,) = store.keys() - {"k1"}
    shown = CliRunner().invoke(main, ["show", "k1", "--store", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "host: not recorded" in shown.output
    shown = CliRunner().invoke(main, ["show", new_key, "--store", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"host: {socket.gethostname()}: " in shown.output and "host software: " in shown.output
