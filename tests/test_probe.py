"""The semantics probe: what this SimpleITK's optimizers do, stored with every record."""

import json

import pytest
import SimpleITK as sitk
from click.testing import CliRunner

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.diagnostics import probe

SEEN_ON = "2.5.7"  # the expected values below were measured with SimpleITK 2.5.7 (ITK 5.4)
BUILTIN_FAMILIES = {
    "gradient_descent",
    "regular_step_gd",
    "gd_line_search",
    "conjugate_gradient",
    "lbfgsb",
    "lbfgs2",
    "amoeba",
    "powell",
    "one_plus_one",
}


@pytest.fixture(scope="module")
def families():
    return regbench.make_plugin_manager(entrypoints=False).probe_families()


@pytest.fixture(scope="module")
def result(families):
    return probe.run_probe(families)


def test_the_builtin_plugins_register_every_family(families):
    assert set(families) == BUILTIN_FAMILIES
    assert all(f.provenance.plugin == "regbench_plugins.probes" for f in families.values())


def test_the_probe_covers_every_family(result, families):
    assert set(result["families"]) == set(families)
    assert list(result["families"]) == sorted(families)  # the cache file's order, so fresh and cached print alike
    for name, family in result["families"].items():
        assert "error" not in family, name
        assert family["pairing"] in ("current", "previous", "both", None)


@pytest.mark.skipif(sitk.Version_VersionString() != SEEN_ON, reason=f"values measured on SimpleITK {SEEN_ON}")
def test_itk_5_4_semantics(result):
    f = result["families"]
    for name in ("gradient_descent", "regular_step_gd", "gd_line_search", "conjugate_gradient"):
        assert f[name]["pairing"] == "previous" and f[name]["stop_honoured"], name  # reference §3.3, §1.2
    assert f["lbfgs2"]["pairing"] == "current" and f["lbfgs2"]["runs_per_level"] == 2  # §7: the double run
    assert not f["lbfgs2"]["stop_honoured"] and not f["lbfgsb"]["stop_honoured"]
    assert not f["powell"]["stop_honoured"] and f["one_plus_one"]["stop_honoured"]


def test_the_builtin_pairings_agree_with_the_probe(pm):
    result = probe.semantics(pm)
    record = regbench.run_one("gd", make_tiny_case("translation"))
    assert (
        record.provenance["semantics"]["families"]["gradient_descent"]["pairing"]
        == (result["families"]["gradient_descent"]["pairing"])
    )
    assert not any(n.startswith("metric pairing:") for n in record.notes)


def test_a_declared_pairing_that_disagrees_gets_a_note(families):
    stop = "GradientDescentOptimizerv4Template: Maximum number of iterations (6) exceeded."
    fake = {"simpleitk": "x", "families": {"gradient_descent": {"pairing": "current"}}}
    note = probe.pairing_note("previous", [stop], fake, families)
    assert note and "'previous'" in note and "'current'" in note and "gradient_descent" in note
    assert probe.pairing_note("current", [stop], fake, families) is None
    assert probe.pairing_note(None, [stop], fake, families) is None


def test_family_of_stop(families):
    assert probe.family_of_stop("RegularStepGradientDescentOptimizerv4: Step too small after 3", families) == (
        "regular_step_gd"
    )
    assert probe.family_of_stop("GradientDescentOptimizerv4Template: Convergence checker passed", families) == (
        "gradient_descent"
    )
    assert probe.family_of_stop("Reached maximum number of iterations", families) == "lbfgs2"
    assert probe.family_of_stop("LBFGSBOptimizerv4: Function tolerance reached", families) == "lbfgsb"
    assert probe.family_of_stop("ExhaustiveOptimizerv4: Completed sampling", families) is None
    assert probe.family_of_stop("", families) is None


def test_the_probe_is_cached_per_version(tmp_path, monkeypatch, pm):
    monkeypatch.setenv("REGBENCH_CACHE_DIR", str(tmp_path))
    probe.clear_cache()
    try:
        first = probe.semantics(pm)
        files = list(tmp_path.glob("probe-simpleitk-*.json"))
        assert len(files) == 1 and sitk.Version_VersionString() in files[0].name
        assert json.loads(files[0].read_text()) == first
        probe.clear_cache()
        assert probe.semantics(pm) == first  # read back from the file
    finally:
        probe.clear_cache()


def test_list_verbose_prints_the_probe():
    out = CliRunner().invoke(main, ["list", "--verbose"])
    assert out.exit_code == 0, out.output
    assert "semantics probe" in out.output and "lbfgs2:" in out.output
    js = json.loads(CliRunner().invoke(main, ["list", "--verbose", "--json"]).stdout)
    assert "gradient_descent" in js["semantics"]["families"]
    assert all("gradient_warning" in c for c in js["cases"])
