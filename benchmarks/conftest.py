"""pytest-benchmark over registered strategies × cases, carrying regbench's quality figures.

Each registration runs once (``benchmark.pedantic``, one round) in an isolated worker process, as ``regbench run``
runs it: a strategy that segfaults or hangs becomes a ``crashed`` or ``timeout`` result and the session goes on.
The time pytest-benchmark records is the run's own wall time, measured inside the worker (the timer of these
benchmarks is :func:`worker_clock`), so neither the worker's start nor the message to it is counted.
``--regbench-in-process`` runs them in the pytest process instead (no isolation, same clock).
``benchmark.extra_info`` holds the run's summary under the stable names of :data:`EXTRA_INFO_FIELDS` (strict JSON:
null, never NaN), the saved JSON gets a versioned top-level ``"regbench"`` block, and the session ends with a
quality table: the columns pytest-benchmark's own table cannot show. A broken installed plugin stops the session
before it starts (a usage error naming it and how to skip it), as it stops ``regbench run``.

Choose what runs (comma-separated names or glob patterns; default: every strategy × the default cases)::

    pytest benchmarks/ --regbench-strategies 'gd,lbfgs*' --regbench-cases synth2d-translation
    REGBENCH_BENCH_STRATEGIES=gd REGBENCH_BENCH_CASES='synth2d-*' pytest benchmarks/ --benchmark-json out.json
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from regbench.plugin.manager import RegbenchPluginManager, make_plugin_manager
from regbench.record import RunRecord, to_jsonable
from regbench.run import execute_record, new_record
from regbench.runner.isolation import IsolatedWorker, Lost, RunnerError, lost_record, run_isolated
from regbench.runner.run_matrix import DEFAULT_TIMEOUT_S
from regbench.runner.worker import RunSpec
from regbench.util.names import MatrixError, select, split_patterns

#: Version of the extra_info fields and of the "regbench" block; bump when a name changes meaning.
SCHEMA_VERSION = 1

#: RunRecord field -> extra_info name. pytest-benchmark's own "iterations" is its timing-loop count, so the
#: optimizer's iterations are ``optimizer_iterations``.
EXTRA_INFO_FIELDS = {
    "strategy": "strategy",
    "case": "case",
    "seed": "seed",
    "threads": "threads",
    "params": "params",
    "status": "status",
    "error": "error",
    "iterations": "optimizer_iterations",
    "stop_condition": "stop_condition",
    "instance": "instance",
    "repeat": "repeat",
    "deterministic": "deterministic",
    "flags": "flags",
    "overlap_fraction": "overlap_fraction",
    "regret_metric_dense": "regret_metric_dense",
    "stop_category": "stop_category",
    "outcome": "outcome",
    "registered": "registered",
    "tolerance": "tolerance",
    "accuracy": "accuracy",
    "rounding_failure": "rounding_failure",
    "hit_iteration_limit": "hit_iteration_limit",
    "final_metric": "final_metric",
    "initial_metric_dense": "initial_metric_dense",
    "final_metric_dense": "final_metric_dense",
    "returned_best": "returned_best",
    "initial_error_mean": "initial_error_mean",
    "error_mean": "error_mean",
    "error_p95": "error_p95",
    "error_max": "error_max",
    "error_mean_fg": "error_mean_fg",
    "jacobian_min": "jacobian_min",
    "folding_fraction": "folding_fraction",
    "wall_time_s": "wall_time_s",
    "cpu_time_s": "cpu_time_s",
    "measures": "measures",
    "key": "run_key",
}

_ENV = {"strategies": "REGBENCH_BENCH_STRATEGIES", "cases": "REGBENCH_BENCH_CASES"}

# The benchmarks' clock: it advances only by what the runs measured themselves, inside their worker process.
_WORKER_SECONDS = [0.0]


def worker_clock() -> float:
    """pytest-benchmark's timer for the registration benchmarks: seconds of run time measured in the workers."""
    return _WORKER_SECONDS[0]


def extra_info(record: RunRecord) -> dict[str, Any]:
    """The record's summary under the stable extra_info names, strict-JSON clean."""
    data = record.to_dict()
    return {name: to_jsonable(data.get(field_name)) for field_name, name in EXTRA_INFO_FIELDS.items()}


@dataclass
class BenchSession:
    """What the suites share: the plugin manager, the run settings, the worker and the records for the table."""

    pm: RegbenchPluginManager
    seed: int
    threads: int | None
    in_process: bool = False
    timeout: float | None = DEFAULT_TIMEOUT_S
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (strategy, case) names selected
    records: list[tuple[str, RunRecord]] = field(default_factory=list)
    extra_info_fields: tuple[str, ...] = tuple(EXTRA_INFO_FIELDS.values())
    worker: IsolatedWorker | None = None

    def add(self, name: str, record: RunRecord) -> dict[str, Any]:
        """Keep ``record`` for the quality table; return its extra_info."""
        self.records.append((name, record))
        return extra_info(record)

    def start(self) -> None:
        """Start the worker process (outside any timed call); a no-op in-process or when it is running."""
        if not self.in_process and self.worker is None:
            self.worker = IsolatedWorker()
            self.worker.start()

    def run(self, strategy: str, case: str) -> RunRecord:
        """One registration, in the worker (respawned after a crash) or here; advances :func:`worker_clock` by
        the run's own wall time."""
        strategy_obj, case_obj = self.pm.get_strategy(strategy), self.pm.get_case(case)
        record, parsed = new_record(strategy_obj, case_obj, self.seed, None, self.threads)
        if self.in_process:
            record = execute_record(record, strategy_obj, case_obj, parsed, self.pm)
        else:
            self.start()
            spec = RunSpec(record.key, strategy, case, record.seed, record.threads, record.params)
            try:
                result = run_isolated(self.worker, spec, self.timeout)
            except RunnerError as exc:
                pytest.fail(f"the benchmark's worker failed: {exc}")
            record = lost_record(record, result, self.pm) if isinstance(result, Lost) else result
        _WORKER_SECONDS[0] += record.wall_time_s or 0.0
        return record

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


_SESSION = pytest.StashKey[BenchSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("regbench", "regbench benchmarks")
    group.addoption(
        "--regbench-strategies",
        default=os.environ.get(_ENV["strategies"], ""),
        help=f"strategy names or globs, comma-separated (env {_ENV['strategies']}; default: all)",
    )
    group.addoption(
        "--regbench-cases",
        default=os.environ.get(_ENV["cases"], ""),
        help=f"case names or globs, comma-separated (env {_ENV['cases']}; default: the default cases)",
    )
    group.addoption("--regbench-seed", type=int, default=0, help="seed of every run (default 0)")
    group.addoption(
        "--regbench-threads",
        type=int,
        default=None,
        help="ITK threads per run (default: 1, so records reproduce bit for bit)",
    )
    group.addoption(
        "--regbench-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds per run before its worker is killed and it is recorded as timeout (0: none; default "
        f"{DEFAULT_TIMEOUT_S:g})",
    )
    group.addoption(
        "--regbench-in-process",
        action="store_true",
        help="run the registrations in the pytest process, not in an isolated worker (a crash ends the session)",
    )


def _session(config: pytest.Config) -> BenchSession:
    if _SESSION not in config.stash:
        pm = make_plugin_manager(strict=False)
        pm.strategies()
        pm.cases()
        if pm.broken:
            raise pytest.UsageError("\n".join(b.message for b in pm.broken))
        threads = config.getoption("--regbench-threads")
        if threads is not None and threads < 1:
            raise pytest.UsageError(f"--regbench-threads must be ≥ 1, got {threads}")
        timeout = config.getoption("--regbench-timeout")
        if timeout < 0:
            raise pytest.UsageError(f"--regbench-timeout must be ≥ 0, got {timeout:g}")
        config.stash[_SESSION] = BenchSession(
            pm,
            config.getoption("--regbench-seed"),
            threads,
            in_process=config.getoption("--regbench-in-process"),
            timeout=timeout or None,
        )
    return config.stash[_SESSION]


def _select(option: str, patterns: str, names: list[str], kind: str, default: list[str]) -> list[str]:
    """The names the option's comma-separated patterns choose, by the rule of ``regbench run`` (none: ``default``)."""
    wanted = split_patterns([patterns])
    if not wanted:
        return default
    try:
        return select(names, wanted, kind)
    except MatrixError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from exc


def pytest_configure(config: pytest.Config) -> None:
    # Resolve the selection now, so that a bad name is a usage error (exit 4) rather than a collection error.
    session = _session(config)
    strategies = list(session.pm.strategies())
    cases = session.pm.cases()
    default_cases = [name for name, case in cases.items() if case.default and not case.unavailable]
    chosen_strategies = _select(
        "--regbench-strategies", _option(config, "strategies"), strategies, "strategy", strategies
    )
    chosen_cases = _select("--regbench-cases", _option(config, "cases"), list(cases), "case", default_cases)
    session.pairs = [(s, c) for s in chosen_strategies for c in chosen_cases]


def _option(config: pytest.Config, name: str) -> str:
    return config.getoption(f"--regbench-{name}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Registration benchmarks are timed by :func:`worker_clock` (the run's own time, measured in the worker).
    No benchmark has the tests' 300 s limit: several run the whole default suite; registration benchmarks are
    limited per run by --regbench-timeout instead."""
    for item in items:
        if "regbench_bench" in getattr(item, "fixturenames", ()) and item.get_closest_marker("benchmark") is None:
            item.add_marker(pytest.mark.benchmark(timer=worker_clock))
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(0))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests that take ``regbench_strategy`` and ``regbench_case`` (names; ids ``<strategy>-<case>``)."""
    if not {"regbench_strategy", "regbench_case"} <= set(metafunc.fixturenames):
        return
    pairs = _session(metafunc.config).pairs
    metafunc.parametrize(("regbench_strategy", "regbench_case"), pairs, ids=[f"{s}-{c}" for s, c in pairs])


@pytest.fixture(scope="session")
def regbench_bench(pytestconfig: pytest.Config) -> BenchSession:
    """The shared plugin manager, seed, threads and collected records."""
    return _session(pytestconfig)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    """Add a versioned "regbench" block to pytest-benchmark's saved JSON."""
    from regbench.version import versions

    output_json["regbench"] = {
        "schema": SCHEMA_VERSION,
        "versions": versions(),
        "extra_info_fields": list(EXTRA_INFO_FIELDS.values()),
    }


_COLUMNS = (
    ("benchmark", 0),
    ("outcome", 0),
    ("iters", 1),
    ("rounding", 0),
    ("dense metric initial → final", 1),
    ("error mean (fg)", 1),
    ("best?", 0),
    ("run s", 1),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _row(name: str, r: RunRecord) -> list[str]:
    fg = f" ({_fmt(r.error_mean_fg)})" if r.error_mean_fg is not None else ""
    best = {True: "yes", False: "no", None: "?"}[r.returned_best]
    outcome = r.outcome if r.status == "ok" else f"{r.status}: {(r.error or '')[:40]}"
    return [
        name,
        outcome or "–",
        str(r.iterations),
        "yes" if r.rounding_failure else "",
        f"{_fmt(r.initial_metric_dense)} → {_fmt(r.final_metric_dense)}",
        _fmt(r.error_mean) + fg,
        best,
        _fmt(r.wall_time_s),
    ]


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's timing table
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print what pytest-benchmark's table cannot: how well each benchmarked registration did."""
    session = config.stash.get(_SESSION, None)
    if session is None or not session.records:
        return
    rows = [[title for title, _ in _COLUMNS]] + [_row(name, r) for name, r in session.records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    terminalreporter.write_sep("-", "regbench quality (error in physical units; fg = foreground)")
    for row in rows:
        cells = [c.rjust(w) if right else c.ljust(w) for c, w, (_, right) in zip(row, widths, _COLUMNS, strict=True)]
        terminalreporter.write_line("  ".join(cells).rstrip())
