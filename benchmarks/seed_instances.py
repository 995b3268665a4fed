"""Are seeds distinct instances? Count it from a result store (and compare outcomes with an older store).

    python benchmarks/seed_instances.py STORE [--before OLD_STORE]

For every case: how many distinct ``instance`` keys its seeds have. For every strategy × case (× params): are
the seeds' returned registrations pairwise distinct (the ``transform`` record, bit for bit; records without a
transform compare by ``error_mean`` and ``final_metric_dense``)? Groups with copies are listed with each seed's
status and outcome. With ``--before``, the number of succeeded seeds per group in both stores, and every group
that succeeded on fewer seeds than before.

Reads the SQLite rows directly (only the first repeat of each key), so it works on stores of older versions.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from regbench.evaluation.outcomes import FAILURE_OUTCOMES

FAILURES = set(FAILURE_OUTCOMES)


def load(path: Path) -> list[dict]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        records = [json.loads(text) for (text,) in db.execute("SELECT record FROM runs")]
    finally:
        db.close()
    return [r for r in records if not r.get("repeat")]


def group_key(record: dict) -> tuple[str, str, str]:
    return record["strategy"], record["case"], json.dumps(record.get("params") or {}, sort_keys=True)


def registration(record: dict) -> str:
    """What a run returned, as text that two runs share only when they returned the same thing."""
    if record.get("transform") is not None:
        return json.dumps(record["transform"], sort_keys=True)
    return json.dumps(
        ["no transform", record.get("status"), record.get("error_mean"), record.get("final_metric_dense")]
    )


def succeeded(record: dict) -> bool:
    outcome = record.get("outcome")
    return outcome is not None and outcome not in FAILURES


def groups(records: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        out[group_key(r)].append(r)
    for runs in out.values():
        runs.sort(key=lambda r: r["seed"])
    return dict(sorted(out.items()))


def report(path: Path, before: Path | None) -> int:
    records = load(path)
    by_group = groups(records)
    print(f"{path}: {len(records)} runs, {len(by_group)} strategy × case groups")

    print("\nInstances per case (distinct `instance` keys / seeds):")
    instances: dict[str, dict[int, set]] = defaultdict(lambda: defaultdict(set))
    for r in records:
        instances[r["case"]][r["seed"]].add(r.get("instance"))
    copied_cases = 0
    for case, seeds in sorted(instances.items()):
        keys = {k for ks in seeds.values() for k in ks}
        inconsistent = [s for s, ks in seeds.items() if len(ks) > 1]
        distinct = len(keys) == len(seeds) and None not in keys and not inconsistent
        copied_cases += not distinct
        note = "" if not inconsistent else f"; seeds {inconsistent} have several instance keys"
        print(f"  {case:28s} {len(keys)} / {len(seeds)}{'' if distinct else '  <- copies'}{note}")

    grids = defaultdict(set)  # print parameters only where a strategy × case has several parameter sets
    for strategy, case, params in by_group:
        grids[strategy, case].add(params)
    distinct_groups, exceptions = 0, []
    for (strategy, case, params), runs in by_group.items():
        seen = {registration(r) for r in runs}
        if len(seen) == len(runs):
            distinct_groups += 1
        else:
            exceptions.append((strategy, case, params, runs, len(seen)))
    print(
        f"\nDistinct registrations: {distinct_groups} of {len(by_group)} groups give one distinct registration per "
        f"seed; {len(exceptions)} do not."
    )
    without = [(k, [r["seed"] for r in runs if r.get("transform") is None]) for k, runs in by_group.items()]
    without = [(k, seeds) for k, seeds in without if seeds]
    print(f"Groups with a seed that returned no transform (compared by status and measures): {len(without)}")
    for (strategy, case, _), seeds in without:
        print(f"  {strategy} on {case}: seeds {seeds}")
    for strategy, case, params, runs, n in exceptions:
        what = ", ".join(f"seed {r['seed']}: {r['status']}/{r.get('outcome')}" for r in runs)
        deterministic = {r.get("deterministic") for r in runs}
        extra = f" {params}" if len(grids[strategy, case]) > 1 else ""
        print(f"  {strategy} on {case}{extra}: {n} distinct of {len(runs)} ({what}; deterministic {deterministic})")
        for r in runs:
            if r.get("error"):
                print(f"      seed {r['seed']}: {r['error'][:160]}")

    if before is not None:
        old = groups(load(before))
        print(f"\nSucceeded seeds per group, {before} → {path}:")
        worse, larger = [], []
        for key in sorted(set(old) | set(by_group)):
            a, b = old.get(key, []), by_group.get(key, [])
            sa, sb = sum(map(succeeded, a)), sum(map(succeeded, b))
            ea = [r["error_mean"] for r in a if r.get("error_mean") is not None]
            eb = [r["error_mean"] for r in b if r.get("error_mean") is not None]
            med = f"median error {statistics.median(ea):.3g} → {statistics.median(eb):.3g}" if ea and eb else "no error"
            outcomes = "/".join(str(r.get("outcome")) for r in a) + " → " + "/".join(str(r.get("outcome")) for r in b)
            line = f"  {key[0]:22s} {key[1]:26s} {sa}/{len(a)} → {sb}/{len(b)}  {med}  ({outcomes})"
            if sb * max(1, len(a)) < sa * max(1, len(b)):
                worse.append(line)
            if ea and eb and statistics.median(eb) > max(1.5 * statistics.median(ea), statistics.median(ea) + 0.1):
                larger.append(line)
            print(line)
        print(f"\nGroups that succeed on fewer seeds than before: {len(worse)}")
        for line in worse:
            print(line)
        print(f"\nGroups whose median error grew by more than half (and 0.1): {len(larger)}")
        for line in larger:
            print(line)
    return 1 if copied_cases else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--before", type=Path, help="an older store of the same matrix, to compare outcomes")
    args = parser.parse_args(argv)
    return report(args.store, args.before)


if __name__ == "__main__":
    sys.exit(main())
