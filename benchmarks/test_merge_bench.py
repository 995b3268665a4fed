"""``regbench merge`` of two hosts' stores into one of 10,000 runs, and `regbench report` on the result (< 10 s).

pytest benchmarks/test_merge_bench.py -s

Host a's store is the 10,000-run store of ``test_report_bench`` (real records, relabelled); host b's holds every
other of its runs again, the same records but for the host name, and one in a hundred of them with another
result (its transform, error and dense metric moved: what another CPU or BLAS can do to a run). Merging gives the
10,000 runs plus those as repeats; the report then prints the hosts and "same key, different host" tables.
Printed: the merge's wall time (a subprocess), merging again (nothing to add), `report --no-stats` on host a's
store alone and on the merged one (the host tables' cost: asserted small), the full report's (target < 10 s), and
the load average.
"""

from __future__ import annotations

import shutil
import sqlite3

from test_report_bench import N_RUNS, big_store, load_average, timed  # noqa: F401  (big_store: a fixture)

from regbench.store.sqlite import Store

#: Issue 26: `regbench report` on the merged store of 10,000 runs.
TARGET_S = 10.0
DRIFT_EVERY = 100  # of host b's runs, one in this many has another result


def _relabel(path, host: str, keep_every: int = 1) -> None:
    db = sqlite3.connect(path)
    db.execute(f"DELETE FROM runs WHERE rowid % {keep_every} != 0")
    db.execute("UPDATE runs SET record = json_set(record, '$.host.name', ?)", (host,))
    db.execute(  # another result on host b: the transform's first parameter, the error and the metric moved
        "UPDATE runs SET record = json_set(record, '$.transform.parameters[0]', "
        "json_extract(record, '$.transform.parameters[0]') + 0.01, '$.error_mean', "
        "json_extract(record, '$.error_mean') + 0.01, '$.final_metric_dense', "
        "json_extract(record, '$.final_metric_dense') + 1e-4) "  # (none is near DBL_MAX: ok runs, returned)
        f"WHERE rowid % {2 * DRIFT_EVERY} = 0 AND json_extract(record, '$.transform') IS NOT NULL AND ? = 'host-b' "
        "AND json_extract(record, '$.status') = 'ok' AND abs(json_extract(record, '$.final_metric_dense')) < 1e300",
        (host,),
    )
    db.commit()
    db.close()


def test_merge_two_hosts_into_10000_runs_then_report(big_store, tmp_path, capsys):  # noqa: F811
    a, b, out = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "out.sqlite"
    shutil.copy(big_store, a)
    shutil.copy(big_store, b)
    _relabel(a, "host-a")
    _relabel(b, "host-b", keep_every=2)
    with Store.read_only(b) as store:
        in_b = len(store)
        drifted = store.connection.execute(f"SELECT count(*) FROM runs WHERE rowid % {2 * DRIFT_EVERY} = 0").fetchone()
    merge_s, done = timed(["merge", str(out), str(a), str(b)])
    assert done.returncode == 0, done.stderr
    with Store.read_only(out) as store:
        merged = len(store)
    assert N_RUNS < merged <= N_RUNS + drifted[0]
    again_s, done = timed(["merge", str(out), str(a), str(b)])
    assert done.returncode == 0 and "nothing new" in done.stdout, done.stdout
    # the tables the hosts add, against the same report on host a's store alone (one host: no host tables)
    alone_s, done = timed(["report", "--store", str(a), "--no-stats"])
    assert done.returncode == 0 and "Hosts" not in done.stdout, done.stderr
    tables_s, done = timed(["report", "--store", str(out), "--no-stats"])
    assert done.returncode == 0, done.stderr
    assert "Same key, different host" in done.stdout and "Hosts: the runs come from 2 machines" in done.stdout
    report_s, done = timed(["report", "--store", str(out)])
    assert done.returncode == 0, done.stderr
    with capsys.disabled():
        print(
            f"\nmerge of {N_RUNS} + {in_b} runs (2 hosts) into {merged}: {merge_s:.1f} s; again (nothing new): "
            f"{again_s:.1f} s\nreport --no-stats: host a alone {alone_s:.1f} s, merged {tables_s:.1f} s "
            f"(ratio {tables_s / alone_s:.2f}); full report of the merged store: {report_s:.1f} s "
            f"(target < {TARGET_S:.0f} s{'' if report_s < TARGET_S else ': MISSED'}); load {load_average()}"
        )
    assert tables_s <= 1.3 * alone_s + 1.0  # the hosts and drift tables cost little beside the report
