"""The matrix: which runs a selection means (strategies × parameter grid × cases × seeds), each with its key.

Names are glob patterns. With no case pattern the suite is the default one (cases marked ``default`` that can
run here), or the cases of the user case files when some are given. Every problem is a :class:`MatrixError`
naming the pattern, parameter or file at fault and the valid choices: the CLI turns it into a usage error.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import numbers
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regbench.cases.case import Case, CaseError
from regbench.plugin.manager import RegbenchPluginManager, name_problem
from regbench.run import MAX_SEED, new_record
from regbench.runner.executors import PlannedRun
from regbench.runner.worker import RunSpec, load_case_file
from regbench.strategy import ParameterError, Strategy
from regbench.util.names import MatrixError, select
from regbench.util.names import split_patterns as split_patterns  # re-export: the CLI and docs import it from here


@dataclass(frozen=True)
class ParamEntry:
    """One parameter setting: ``value`` is a command-line string ("0.5,1,2": a grid) or a run-file value (a
    list is a grid, except for a sequence-valued parameter where a list of lists is)."""

    qualifier: str | None  # strategy glob, or None for every selected strategy
    name: str
    value: Any
    source: str  # where it was given, for messages
    from_cli: bool = False  # a command-line string: commas separate grid values

    @property
    def label(self) -> str:
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass
class Matrix:
    """What to run, as the user said it."""

    strategies: Sequence[str] = ()  # glob patterns; none: every strategy
    cases: Sequence[str] = ()  # glob patterns; none: the default suite (or the case files' cases)
    case_files: Sequence[str] = ()
    seeds: Sequence[int] = (0,)
    params: Sequence[ParamEntry] = field(default_factory=list)
    repeats: int = 1  # executions of every key: repeat 0 (the plain key) to repeats - 1, each stored


def parse_param_option(text: str, source: str = "--param") -> ParamEntry:
    """``[STRATEGY.]NAME=VALUE[,VALUE...]`` (the strategy may be a glob)."""
    lhs, sep, value = text.partition("=")
    qualifier, dot, name = lhs.strip().rpartition(".")
    if not sep or not name.strip() or not value.strip() or (dot and not qualifier):
        raise MatrixError(f"{source}: expected [STRATEGY.]NAME=VALUE[,VALUE...], got {text!r}")
    return ParamEntry(qualifier or None, name.strip(), value.strip(), f"{source} {lhs.strip()}", from_cli=True)


def plan(matrix: Matrix, pm: RegbenchPluginManager, threads: int) -> list[PlannedRun]:
    """Every run of the matrix with its key, duplicates (equal after parsing) removed, in a stable order.

    With ``matrix.repeats`` = K, each (strategy, parameters, case, seed) is planned K times, repeats 0 to K−1
    next to each other; repeat 0 has the plain key, so runs stored without repeats count as repeat 0.
    """
    bad = [
        s for s in matrix.seeds if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s <= MAX_SEED
    ]
    if bad or not matrix.seeds:
        raise MatrixError(f"seeds must be integers from 0 to {MAX_SEED}, not {bad[0]!r}" if bad else "no seeds given")
    repeats = matrix.repeats
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise MatrixError(f"repeats must be an integer ≥ 1, not {repeats!r}")
    strategies = _select_strategies(matrix, pm)
    cases = _select_cases(matrix, pm)
    grids = {s.name: _grid(s, matrix.params, [x.name for x in strategies]) for s in strategies}
    runs: dict[str, PlannedRun] = {}
    for strategy in strategies:
        for point in grids[strategy.name]:
            for case, case_file in cases:
                for seed in matrix.seeds:
                    for repeat in range(int(repeats)):
                        record, _ = new_record(strategy, case, seed, point, threads, repeat)
                        spec = RunSpec(
                            record.key, strategy.name, case.name, int(seed), threads, record.params, case_file, repeat
                        )
                        runs.setdefault(record.key, PlannedRun(spec, record))
    return list(runs.values())


def case_pool(pm: RegbenchPluginManager, case_files: Sequence[str]) -> dict[str, tuple[Case, str | None]]:
    """The registered cases and those of the user case files, each with the file it comes from (None for a
    registered case), registered ones first. A file's case may not reuse a name."""
    pool: dict[str, tuple[Case, str | None]] = {name: (case, None) for name, case in pm.cases().items()}
    for path in case_files:
        resolved = str(Path(path).resolve())
        try:
            file_cases = load_case_file(resolved)
        except CaseError as exc:
            raise MatrixError(str(exc)) from exc
        for case in file_cases:
            problem = name_problem(case.name, "case")
            if problem:
                raise MatrixError(f"{path}: {problem}")
            if case.name in pool:
                where = pool[case.name][1] or "a plugin"
                raise MatrixError(f"{path}: case {case.name!r} is already defined by {where}; rename it")
            pool[case.name] = (case, resolved)
    return pool


def _select_strategies(matrix: Matrix, pm: RegbenchPluginManager) -> list[Strategy]:
    """The strategies the patterns name (every one by default) that can run here; a pattern that names only
    unavailable ones is refused with their reasons (e.g. an engine not installed), as for cases."""
    pool = pm.strategies()
    chosen: list[str] = []
    for pattern in matrix.strategies or ["*"]:
        matched = select(pool, [pattern], "strategy")
        usable = [n for n in matched if not pool[n].unavailable]
        if not usable and matrix.strategies:
            reasons = "; ".join(f"{n}: {pool[n].unavailable}" for n in matched)
            raise MatrixError(f"--strategy {pattern!r}: every matching strategy is unavailable here ({reasons})")
        chosen += [n for n in usable if n not in chosen]
    return [pool[n] for n in chosen]


def _select_cases(matrix: Matrix, pm: RegbenchPluginManager) -> list[tuple[Case, str | None]]:
    pool = case_pool(pm, matrix.case_files)
    from_files = [name for name, (_, file) in pool.items() if file is not None]
    if not matrix.cases:
        names = from_files or [n for n, (c, file) in pool.items() if file is None and c.default and not c.unavailable]
        if not names:
            raise MatrixError("no default case can run here; choose cases with --case (see `regbench list`)")
        return [pool[n] for n in names]
    chosen = []
    for pattern in matrix.cases:
        matched = select(pool, [pattern], "case")
        usable = [n for n in matched if not pool[n][0].unavailable]
        if not usable:
            reasons = "; ".join(f"{n}: {pool[n][0].unavailable}" for n in matched)
            raise MatrixError(f"--case {pattern!r}: every matching case is unavailable here ({reasons})")
        chosen += [n for n in usable if n not in chosen]
    return [pool[n] for n in chosen]


def _grid(strategy: Strategy, entries: Sequence[ParamEntry], selected: list[str]) -> list[dict[str, Any]]:
    """The cartesian product of the strategy's parameter values; strategy-qualified entries win."""
    for entry in entries:
        if entry.qualifier and not any(fnmatch.fnmatchcase(n, entry.qualifier) for n in selected):
            raise MatrixError(
                f"{entry.source}: no selected strategy matches {entry.qualifier!r}; selected: {', '.join(selected)}"
            )
    mine = [e for e in entries if e.qualifier is None] + [
        e for e in entries if e.qualifier and fnmatch.fnmatchcase(strategy.name, e.qualifier)
    ]
    axes: dict[str, tuple[ParamEntry, list[Any]]] = {}
    for entry in mine:
        axes[entry.name] = (entry, _values(strategy, entry))
    points = []
    for combo in itertools.product(*(values for _, values in axes.values())):
        point = dict(zip(axes, combo, strict=True))
        try:
            parsed = strategy.parse_params(point)
        except ParameterError as exc:
            sources = ", ".join(entry.source for entry, _ in axes.values())
            raise MatrixError(f"{exc} (from {sources})") from exc
        _check_int_range(strategy, parsed, axes)
        points.append(point)
    return points


#: The largest integer a parameter may hold: ITK takes counts (iterations, evaluations, corrections) as 32-bit
#: integers, so a larger one fails in every run (an OverflowError) instead of meaning "no limit".
MAX_PARAM_INT = 2**31 - 1


def _check_int_range(strategy: Strategy, parsed: Any, axes: dict[str, tuple[ParamEntry, list[Any]]]) -> None:
    for f in dataclasses.fields(parsed):
        value = getattr(parsed, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_PARAM_INT:
                source = axes[f.name][0].source if f.name in axes else f"{strategy.name} default"
                raise MatrixError(
                    f"{source}: {strategy.name}: {f.name} {item!r} is out of range: at most {MAX_PARAM_INT} "
                    "(ITK counts are 32-bit integers)"
                )


def _values(strategy: Strategy, entry: ParamEntry) -> list[Any]:
    value, sequence = entry.value, _is_sequence_param(strategy, entry.name)
    if entry.from_cli:
        values = [value] if sequence else [v.strip() for v in value.split(",")]
    elif isinstance(value, list):
        values = value if not sequence or all(isinstance(v, list) for v in value) else [value]
    else:
        values = [value]
    if not values or any(v == "" for v in values):
        raise MatrixError(f"{entry.source}: empty value in {entry.value!r}")
    return values


def _is_sequence_param(strategy: Strategy, name: str) -> bool:
    fields = {f.name for f in dataclasses.fields(strategy.Params)}
    if name not in fields:
        return False  # parse_params reports the unknown name with the valid ones
    hint = typing.get_type_hints(strategy.Params)[name]
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return any(t is tuple or typing.get_origin(t) in (tuple, Sequence) for t in options)
