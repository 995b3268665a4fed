"""regbench_register_probe_families: a plugin brings an optimizer family to the semantics probe, and a broken
registration costs that plugin only (reported, left out), like a broken strategy."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from plugin_packages import install

import regbench
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.diagnostics import probe


class ExhaustivePlugin:
    """A third-party family (SimpleITK's exhaustive search, no built-in family) and a strategy using it that
    declares the wrong pairing, so the probe's finding shows in the record."""

    @regbench.hookimpl
    def regbench_register_probe_families(self, register):
        register(
            regbench.ProbeFamily(
                "exhaustive",
                lambda m: m.SetOptimizerAsExhaustive([1, 1], stepLength=0.5),
                stop_prefix="ExhaustiveOptimizerv4",
            )
        )

    @regbench.hookimpl
    def regbench_register_strategies(self, register):
        register(Exhaustive("exhaustive-grid"))


class Exhaustive(regbench.SingleRunStrategy):
    """exhaustive search on a 3x3 grid"""

    metric_pairing = "previous"  # wrong on purpose: the probe finds "current"

    def configure(self, method, params):
        method.SetOptimizerAsExhaustive([1, 1], stepLength=0.5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE_DIR", str(tmp_path))
    probe.clear_cache()
    yield tmp_path
    probe.clear_cache()


def test_a_plugin_family_is_probed_and_read_from_stop_texts(cache):
    builtin = regbench.make_plugin_manager(entrypoints=False)
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[ExhaustivePlugin()])
    families = pm.probe_families()
    assert set(families) == set(builtin.probe_families()) | {"exhaustive"}
    assert families["exhaustive"].provenance.plugin != "regbench_plugins.probes"
    before = probe.semantics(builtin)
    result = probe.semantics(pm)
    assert "exhaustive" not in before["families"]  # the cache of the built-ins is not served for the larger set
    assert result["families"]["exhaustive"]["pairing"] == "current"
    assert result["families"]["exhaustive"]["stop_honoured"] is True
    assert len(list(cache.glob("probe-simpleitk-*.json"))) == 2
    lines = probe.summary_lines(result)
    assert any(line.startswith("  exhaustive: event value belongs to the current") for line in lines)
    assert probe.family_of_stop("ExhaustiveOptimizerv4: Completed sampling of parametric space", families) == (
        "exhaustive"
    )
    assert probe.as_provenance(result)["families"]["exhaustive"]["pairing"] == "current"


def test_the_record_of_a_plugin_optimizer_gets_its_pairing_note(cache):
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[ExhaustivePlugin()])
    record = regbench.run_one("exhaustive-grid", make_tiny_case("translation"), pm=pm)
    assert record.provenance["semantics"]["families"]["exhaustive"]["pairing"] == "current"
    notes = [n for n in record.notes if n.startswith("metric pairing:")]
    assert len(notes) == 1 and "'previous'" in notes[0] and "exhaustive" in notes[0]


def _family_plugin(make):
    class Plugin:
        @regbench.hookimpl
        def regbench_register_probe_families(self, register):
            register(make())

    return Plugin()


def _raises():
    raise RuntimeError("boom in the family")


BROKEN = {
    "not a ProbeFamily": (lambda: {"name": "x"}, "as a probe family, not a regbench.ProbeFamily instance"),
    "the class": (lambda: regbench.ProbeFamily, "(a class: register an instance"),
    "name taken by a built-in": (
        lambda: regbench.ProbeFamily("lbfgs2", lambda m: m.SetOptimizerAsLBFGS2()),
        "its probe family name 'lbfgs2' is also registered by plugin 'regbench_plugins.probes'",
    ),
    "name not allowed": (
        lambda: regbench.ProbeFamily("my family", lambda m: m.SetOptimizerAsAmoeba(1.0, 5)),
        "probe family name 'my family' is not allowed",
    ),
    "configure raises": (
        lambda: regbench.ProbeFamily("bad", lambda m: m.SetOptimizerAsAmoeba(simplexDelta="wide")),
        "its regbench_register_probe_families raised ValueError: probe family 'bad': configure(method) raised",
    ),
    "stop pattern not compiled": (
        lambda: regbench.ProbeFamily("bad", lambda m: None, stop_pattern="^Done"),
        "stop_pattern must be a compiled re.Pattern",
    ),
    "register hook raises": (_raises, "its regbench_register_probe_families raised RuntimeError: boom in the family"),
}


@pytest.mark.parametrize(("make", "problem"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_family_is_reported_and_left_out(make, problem):
    plugin = _family_plugin(make)
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[plugin], strict=False)
    families = pm.probe_families()
    assert {"gradient_descent", "lbfgs2"} <= set(families)
    assert families["lbfgs2"].provenance.plugin == "regbench_plugins.probes"
    (broken,) = pm.broken
    assert problem in broken.message, broken.message
    assert not pm.is_registered(plugin) and "gd" in pm.strategies()
    with pytest.raises(regbench.PluginError, match="is broken"):
        regbench.make_plugin_manager(entrypoints=False, plugins=[_family_plugin(make)]).probe_families()


def test_a_family_that_fails_only_in_the_probe_gets_an_error_there(cache):
    calls = []

    def configure(m):  # fine when the family is made, raises when the probe runs it
        calls.append(1)
        if len(calls) > 1:
            raise KeyError("second call")
        m.SetOptimizerAsAmoeba(simplexDelta=1.0, numberOfIterations=5)

    plugin = _family_plugin(lambda: regbench.ProbeFamily("flaky", configure, stop_prefix="AmoebaOptimizerv4"))
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[plugin])
    result = probe.semantics(pm)
    assert "KeyError: 'second call'" in result["families"]["flaky"]["error"]
    assert "plugin" in result["families"]["flaky"]["error"]
    assert result["families"]["lbfgs2"]["pairing"] == "current"
    assert any(line.startswith("  flaky: probe failed: KeyError") for line in probe.summary_lines(result))
    assert not list(cache.glob("probe-simpleitk-*.json"))  # not stored: the next process tries again
    assert probe.pairing_note("previous", ["AmoebaOptimizerv4: ..."], result, pm.probe_families()) is None


BROKEN_PACKAGE = """
import regbench

@regbench.hookimpl
def regbench_register_probe_families(register):
    register("powell")
"""


def test_list_and_run_report_an_installed_broken_family_plugin(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, BROKEN_PACKAGE)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["list", "--json"])
    assert out.exit_code == 1, out.output
    listed = json.loads(out.stdout)
    (broken,) = listed["broken"]
    assert "plugin 'steady' (regbench-steady 1.2.3) is broken" in broken["message"]
    assert "registered 'powell' as a probe family" in broken["message"]
    assert "gd" in {s["name"] for s in listed["strategies"]}
    run = CliRunner().invoke(main, ["run", "-s", "gd", "-c", "synth2d-translation", "--in-process"])
    assert run.exit_code == 2 and "registered 'powell' as a probe family" in run.output
