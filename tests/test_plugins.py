"""The plugin manager: built-ins, entry points, clashes, misspellings, blocking, provenance."""

import pytest
from click.testing import CliRunner
from plugin_packages import GOOD, install

import regbench
from regbench.cli import main


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """The steady plugin installed as a distribution (``regbench-steady`` 1.2.3, entry point ``steady``): the
    path of its module, which a test may rewrite."""
    module = install(tmp_path, monkeypatch, GOOD)
    return tmp_path / f"site-{module}" / f"{module}.py"


def test_builtins_register_with_provenance(pm):
    strategy = pm.get_strategy("gd")
    assert strategy.provenance.plugin == "regbench_plugins.gradient_descent"
    assert strategy.provenance.distribution == "regbench"
    assert pm.get_case("synth2d-affine").provenance.plugin == "regbench_plugins.synthetic_cases"


def test_entry_point_plugin_is_listed_and_runs(installed_plugin):
    pm = regbench.make_plugin_manager()
    strategy = pm.get_strategy("steady")
    assert (strategy.provenance.distribution, strategy.provenance.version) == ("regbench-steady", "1.2.3")
    record = regbench.run_one("steady", "synth2d-translation", seed=1, pm=pm)
    assert record.status == "ok" and record.iterations > 0
    assert record.provenance["strategy"]["distribution"] == "regbench-steady"
    result = CliRunner().invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert '"name": "steady"' in result.output and "regbench-steady" in result.output


def test_autoload_can_be_disabled_and_plugins_blocked(installed_plugin, monkeypatch):
    monkeypatch.setenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "steady" not in regbench.make_plugin_manager().strategies()
    monkeypatch.delenv("REGBENCH_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "steady,regbench_plugins.lbfgs")
    strategies = regbench.make_plugin_manager().strategies()
    assert "steady" not in strategies and "lbfgs2" not in strategies and "gd" in strategies


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(installed_plugin):
    installed_plugin.write_text("import does_not_exist\n")
    with pytest.raises(regbench.PluginError) as info:
        regbench.make_plugin_manager()
    message = str(info.value)
    assert "'steady'" in message and "regbench-steady 1.2.3" in message and "does_not_exist" in message


def test_two_plugins_registering_one_name_are_both_named(pm):
    gd_class = type(pm.get_strategy("gd"))

    class Clash:
        @regbench.hookimpl
        def regbench_register_strategies(self, register):
            register(gd_class("gd"))

    pm = regbench.make_plugin_manager(entrypoints=False)
    pm.register(Clash(), name="clashing-plugin")
    with pytest.raises(regbench.PluginError) as info:
        pm.strategies()
    assert "regbench_plugins.gradient_descent" in str(info.value) and "clashing-plugin" in str(info.value)


def test_a_misspelled_hook_is_an_error():
    class Typo:
        @regbench.hookimpl
        def regbench_register_stratgies(self, register):
            pass

    with pytest.raises(regbench.PluginError, match="regbench_register_stratgies"):
        regbench.make_plugin_manager(entrypoints=False, plugins=[Typo()])


def test_no_global_manager_is_built_at_import():
    import regbench.plugin.manager

    assert not [
        name
        for name, value in vars(regbench.plugin.manager).items()
        if isinstance(value, regbench.plugin.manager.RegbenchPluginManager)
    ]


def test_unknown_names_list_the_valid_ones(pm):
    with pytest.raises(regbench.PluginError, match=r"registered: .*gd.*lbfgs2"):
        pm.get_strategy("nope")


def test_a_plugin_given_twice_is_registered_once(pm):
    import regbench_plugins.lbfgs as module

    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[module])  # already a built-in
    assert "lbfgs2" in pm.strategies()
