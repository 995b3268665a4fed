"""``regbench upgrade-check``: a hand-built pair of stores with a known shift fails the gate, one within the
margin passes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import regbench
from regbench.cli import main
from regbench.report.gates.upgrade import upgrade_check_stores, upgrade_lines
from regbench.store.sqlite import Store


def store(path, version, errors, outcome="converged", stop="converged", strategy="gd", case="c") -> str:
    s = Store(path)
    for seed, error in enumerate(errors):
        s.add(
            regbench.RunRecord(
                strategy=strategy,
                case=case,
                seed=seed,
                key=f"{version}-{strategy}-{case}-{seed}",
                versions={"SimpleITK": version},
                error_mean=error,
                outcome=outcome if not callable(outcome) else outcome(seed),
                stop_category=stop,
            )
        )
    s.close()
    return str(path)


BASE = [1.00, 1.20, 0.90, 1.10, 1.05, 0.95]


def test_a_known_shift_fails_and_a_small_one_passes(tmp_path):
    a = store(tmp_path / "a.sqlite", "2.5.7", BASE)
    shifted = store(tmp_path / "b.sqlite", "3.0.0", [e + 2.0 for e in BASE])
    close = store(
        tmp_path / "c.sqlite",
        "3.0.0",
        [e + d for e, d in zip(BASE, [0.02, -0.03, 0.01, 0.0, 0.04, -0.01], strict=True)],
    )
    bad = upgrade_check_stores(a, shifted, margin=0.5)
    assert not bad.passed and bad.cases[0].equivalent is False
    assert bad.cases[0].mean_diff == pytest.approx(2.0)
    assert bad.versions_a == ["2.5.7"] and bad.versions_b == ["3.0.0"]
    good = upgrade_check_stores(a, close, margin=0.5)
    assert good.passed and good.cases[0].equivalent is True
    assert "upgrade gate: passed" in upgrade_lines(good)[-1]


def test_newly_failing_runs_and_stop_shifts_fail_the_gate(tmp_path):
    a = store(tmp_path / "a.sqlite", "2.5.7", BASE)
    failing = store(tmp_path / "b.sqlite", "3.0.0", BASE, outcome=lambda seed: "diverged" if seed == 0 else "converged")
    report = upgrade_check_stores(a, failing, margin=0.5)
    assert not report.passed and report.cases[0].newly_failing == 1
    stops = store(tmp_path / "s.sqlite", "3.0.0", BASE, stop="max_iterations")
    assert upgrade_check_stores(a, stops, margin=0.5).passed  # stop shifts are reported, gated only on request
    gated = upgrade_check_stores(a, stops, margin=0.5, max_stop_shift=0.2)
    assert not gated.passed and gated.cases[0].stop_changes == {"converged → max_iterations": 6}


def test_nothing_paired_fails(tmp_path):
    a = store(tmp_path / "a.sqlite", "2.5.7", BASE)
    b = store(tmp_path / "b.sqlite", "3.0.0", BASE, case="other")
    assert not upgrade_check_stores(a, b, margin=0.5).passed


def test_upgrade_check_command(tmp_path):
    a = store(tmp_path / "a.sqlite", "2.5.7", BASE)
    b = store(tmp_path / "b.sqlite", "3.0.0", [e + 2.0 for e in BASE])
    runner = CliRunner()
    out = runner.invoke(main, ["upgrade-check", a, b, "--margin", "0.5"])
    assert out.exit_code == 1 and "NOT EQUIVALENT" in out.output and "FAILED" in out.output
    ok = runner.invoke(main, ["upgrade-check", a, a, "--margin", "0.5", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["passed"]
