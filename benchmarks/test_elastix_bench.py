"""elastix through regbench against elastix alone, printed in one run: ``pytest benchmarks/test_elastix_bench.py -s``.

- first use: what importing itk and loading elastix costs in a fresh process (paid once per worker process, before
  its first run's clock: ``Strategy.prepare_process``);
- per case, in one warm process, alternating over repetitions: regbench's whole run (``execute_record`` as a
  matrix worker runs it: parameter map, image conversion, elastix, reading its log, the evaluation during the run)
  against a direct ``itk.elastix_registration_method`` call with the same parameter map, start and thread on
  images already in itk (target ≤ 1.05×; regbench's own ``Update`` writes elastix's log to a file, which it reads),
  and SimpleITK's ``rsgd`` through regbench beside them, with the errors.

Shared machines are noisy: read the ratios beside the load average. Needs itk-elastix (skipped without it).
"""

from __future__ import annotations

import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import SimpleITK as sitk

import regbench
from regbench.run import execute_record, itk_globals, new_record

try:
    importlib.metadata.version("itk-elastix")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("itk-elastix is not installed (pip install 'regbench[elastix]')", allow_module_level=True)

from regbench_plugins import elastix
from regbench_plugins.elastix_map import parameter_map

REPEATS = int(os.environ.get("REGBENCH_ELASTIX_REPEATS", "5"))
CASES = tuple(os.environ.get("REGBENCH_ELASTIX_CASES", "synth2d-affine,synth2d-rigid-mi").split(","))
TARGET = 1.05


def test_first_use_cost_per_worker():
    code = "import time; t = time.perf_counter(); import itk; itk.ElastixRegistrationMethod; "
    code += "print(time.perf_counter() - t)"
    seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    print(f"\nfirst use of itk-elastix in a fresh process: {seconds:.1f} s (load {os.getloadavg()[0]:.2f})")
    assert seconds > 0


def _direct(itk, ctx, pmap, start) -> float:
    """One direct elastix call (images already in itk), its wall time."""
    fixed, moving = elastix._to_itk(itk, ctx.fixed), elastix._to_itk(itk, ctx.moving)
    parameters = itk.ParameterObject.New()
    parameters.AddParameterMap({k: list(v) for k, v in pmap.items()})
    with tempfile.TemporaryDirectory() as out:
        path = str(Path(out) / "start.tfm")
        sitk.WriteTransform(start, path)
        initial = itk.transformread(path)[0]
        began = time.perf_counter()
        itk.elastix_registration_method(
            fixed,
            moving,
            parameter_object=parameters,
            external_initial_transform=initial,
            number_of_threads=1,
            log_to_console=False,
        )
        return time.perf_counter() - began


@pytest.mark.parametrize("case_name", CASES)
def test_regbench_against_a_direct_elastix_call(case_name):
    pm = regbench.make_plugin_manager()
    strategy, reference = pm.get_strategy("elastix-asgd"), pm.get_strategy("rsgd")
    case = pm.get_case(case_name)
    strategy.prepare_process()
    itk = elastix._itk()
    ours, updates, direct, theirs, errors = [], [], [], [], {}
    for _ in range(REPEATS):
        record, params = new_record(strategy, case, 1, None, 1)
        execute_record(record, strategy, case, params, pm, evaluate_later=True)
        assert record.status == "ok", record.error
        ours.append(record.wall_time_s)
        updates.append(record.segments[0].wall_time_s)
        errors["elastix-asgd"] = record.error_mean
        ctx = regbench.RunContext(case.for_seed(1), 1, 1, pm, regbench.RunRecord("x", case_name, 1))
        with itk_globals(1):
            start = ctx.new_method().GetInitialTransform()
        fixed = ctx.fixed
        pmap = parameter_map(ctx.setup, fixed.GetSize(), fixed.GetSpacing(), strategy.optimizer, 256, 2, False)
        direct.append(_direct(itk, ctx, pmap, start))
        record, params = new_record(reference, case, 1, None, 1)
        execute_record(record, reference, case, params, pm, evaluate_later=True)
        theirs.append(record.wall_time_s)
        errors["rsgd"] = record.error_mean
    ratio = statistics.median(ours) / statistics.median(direct)
    print(
        f"\n{case_name}: regbench elastix-asgd {statistics.median(ours):.3f} s, direct elastix "
        f"{statistics.median(direct):.3f} s: {ratio:.3f}× (target ≤ {TARGET}; elastix's Update in regbench, logging to "
        f"a file: {statistics.median(updates):.3f} s); SimpleITK rsgd through regbench "
        f"{statistics.median(theirs):.3f} s; error elastix-asgd {errors['elastix-asgd']:.4f}, rsgd {errors['rsgd']:.4f}"
        f" (medians of {REPEATS}, load {os.getloadavg()[0]:.2f})"
    )
    assert ratio > 0
