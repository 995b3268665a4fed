"""Instances: the distinct problems of a set of runs, and a solver's runs on each combined into one value.

A *solver* is a strategy (with its varying parameters). An *instance* is a distinct problem: the record's
``instance`` hash (the case definition, the starting transform and, when the metric is sampled, the sampling
seed), or ``(case, seed)`` for records that predate it. Two seeds with the same instance are copies of one
problem, and ``--repeat`` re-executions are repeats of one run: neither is a new instance. Every statistic that
counts instances (success rates, ERT, ECDFs, profiles, paired tests) first combines a solver's runs on one
instance into one value, their median (:func:`instance_matrix`). Works on :class:`~regbench.report.load.columns.Runs`
columns with numpy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from regbench.evaluation.outcomes import is_failure
from regbench.report.load.columns import Runs


def midpoint(low, high):
    """low/2 + high/2: two no-overlap values (DBL_MAX) do not overflow, and equal values give themselves."""
    with np.errstate(all="ignore"):
        return np.where(low == high, low, np.asarray(low) / 2 + np.asarray(high) / 2)


def group_median(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """The median of ``values`` per group (``codes[i]`` is run i's group): NaN values skipped, NaN for a group
    without any value. Vectorized (one sort), so 10,000 runs cost milliseconds."""
    codes, values = np.asarray(codes, dtype=np.int64), np.asarray(values, dtype=float)
    out = np.full(n_groups, np.nan)
    valid = ~np.isnan(values)
    codes, values = codes[valid], values[valid]
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    low = values[starts[has] + (counts[has] - 1) // 2]
    high = values[starts[has] + counts[has] // 2]
    out[has] = midpoint(low, high)
    return out


def succeeded(runs: Runs) -> np.ndarray:
    """Per run: its outcome is not a failure (:func:`regbench.evaluation.outcomes.is_failure`, the one vocabulary)."""
    return np.array([not is_failure(o) for o in runs["outcome"].tolist()], dtype=bool)


def executed(runs: Runs) -> np.ndarray:
    """Per run: status ``ok`` (it returned a transform), whatever its outcome."""
    return np.asarray(runs["status"] == "ok", dtype=bool)


@dataclass
class Instances:
    """The distinct problems of a set of runs, and which (case, seed) pairs are copies of one another."""

    labels: list[str]  # one per instance: "case seed s" (its lowest seed) or "case seeds s, t" for copies
    case: np.ndarray  # (instances,) the case of each instance
    index: np.ndarray  # (runs,) the instance of every run
    pairs: int  # distinct (case, seed) pairs
    # per case: (first seed, [seeds repeating its problem]) for every instance with more than one seed
    copies: dict[str, list[tuple[int, list[int]]]] = field(default_factory=dict)
    unknown: int = 0  # runs without an instance id, keyed by (case, seed) instead

    def __len__(self) -> int:
        return len(self.labels)

    def summary(self) -> str:
        """How many distinct instances, in a few words: for titles and captions."""
        counted = f"{len(self)} distinct instance" + ("" if len(self) == 1 else "s")
        if len(self) == self.pairs:
            return counted
        return f"{counted} of {self.pairs} case–seed pairs"

    def warning(self) -> str:
        """A line for the console and captions when seeds are copies ("" when every seed is its own instance)."""
        if not self.copies:
            return ""
        by_pattern: dict[str, list[str]] = defaultdict(list)
        for case, groups in sorted(self.copies.items()):
            pattern = "; ".join(_repeats(first, others) for first, others in groups)
            by_pattern[pattern].append(case)
        parts = []
        for pattern, cases in sorted(by_pattern.items(), key=lambda kv: -len(kv[1]))[:3]:
            shown = ", ".join(cases[:4]) + (f" and {len(cases) - 4} more" if len(cases) > 4 else "")
            parts.append(f"{pattern} on {'case' if len(cases) == 1 else 'cases'} {shown}")
        more = len(by_pattern) - 3
        return (
            f"{self.pairs} (case, seed) pairs are {len(self)} distinct instances: "
            + "; ".join(parts)
            + (f"; and {more} other pattern{'s' if more > 1 else ''}" if more > 0 else "")
            + ". Each instance counts once (a solver's runs on it: their median)."
        )


def _repeats(first: int, others: list[int]) -> str:
    seeds = ", ".join(str(s) for s in others)
    return f"seed{'s' if len(others) > 1 else ''} {seeds} repeat{'' if len(others) > 1 else 's'} seed {first}'s problem"


def instances(runs: Runs) -> Instances:
    """The distinct instances of ``runs`` (cached on them).

    A run keys on (case, instance id). A run without an id (an older record) takes the id of the other runs on
    its (case, seed) when they all agree on one, and otherwise keys on (case, seed): never a copy.
    """
    if "instances" in runs._cache:
        return runs._cache["instances"]
    cases = [str(c) for c in runs["case"].tolist()]
    seeds = runs["seed"].tolist()
    ids = runs.columns.get("instance", np.full(len(runs), None, dtype=object)).tolist()
    known: dict[tuple[str, int], set[str]] = defaultdict(set)
    for case, seed, ident in zip(cases, seeds, ids, strict=True):
        if ident is not None:
            known[(case, seed)].add(ident)
    keys, unknown = [], 0
    for case, seed, ident in zip(cases, seeds, ids, strict=True):
        if ident is None:
            unknown += 1
            agreed = known.get((case, seed), set())
            ident = next(iter(agreed)) if len(agreed) == 1 else None
        keys.append((case, ("id", ident) if ident is not None else ("seed", seed)))
    seeds_of: dict[tuple, set[int]] = defaultdict(set)
    for key, seed in zip(keys, seeds, strict=True):
        seeds_of[key].add(seed)
    ordered = sorted(seeds_of, key=lambda k: (k[0], min(seeds_of[k])))
    lookup = {k: i for i, k in enumerate(ordered)}
    labels, copies = [], defaultdict(list)
    for key in ordered:
        group = sorted(seeds_of[key])
        labels.append(f"{key[0]} seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))}")
        if len(group) > 1:
            copies[key[0]].append((group[0], group[1:]))
    result = Instances(
        labels=labels,
        case=np.array([k[0] for k in ordered], dtype=object),
        index=np.array([lookup[k] for k in keys], dtype=np.int64),
        pairs=len(set(zip(cases, seeds, strict=True))),
        copies=dict(copies),
        unknown=unknown,
    )
    runs._cache["instances"] = result
    return result


def instance_index(runs: Runs) -> tuple[list[str], np.ndarray]:
    """The distinct instances (their labels) and, per run, its instance number."""
    found = instances(runs)
    return found.labels, found.index


def solvers_of(runs: Runs) -> tuple[list[str], np.ndarray]:
    """The sorted solvers and each run's index into them."""
    return runs.codes("solver")


def instance_matrix(runs: Runs, values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(instances × solvers): the median of ``values`` over each solver's runs on each instance (repeats and
    copies combined; NaN values skipped); NaN where a solver has no run, or no value, on an instance."""
    solvers, column = solvers_of(runs)
    found = instances(runs)
    codes = column * len(found) + found.index
    matrix = group_median(codes, values, len(solvers) * len(found))
    return solvers, matrix.reshape(len(solvers), len(found)).T


def run_counts(runs: Runs) -> np.ndarray:
    """(instances × solvers): how many runs each solver has on each instance."""
    solvers, column = solvers_of(runs)
    found = instances(runs)
    counts = np.bincount(column * len(found) + found.index, minlength=len(solvers) * len(found))
    return counts.reshape(len(solvers), len(found)).T


def notes(runs: Runs) -> list[str]:
    """Console and caption lines that qualify every statistic: copies among the seeds, runs not known to be
    reproducible, repeats combined, records without instance ids."""
    found = instances(runs)
    out = []
    if found.copies:
        out.append(found.warning())
    if found.unknown:
        out.append(
            f"{found.unknown} runs have no instance id (recorded before regbench kept one): they are keyed by "
            "(case, seed), so copies among their seeds cannot be detected."
        )
    repeats = int((runs["repeat"] > 0).sum()) if "repeat" in runs.columns else 0
    if repeats:
        out.append(f"{repeats} runs are --repeat re-executions: combined with their key's other runs (median).")
    if "deterministic" in runs.columns:
        loose = int((runs["deterministic"] == 0).sum())
        if loose:
            out.append(
                f"{loose} runs are not reproducible (deterministic: false, e.g. Mattes MI with more than one "
                "ITK thread): the same key can give another result; `regbench run --repeat K` measures the spread."
            )
    out.extend(gradient_warnings(runs))
    return out


def gradient_warnings(runs: Runs) -> list[str]:
    """The gradient audit's warning of each case whose records carry one (``provenance["gradient_warning"]``,
    set when the case's metric gradient disagrees with its finite differences): one record read per case."""
    first: dict[str, str] = {}
    for key, case in zip(runs["key"].tolist(), runs["case"].tolist(), strict=True):
        if key and case not in first:
            first[case] = key
    out = []
    for record in runs.records(list(first.values())):
        warning = (record.provenance or {}).get("gradient_warning")
        if warning:
            out.append(f"case {record.case}: {warning}")
    return out
