"""A broken plugin is reported, never a crash: ``regbench list`` lists everything else and the broken plugins in their
own section (exit 1), ``regbench run`` refuses with exit 2 and the same one line per plugin (plugin, distribution
and version, the exception, how to skip it); ``--plugin`` of an installed module is the same plugin, once."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from plugin_packages import GOOD, install

import regbench
from regbench.cli import main
from regbench.runner.matrix import Matrix
from regbench.runner.run_matrix import run_matrix

# The mistakes a plugin author makes, as third-party packages: each must cost that plugin only.
BROKEN = {
    "class registered, not an instance": (
        GOOD.replace('register(Steady("steady"))', "register(Steady)"),
        "it registered <class",
    ),
    "typo in a default": (
        GOOD.replace('register(Steady("steady"))', 'register(Steady("steady", learning_rat=1.0))'),
        "its regbench_register_strategies raised ParameterError: strategy 'steady' defaults: unknown parameter",
    ),
    "import error": ("import does_not_exist\n" + GOOD, "failed to import"),
    "misspelled hook": (
        GOOD.replace("def regbench_register_strategies", "def regbench_register_stratgies"),
        "it implements regbench_register_stratgies, which is no regbench hook",
    ),
    "name taken by a built-in": (
        GOOD.replace('register(Steady("steady"))', 'register(Steady("gd"))'),
        "its strategy name 'gd' is also registered by plugin 'regbench_plugins.gradient_descent' (regbench",
    ),
    "name with markup characters": (
        GOOD.replace('register(Steady("steady"))', "register(Steady(\"my<gd>('x')/y\"))"),
        "is not allowed: use letters, digits and . _ + - only",
    ),
    "register hook raises": (
        GOOD.replace('register(Steady("steady"))', 'raise RuntimeError("boom in the plugin")'),
        "its regbench_register_strategies raised RuntimeError: boom in the plugin",
    ),
}


@pytest.fixture(params=BROKEN.values(), ids=BROKEN.keys())
def broken(request, tmp_path, monkeypatch):
    source, problem = request.param
    install(tmp_path, monkeypatch, source)
    monkeypatch.chdir(tmp_path)
    return problem


def expected_line(problem: str) -> list[str]:
    return [
        "plugin 'steady' (regbench-steady 1.2.3) is broken:",
        problem,
        "uninstall it (pip uninstall regbench-steady) or skip it with REGBENCH_BLOCK_PLUGINS=steady",
    ]


def test_the_manager_leaves_a_broken_plugin_out_and_names_it(broken):
    pm = regbench.make_plugin_manager(strict=False)
    assert "gd" in pm.strategies() and "synth2d-translation" in pm.cases()
    assert "steady" not in pm.strategies()
    (found,) = pm.broken
    assert (found.plugin, found.distribution, found.version) == ("steady", "regbench-steady", "1.2.3")
    assert "\n" not in found.message
    assert all(part in found.message for part in expected_line(broken))


def test_strict_managers_raise_the_same_message(broken):
    with pytest.raises(regbench.PluginError) as info:
        regbench.make_plugin_manager().strategies()
    assert all(part in str(info.value) for part in expected_line(broken))


def test_list_shows_everything_else_and_a_broken_plugins_section(broken):
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "gd" in text and "synth2d-translation" in text
    assert "Broken plugins (1)" in text
    assert all(part in text for part in expected_line(broken))
    listed = CliRunner().invoke(main, ["list", "--json"])
    assert listed.exit_code == 1
    data = json.loads(listed.stdout)
    assert "gd" in {s["name"] for s in data["strategies"]}
    assert [b["plugin"] for b in data["broken"]] == ["steady"]
    assert all(part in data["broken"][0]["message"] for part in expected_line(broken))


def test_run_refuses_with_exit_2_and_the_same_line(broken, tmp_path):
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(main, ["run", "-s", "gd", "-c", "synth2d-translation", "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert all(part in " ".join(result.output.split()) for part in expected_line(broken))
    assert not store.exists()


def test_blocking_the_broken_plugin_lets_everything_run(broken, monkeypatch, tmp_path):
    monkeypatch.setenv("REGBENCH_BLOCK_PLUGINS", "steady")
    assert CliRunner().invoke(main, ["list"]).exit_code == 0
    run = ["run", "-s", "gd", "-c", "synth2d-translation", "-p", "number_of_iterations=3", "--in-process"]
    result = CliRunner().invoke(main, [*run, "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output


def test_a_broken_plugin_among_good_ones_costs_only_itself(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, GOOD)
    install(tmp_path, monkeypatch, BROKEN["register hook raises"][0], distribution="regbench-bad", entry_point="bad")
    pm = regbench.make_plugin_manager(strict=False)
    assert pm.get_strategy("steady").provenance.distribution == "regbench-steady"
    assert [b.plugin for b in pm.broken] == ["bad"]


def test_two_installed_plugins_registering_one_name_name_both_distributions(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, GOOD)
    install(tmp_path, monkeypatch, GOOD, distribution="regbench-other", version="0.9", entry_point="other")
    pm = regbench.make_plugin_manager(strict=False)
    assert "steady" in pm.strategies()
    (found,) = pm.broken
    assert "(regbench-steady 1.2.3)" in found.message or "(regbench-other 0.9)" in found.message
    assert "regbench-steady 1.2.3" in found.message and "regbench-other 0.9" in found.message


@pytest.mark.parametrize("name", ["a<b>", "gd(1)", "it's", "a/b", "[link=x]y", "two words", "", "-lead"])
def test_names_are_validated_at_registration(name):
    gd_class = type(regbench.make_plugin_manager(entrypoints=False).get_strategy("gd"))

    class Odd:
        @regbench.hookimpl
        def regbench_register_strategies(self, register):
            register(gd_class(name))

    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[Odd()], strict=False)
    assert name not in pm.strategies()
    assert len(pm.broken) == 1 and "letters, digits and . _ + - only" in pm.broken[0].message


def test_a_case_file_name_is_validated_like_a_registered_one(tmp_path):
    import SimpleITK as sitk

    image = sitk.GaussianSource(sitk.sitkFloat32, [16, 16], [3, 3], [8, 8], 100.0)
    sitk.WriteImage(image, str(tmp_path / "f.nii.gz"))
    cases = tmp_path / "cases.toml"
    cases.write_text('[[case]]\nname = "a/b[red]"\nfixed = "f.nii.gz"\nmoving = "f.nii.gz"\n')
    result = CliRunner().invoke(main, ["list", "--cases", str(cases)])
    assert result.exit_code == 2, result.output
    assert "case name 'a/b[red]' is not allowed" in " ".join(result.output.split())


# -- --plugin of a module that is also installed ----------------------------------------------------------------


@pytest.fixture
def installed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return install(tmp_path, monkeypatch, GOOD)


def test_plugin_option_of_an_installed_module_registers_it_once(installed, tmp_path):
    pm = regbench.make_plugin_manager(plugins=[installed])
    assert [name for name, plugin in pm.list_name_plugin() if getattr(plugin, "__name__", None) == installed] == [
        "steady"
    ]
    assert pm.get_strategy("steady").provenance.distribution == "regbench-steady"
    listed = CliRunner().invoke(main, ["list", "--plugin", installed, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [s["name"] for s in json.loads(listed.stdout)["strategies"]].count("steady") == 1
    run = ["run", "--plugin", installed, "-s", "steady", "-c", "synth2d-translation", "--store", "s.sqlite", "--json"]
    result = CliRunner().invoke(main, run)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "ok"
    records = run_matrix(Matrix(strategies=["steady"], cases=["synth2d-translation"]), "m.sqlite", plugins=[installed])
    assert [r.status for r in records] == ["ok"]
