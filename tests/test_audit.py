"""The stability audit: each source varies one thing on the default one-thread key; a deterministic setup audits
as reproducible and stable, a 2-thread Mattes MI setup as unstable in its threads source alone."""

import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.diagnostics.stability_audit import audit, audit_lines
from regbench.run import DEFAULT_THREADS

_PM = regbench.make_plugin_manager()


def _audit_with_records(*args, **kwargs):
    """audit(...) and the records it ran, by source."""
    records: dict[str, list] = {}
    result = audit(*args, progress=lambda source, record: records.setdefault(source, []).append(record), **kwargs)
    return result, records


def test_a_deterministic_setup_is_reproducible_by_every_source():
    # Dense mean squares, gd (deterministic): same-key repeats and sampling seeds (no sampling: copies) are
    # bit-identical, so even a zero tolerance finds nothing there; 1 vs 2 threads changes only the last digits and
    # small start shifts stay within 0.1 px, so no source is unstable.
    result, records = _audit_with_records(
        "gd", make_tiny_case("rigid"), threads=(1, 2), seeds=2, repeats=2, tolerance=0.1, pm=_PM
    )
    by_source = {s.source: s for s in result.sources}
    assert set(by_source) == {"repeat", "threads", "sampling", "perturbation"}
    assert not result.flagged and result.reproducible
    assert all(s.verdict != "unstable" for s in result.sources), audit_lines(result)
    assert by_source["repeat"].identical and by_source["sampling"].identical
    assert by_source["repeat"].transform_spread == by_source["sampling"].transform_spread == 0.0
    assert by_source["perturbation"].transform_spread > 0  # the starts did differ
    assert by_source["threads"].transform_spread < 1e-9  # the thread count moves only the last digits
    # each source varies one thing: only the threads source leaves the default key's one thread
    for source in ("repeat", "sampling", "perturbation"):
        assert {r.threads for r in records[source]} == {DEFAULT_THREADS} == {1}, source
        assert by_source[source].threads == [1]
    assert [r.threads for r in records["threads"]] == [1, 2] and by_source["threads"].threads == [1, 2]


def test_sampling_reruns_of_a_mattes_case_use_one_thread():
    # Sampled Mattes MI is reproducible on one thread only: sampling reruns on 2 threads would mix thread-order
    # noise into the sampling spread (issue 21); at one thread each seed gives the same run twice.
    first, records = _audit_with_records("gd", "synth2d-rigid-mi", threads=(2,), seeds=2, sources=("sampling",), pm=_PM)
    assert [r.threads for r in records["sampling"]] == [1, 1] and first.sources[0].threads == [1]
    again = audit("gd", "synth2d-rigid-mi", threads=(2,), seeds=2, sources=("sampling",), pm=_PM)
    assert again.sources[0] == first.sources[0]  # the same spread, to the last digit


def test_a_two_thread_mattes_setup_is_unstable_in_its_threads_source_alone():
    # Mattes MI sums its joint histogram in thread order: the same key on 2 threads differs run to run (by ~1e-8
    # px here; by pixels on the 2D Mattes affine case of reference §10), so at a zero tolerance the threads source
    # (the 2-thread key three times) is unstable, while the one-thread repeats are bit-identical.
    result = audit(
        "gd", "synth2d-rigid-mi", threads=(2, 2, 2), repeats=2, tolerance=0.0, sources=("repeat", "threads"), pm=_PM
    )
    repeat, threads = result.sources
    assert result.flagged and result.reproducible is True
    assert repeat.verdict == "identical" and repeat.threads == [1]
    assert threads.verdict == "unstable" and threads.transform_spread > 0 and threads.threads == [2]
    assert "UNSTABLE" in audit_lines(result)[0] and "reproducible at threads=1" in audit_lines(result)[0]


def test_audit_command(tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "audit",
            "-s",
            "gd",
            "-c",
            "synth2d-translation",
            "--threads",
            "1",
            "--seeds",
            "1",
            "--repeats",
            "2",
            "--source",
            "repeat",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["stability"][0]["reproducible"] is True
    bad = runner.invoke(main, ["audit", "-s", "gd", "-c", "nope"])
    assert bad.exit_code == 2


@pytest.mark.parametrize("threads", ["0", "x"])
def test_audit_rejects_bad_thread_lists(threads):
    out = CliRunner().invoke(main, ["audit", "-s", "gd", "-c", "synth2d-translation", "--threads", threads])
    assert out.exit_code == 2
