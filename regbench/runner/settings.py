"""The TOML run file (``regbench run --config run.toml``): the same choices as the command-line options.

strategies = ["gd*", "lbfgs2"]       # glob patterns (a string is one pattern)
cases = ["synth2d-*"]
case_files = ["my-cases.toml"]       # relative to this file
seeds = 3                            # seeds 0, 1, 2; or seed = [1, 5, 9]
repeat = 1                           # executions of every run (> 1: measure how much a setup moves)
workers = 2
threads = 1
timeout = 120                        # seconds per run (0: no limit)
store = "results.sqlite"             # relative to this file
plugins = ["my_project.regbench_plugin"]
executor = "local"                   # or "dask", with scheduler = "tcp://host:8786"
race = true                          # race the strategies (regbench run --race), race_alpha = 0.05

[cluster]                            # regbench run --cluster slurm|pbs|sge (regbench.runner.cluster)
type = "slurm"                       # or give --cluster; cores, memory, walltime, queue, jobs, ...

[params]
number_of_iterations = 50            # every selected strategy
[params.gd]
learning_rate = [0.5, 1.0, 2.0]      # a list is a grid (a list of lists for a sequence parameter)
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regbench.run import DEFAULT_THREADS, MAX_SEED
from regbench.runner.cluster import ClusterSpec, cluster_spec, with_kind
from regbench.runner.matrix import Matrix, MatrixError, ParamEntry, parse_param_option, split_patterns
from regbench.runner.run_matrix import DEFAULT_TIMEOUT_S, default_workers
from regbench.store.sqlite import DEFAULT_STORE
from regbench.util.toml_lines import RUN_FILE_KEYS, TomlLines, read_toml_text

if TYPE_CHECKING:
    from regbench.runner.executors import PlannedRun

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class RunFile:
    """What a run file sets; None (or empty) where it is silent."""

    strategies: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    case_files: list[str] = field(default_factory=list)
    seeds: list[int] | None = None
    repeat: int | None = None
    params: list[ParamEntry] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    plugins_at: str | None = None  # "file:line: plugins", for a message about one of them
    workers: int | None = None
    threads: int | None = None
    timeout: float | None = None
    store: str | None = None
    executor: str | None = None
    scheduler: str | None = None
    race: bool | None = None
    race_alpha: float | None = None
    cluster: ClusterSpec | None = None


#: Upper bounds of the run file's (and the command line's) numbers: beyond them a value is a typo, not a choice.
MAX_THREADS = 1024
MAX_WORKERS = 4096
MAX_COUNT = MAX_SEED  # a seed
MAX_SEEDS = 100_000  # a count of seeds
MAX_REPEATS = 10_000
MAX_TIMEOUT_S = 366 * 24 * 3600.0  # a year; 0 means no limit


def text_line(path: Path, offset: int) -> int:
    """The 1-based line of byte ``offset`` in a file."""
    try:
        return path.read_bytes()[:offset].count(b"\n") + 1
    except OSError:
        return 1


KEYS = RUN_FILE_KEYS


def load_run_file(path: str | Path) -> RunFile:
    """Read and check a run file; every problem is a :class:`MatrixError` naming the file, the line and the key."""
    path = Path(path)
    try:
        text = read_toml_text(path)
        data = tomllib.loads(text)
    except OSError as exc:
        raise MatrixError(f"{path}: cannot read the run file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        line = text_line(path, exc.start)
        raise MatrixError(f"{path}:{line}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise MatrixError(f"{path}: not valid TOML: {exc}") from exc
    where = _Where(path, text)
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise MatrixError(f"{where(unknown[0])}: unknown key {', '.join(map(repr, unknown))}; valid: {', '.join(KEYS)}")
    if "seeds" in data and "seed" in data:
        raise MatrixError(f"{where('seed')}: give seeds (a count) or seed (a list), not both")
    here = path.parent

    def get(key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = data.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise MatrixError(f"{where(key)}: {key} must be {what}, not {value!r}")
        return value

    def at_least(key: str, value: Any, low: int, high: float = MAX_COUNT) -> Any:
        if value is not None and isinstance(value, float) and not math.isfinite(value):
            raise MatrixError(f"{where(key)}: {key} must be a finite number, not {value!r}")
        if value is not None and value < low:
            raise MatrixError(f"{where(key)}: {key} must be {'positive' if low else '≥ 0'}, not {value!r}")
        if value is not None and value > high:
            raise MatrixError(f"{where(key)}: {key} must be at most {high:.15g}, not {value!r}")
        return value

    out = RunFile(
        strategies=_names(where, data, "strategies"),
        cases=_names(where, data, "cases"),
        case_files=_case_files(where, path, _names(where, data, "case_files")),
        plugins=_names(where, data, "plugins"),
        plugins_at=f"{where('plugins')}: plugins",
        workers=at_least("workers", get("workers", int, "a positive integer"), 1, MAX_WORKERS),
        threads=at_least("threads", get("threads", int, "a positive integer"), 1, MAX_THREADS),
        repeat=at_least("repeat", get("repeat", int, "a positive integer (executions of every run)"), 1, MAX_REPEATS),
        timeout=at_least(
            "timeout", get("timeout", (int, float), "a number of seconds (0: no limit)"), 0, MAX_TIMEOUT_S
        ),
        store=str(here / data["store"]) if get("store", str, "a path") else None,
        executor=get("executor", str, '"local" or "dask"'),
        scheduler=get("scheduler", str, "an address like tcp://host:8786"),
        params=_params(path, get("params", dict, "a table")),
        race=_flag(where, data, "race"),
        race_alpha=_level(where, get("race_alpha", float, "a level between 0 and 1, e.g. 0.05")),
        cluster=_cluster(where, get("cluster", dict, "a table ([cluster])")),
    )
    if "seeds" in data:
        out.seeds = list(range(at_least("seeds", get("seeds", int, "a positive integer (a count)"), 1, MAX_SEEDS)))
    elif "seed" in data:
        seed = data["seed"]
        seeds = seed if isinstance(seed, list) else [seed]
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise MatrixError(f"{where('seed')}: seed must be an integer or a list of integers, not {seed!r}")
        for value in seeds:
            at_least("seed", value, 0)
        out.seeds = seeds
    return out


def _flag(where: _Where, data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise MatrixError(f"{where(key)}: {key} must be true or false, not {value!r}")
    return value


def _level(where: _Where, value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise MatrixError(f"{where('race_alpha')}: race_alpha must be between 0 and 1, not {value!r}")
    return value


def _cluster(where: _Where, table: dict[str, Any] | None) -> ClusterSpec | None:
    if table is None:
        return None
    start = where.toml.key("cluster") or 0

    def at(key: str) -> str:  # the key's first line after the [cluster] header
        line = where.toml.key(key, start + 1)
        return where.toml.at(start if line is None else line)

    return cluster_spec(table, at)


class _Where:
    """``file:line`` of a top-level key of a run file, for messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.toml = TomlLines(path, text)
        tables = self.toml.matching(_TABLE)
        self.end = tables[0] if tables else len(self.toml.lines)  # past the top-level keys: [params] and its tables

    def __call__(self, key: str, needle: str | None = None) -> str:
        """Where ``key`` is assigned; with ``needle``, the line of its (possibly multi-line) value holding it."""
        line = self.toml.key(key, 0, self.end)
        if line is not None and needle:
            held = self.toml.holding(needle, line)
            line = line if held is None else held
        return self.toml.at(line)


_TABLE = re.compile(r"^\s*\[")


def _names(where: _Where, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MatrixError(f"{where(key)}: {key} must be a string or a list of strings, not {value!r}")
    return value


def _case_files(where: _Where, run_file: Path, names: list[str]) -> list[str]:
    """The case files, relative to the run file; a missing one, or the run file itself, is named with its line."""
    paths = []
    for name in names:
        path = run_file.parent / name
        if not path.is_file():
            raise MatrixError(f"{where('case_files', name)}: case_files entry {name!r}: no such file ({path})")
        if path.resolve() == run_file.resolve():
            raise MatrixError(
                f"{where('case_files', name)}: case_files entry {name!r} is this run file itself: case_files "
                "lists case files (TOML files of [[case]] tables), not run files"
            )
        paths.append(str(path))
    return paths


def _params(path: Path, table: dict[str, Any] | None) -> list[ParamEntry]:
    entries = []
    for name, value in (table or {}).items():
        if isinstance(value, dict):
            entries += [ParamEntry(name, k, v, f"{path} [params.{name}] {k}") for k, v in value.items()]
        else:
            entries.append(ParamEntry(None, name, value, f"{path} [params] {name}"))
    return entries


@dataclass
class Settings:
    """The command line over the run file over the defaults."""

    matrix: Matrix
    plugins: tuple[str, ...]
    workers: int | None  # None: not chosen (as many as the cores hold)
    threads: int | None  # None: not chosen (DEFAULT_THREADS applies)
    timeout: float | None  # None: not chosen (DEFAULT_TIMEOUT_S applies); 0: no limit
    executor: str
    scheduler: str | None
    store: str
    in_process: bool = False  # --in-process: no worker process, no isolation, no timeout
    plugins_from: str = "--plugin"  # where :attr:`plugins` were given: the option, or the run file's key
    race: bool = False  # --race: the matrix in rounds, dropping what cannot be recommended (regbench.cli.race)
    race_alpha: float | None = None  # --race-alpha: the level of the race's paired tests (None: the default)
    cluster: ClusterSpec | None = None  # --cluster: a batch cluster started for the run (with executor "dask")

    @property
    def run_threads(self) -> int:
        """ITK threads per run."""
        return self.threads or DEFAULT_THREADS

    @property
    def run_workers(self) -> int:
        """Worker processes: as chosen, else as many as the cores hold at :attr:`run_threads` each."""
        return self.workers or default_workers(self.run_threads)

    @property
    def run_timeout(self) -> float | None:
        """Seconds per run, None for no limit (always with --in-process: nothing could stop a run here)."""
        if self.in_process:
            return None
        return (DEFAULT_TIMEOUT_S if self.timeout is None else self.timeout) or None

    def single(self, runs: list[PlannedRun]) -> bool:
        """One run on this machine: shown in full (the per-level table), in its own worker process unless
        --in-process."""
        return len(runs) == 1 and self.executor == "local" and not self.race


def merge_settings(
    *,
    strategies,
    cases,
    case_files,
    seed_list,
    seeds,
    params,
    repeats,
    config,
    workers,
    threads,
    timeout,
    executor,
    scheduler,
    plugins,
    store,
    in_process=False,
    race=False,
    race_alpha=None,
    cluster=None,
) -> Settings:
    """The command line over the run file (``config``) over the defaults; a bad combination is a
    :class:`MatrixError` naming the options."""
    file = load_run_file(config) if config else RunFile()
    if seed_list and seeds:
        raise MatrixError("give --seeds N or --seed S (repeatable), not both")
    chosen_seeds = list(seed_list) or (list(range(seeds)) if seeds else None) or file.seeds or [0]
    entries = {(e.qualifier, e.name): e for e in file.params}
    given = set()
    for text in params:
        entry = parse_param_option(text)
        if (entry.qualifier, entry.name) in given:
            raise MatrixError(f"--param {entry.label} is given twice; list its values once: {entry.label}=V1,V2")
        given.add((entry.qualifier, entry.name))
        entries[(entry.qualifier, entry.name)] = entry
    if race_alpha is not None and not (race or file.race):  # a level alone would be ignored without a word
        raise MatrixError("--race-alpha sets the level of a race: give --race too (or race = true in the run file)")
    if file.race_alpha is not None and not (race or file.race):
        raise MatrixError(f"{config}: race_alpha sets the level of a race: add race = true (or give --race)")
    batch = _batch(file, cluster, executor, scheduler, workers, threads, in_process)
    executor = "dask" if batch else executor or file.executor or ("dask" if scheduler or file.scheduler else "local")
    if executor not in ("local", "dask"):
        raise MatrixError(f"{config}: executor must be 'local' or 'dask', not {executor!r}")
    scheduler = scheduler or file.scheduler
    if scheduler and executor != "dask":
        raise MatrixError("--scheduler needs --executor dask")
    if in_process:
        clashes = [
            name
            for name, value in (("--executor dask", executor == "dask"), ("--workers", workers), ("--timeout", timeout))
            if value
        ]
        if clashes:
            raise MatrixError(f"--in-process runs here, one run after the other, without a timeout: drop {clashes[0]}")
    matrix = Matrix(
        strategies=split_patterns(strategies) or file.strategies,
        cases=split_patterns(cases) or file.cases,
        case_files=list(case_files) or file.case_files,
        seeds=chosen_seeds,
        params=list(entries.values()),
        repeats=repeats or file.repeat or 1,
    )
    return Settings(
        matrix=matrix,
        plugins=tuple(plugins) or tuple(file.plugins),
        workers=workers or file.workers,
        threads=threads or file.threads,
        timeout=timeout if timeout is not None else file.timeout,
        executor=executor,
        scheduler=scheduler,
        store=store or file.store or DEFAULT_STORE,
        in_process=in_process,
        plugins_from="--plugin" if plugins or not file.plugins_at else file.plugins_at,
        race=bool(race or file.race),
        race_alpha=race_alpha or file.race_alpha,
        cluster=batch,
    )


def _batch(file: RunFile, kind, executor, scheduler, workers, threads, in_process) -> ClusterSpec | None:
    """The batch cluster to start (``--cluster`` over the run file's ``[cluster] type``), None without one."""
    spec = with_kind(file.cluster, kind)
    if spec is None:
        return None
    given = f"--cluster {kind}" if kind else "[cluster] type"
    if in_process:
        raise MatrixError(f"--in-process runs here, one run after the other: drop {given}")
    if scheduler or file.scheduler:
        raise MatrixError(f"{given} starts its own Dask scheduler for the batch jobs: drop --scheduler")
    if executor == "local" or (not kind and file.executor == "local"):
        raise MatrixError(f"{given} runs on Dask workers in batch jobs: drop executor local")
    workers = workers or file.workers
    if workers and (spec.jobs or spec.adaptive):
        raise MatrixError(
            f"workers ({workers}, Dask workers in all) and [cluster] {'maximum_jobs' if spec.adaptive else 'jobs'} "
            "both say how many workers to start: give one"
        )
    return dataclasses.replace(spec, threads=threads or file.threads or DEFAULT_THREADS, workers=workers)
