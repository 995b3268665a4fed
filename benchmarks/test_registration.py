"""Time every selected strategy on every selected case, once, and keep the quality of what it returned.

pytest benchmarks/test_registration.py --benchmark-json out.json
pytest benchmarks/test_registration.py -k "lbfgs2 and translation"
"""

from __future__ import annotations

import json

import pytest

import regbench


def test_registration(benchmark, regbench_strategy, regbench_case, regbench_bench):
    pm = regbench_bench.pm
    strategy, case = pm.get_strategy(regbench_strategy), pm.get_case(regbench_case)
    if case.unavailable:
        pytest.skip(f"case {case.name!r} is unavailable: {case.unavailable}")
    case.load()  # generate or read the images outside the timed call

    record = benchmark.pedantic(
        regbench.run_one,
        args=(strategy, case, regbench_bench.seed, None, regbench_bench.threads, pm),
        rounds=1,
        iterations=1,
    )
    info = regbench_bench.add(f"{regbench_strategy}-{regbench_case}", record)
    benchmark.extra_info.update(info)

    # A failed registration is a result (it is in extra_info and the table), not a failed benchmark; what must
    # hold is that the figures describe this run and are strict JSON.
    assert set(info) == set(regbench_bench.extra_info_fields)
    assert (info["strategy"], info["case"]) == (regbench_strategy, regbench_case)
    json.dumps(info, allow_nan=False)
