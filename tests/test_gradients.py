"""The gradient audit and the metrics it needs (joint-histogram MI; demons refused with the reason)."""

import pytest
import SimpleITK as sitk

import regbench
from regbench.cases.case import CaseError, Setup, configure_metric
from regbench.cases.tiny import make_tiny_case
from regbench.diagnostics.gradient_audit import (
    audit_case,
    audit_case_cached,
    cached_audit,
    case_warning,
    make_multimodal_case,
)

SEEN_ON = ("2.5.7", "5.4")  # SimpleITK, ITK: where the JHMI finding was measured
_ON_SEEN = sitk.Version_VersionString() == SEEN_ON[0] and sitk.Version_ITKVersionString() == SEEN_ON[1]


def test_jhmi_is_a_setup_metric_and_registers():
    tiny = make_tiny_case("translation")
    case = regbench.Case("tiny-jhmi", tiny.loader, Setup(transform="translation", metric="jhmi", histogram_bins=20))
    method = sitk.ImageRegistrationMethod()
    configure_metric(method, case.setup)  # no error; the metric is JHMI
    record = regbench.run_one("gd", case)
    assert record.error is None
    assert record.final_metric_dense is not None and record.final_metric_dense < record.initial_metric_dense


def test_demons_is_refused_with_the_reason():
    with pytest.raises(CaseError, match="displacement-field transform"):
        Setup(metric="demons")


@pytest.mark.skipif(not _ON_SEEN, reason=f"the JHMI finding was seen on SimpleITK {SEEN_ON[0]} / ITK {SEEN_ON[1]}")
def test_jhmi_first_step_goes_uphill_on_a_multimodal_pair():
    cos = {m: audit_case(make_multimodal_case(m)).cosines[0] for m in ("jhmi", "mattes", "correlation")}
    assert cos["jhmi"] == pytest.approx(-1.0, abs=0.05)
    assert cos["mattes"] == pytest.approx(1.0, abs=0.05)
    assert cos["correlation"] == pytest.approx(1.0, abs=0.05)
    assert audit_case(make_multimodal_case("jhmi")).flagged
    assert not audit_case(make_multimodal_case("mattes")).flagged


def test_a_sound_metric_audits_clean_and_the_cache_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE_DIR", str(tmp_path))
    case = make_tiny_case("affine")
    assert cached_audit(case) is None
    audit = audit_case_cached(case)
    assert not audit["flagged"] and audit["worst"] > 0.99
    assert cached_audit(case) == audit
    assert case_warning(case) is None


def test_jhmi_cases_carry_a_warning_line_without_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE_DIR", str(tmp_path))
    case = make_multimodal_case("jhmi")
    line = case_warning(case)
    if int(sitk.Version_ITKVersionString().split(".")[0]) < 6:
        assert line and "jhmi" in line


def test_show_prints_the_gradient_warning_line():
    from io import StringIO

    from rich.console import Console

    from regbench.report.text.explain import print_explanation

    tiny = make_tiny_case("translation")
    case = regbench.Case("tiny-jhmi", tiny.loader, Setup(transform="translation", metric="jhmi"))
    record = regbench.run_one("gd", case)
    buffer = StringIO()
    print_explanation(record, Console(file=buffer, width=200))
    if int(sitk.Version_ITKVersionString().split(".")[0]) < 6:
        assert "warning: gradient audit: jhmi" in buffer.getvalue()


def test_reports_carry_the_case_gradient_warning(tmp_path):
    from click.testing import CliRunner

    from regbench.cli import main
    from regbench.report.load.columns import from_records
    from regbench.report.load.instances import notes
    from regbench.store.sqlite import Store

    record = regbench.run_one("rsgd", make_multimodal_case("jhmi"), params={"number_of_iterations": 5})
    assert any("case multimodal-jhmi: gradient audit" in line for line in notes(from_records([record])))
    with Store(tmp_path / "s.sqlite") as db:
        db.add(record)
    shown = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(tmp_path / "s.sqlite")])
    assert shown.exit_code == 0, shown.output
    assert "case multimodal-jhmi: gradient audit: jhmi's derivative is wrong" in " ".join(shown.output.split())
