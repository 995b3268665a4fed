"""Time every selected strategy on every selected case, once, in an isolated worker, and keep the quality of what
it returned (a crash or a timeout is recorded as such, and the session goes on).

pytest benchmarks/test_registration.py --benchmark-json out.json
pytest benchmarks/test_registration.py -k "lbfgs2 and translation"
"""

from __future__ import annotations

import json

import pytest


def test_registration(benchmark, regbench_strategy, regbench_case, regbench_bench):
    case = regbench_bench.pm.get_case(regbench_case)
    if case.unavailable:
        pytest.skip(f"case {case.name!r} is unavailable: {case.unavailable}")
    regbench_bench.start()  # the worker process starts outside the timed call

    # In the worker (a crash or a hang becomes a record); timed by the run's own clock (conftest.worker_clock).
    record = benchmark.pedantic(regbench_bench.run, args=(regbench_strategy, regbench_case), rounds=1, iterations=1)
    info = regbench_bench.add(f"{regbench_strategy}-{regbench_case}", record)
    benchmark.extra_info.update(info)

    # A failed registration (an error, a crash, a timeout) is a result (it is in extra_info and the table), not a
    # failed benchmark; what must hold is that the figures describe this run and are strict JSON.
    assert set(info) == set(regbench_bench.extra_info_fields)
    assert (info["strategy"], info["case"]) == (regbench_strategy, regbench_case)
    json.dumps(info, allow_nan=False)
