"""The stability audit: a deterministic setup audits as stable, a 2-thread Mattes MI setup as unstable."""

import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.audit import audit, audit_lines
from regbench.cli import main
from regbench.tinycase import make_tiny_case

_PM = regbench.make_plugin_manager()


def test_a_deterministic_setup_audits_as_stable():
    # Dense mean squares, one thread: same-key repeats and sampling seeds (no sampling: copies) are bit-identical,
    # so even a zero tolerance finds nothing; small start shifts stay within 0.1 px.
    result = audit(
        "gd",
        make_tiny_case("rigid"),
        threads=(1,),
        seeds=2,
        repeats=2,
        tolerance=0.0,
        pm=_PM,
        sources=("repeat", "sampling"),
    )
    assert not result.flagged and result.reproducible
    assert all(s.identical and s.transform_spread == 0.0 for s in result.sources)
    shaken = audit("gd", make_tiny_case("rigid"), threads=(1,), seeds=2, sources=("perturbation",), pm=_PM)
    assert not shaken.flagged and shaken.sources[0].transform_spread > 0  # the starts did differ


def test_a_two_thread_mattes_setup_audits_as_unstable():
    # Mattes MI sums its joint histogram in thread order: the same key differs run to run (by ~1e-8 px here; by
    # pixels on the 2D Mattes affine case of reference §10), so at a zero tolerance it is unstable.
    result = audit("gd", "synth2d-rigid-mi", threads=(2,), repeats=3, tolerance=0.0, sources=("repeat",), pm=_PM)
    assert result.flagged and result.reproducible is False
    assert result.sources[0].verdict == "unstable" and result.sources[0].transform_spread > 0
    assert "UNSTABLE" in audit_lines(result)[0]


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
