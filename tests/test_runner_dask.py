"""The Dask executor: a LocalCluster on loopback gives the local executor's records, crashes and hangs included."""

from __future__ import annotations

import pytest

from regbench.runner.matrix import Matrix, parse_param_option
from regbench.runner.run_matrix import run_matrix

pytest.importorskip("distributed")


def comparable(record) -> dict:
    data = record.without_timings()
    if data["status"] in ("crashed", "timeout"):
        data.pop("notes")  # the worker log's tail names thread ids and addresses
    return data


@pytest.fixture(scope="module")
def cluster():
    """One loopback cluster for the module, as the executor starts its own: 2 single-threaded worker processes."""
    distributed = pytest.importorskip("distributed")
    options = {"threads_per_worker": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": None}
    with distributed.LocalCluster(n_workers=2, **options) as local_cluster:
        yield local_cluster.scheduler_address


def both(chosen: Matrix, tmp_path, **options) -> tuple[list, list]:
    """The records of ``chosen`` from the local executor and from the Dask one, with the same options."""
    options = {"workers": 2, "threads": 1, "plugins": ("runner_plugin",), **options}
    local = run_matrix(chosen, tmp_path / "local.sqlite", executor="local", **options)
    dask = run_matrix(chosen, tmp_path / "dask.sqlite", executor="dask", **options)
    return local, dask


# No time limit where a run must finish: under load a registration could outlast a short limit in one executor
# and not the other (a timeout record against an ok one). Only the hangs get a limit, and they always reach it.
@pytest.mark.slow
def test_a_local_cluster_gives_the_records_of_the_local_executor(tmp_path, cluster):
    chosen = Matrix(
        strategies=["gd", "lbfgs2", "test-segfault"],
        cases=["synth2d-translation"],
        seeds=[0, 1],
        params=[parse_param_option("gd.number_of_iterations=5")],
    )
    local, dask = both(chosen, tmp_path, timeout=None, scheduler=cluster)
    assert len(local) == len(dask) == 6
    assert [comparable(r) for r in dask] == [comparable(r) for r in local]
    assert {r.strategy: r.status for r in dask} == {"gd": "ok", "lbfgs2": "ok", "test-segfault": "crashed"}


@pytest.mark.slow
def test_hangs_on_a_local_cluster_are_the_timeouts_of_the_local_executor(tmp_path, cluster):
    chosen = Matrix(strategies=["test-hang"], cases=["synth2d-translation"], seeds=[0, 1])
    local, dask = both(chosen, tmp_path, timeout=2.0, scheduler=cluster)
    assert len(local) == len(dask) == 2
    assert [comparable(r) for r in dask] == [comparable(r) for r in local]
    assert [r.status for r in dask] == ["timeout", "timeout"]


def test_without_a_scheduler_the_executor_starts_its_own_local_cluster(tmp_path):
    chosen = Matrix(
        strategies=["gd"], cases=["synth2d-translation"], params=[parse_param_option("number_of_iterations=5")]
    )
    local, dask = both(chosen, tmp_path, timeout=None, workers=1)
    assert [comparable(r) for r in dask] == [comparable(r) for r in local] and dask[0].status == "ok"


def test_an_unreachable_scheduler_is_a_runner_failure(tmp_path, monkeypatch):
    from regbench.runner import dask_executor
    from regbench.runner.isolation import RunnerError

    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 1.0)
    chosen = Matrix(strategies=["gd"], cases=["synth2d-translation"])
    with pytest.raises(RunnerError, match=r"tcp://127.0.0.1:9"):
        run_matrix(chosen, tmp_path / "s.sqlite", executor="dask", scheduler="tcp://127.0.0.1:9")


def test_the_runner_says_when_the_last_dask_worker_is_gone():
    from regbench.runner.dask_executor import WorkerWatch

    class Client:
        def __init__(self):
            self.workers = {"tcp://w1": {}}

        def scheduler_info(self):
            return {"workers": self.workers}

    client, said = Client(), []
    watch = WorkerWatch(client, "tcp://host:8786", lambda: 3, say=said.append)
    watch.check()
    assert said == []
    client.workers = {}
    watch.check()
    watch.check()  # said once, not every look
    assert said == [
        "the Dask cluster at tcp://host:8786 has no workers left: 3 runs wait until a worker joins (Ctrl-C stops; "
        "the finished runs are stored and a rerun resumes)"
    ]
    client.workers = {"tcp://w2": {}}
    watch.check()
    assert said[-1] == "the Dask cluster at tcp://host:8786 has 1 worker(s) again: the runs go on"
