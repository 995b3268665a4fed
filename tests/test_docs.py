"""Meta-tests: the hook reference, the tests, the built-in plugin list and the docs site cannot drift from the code."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import regbench_plugins
import yaml

from regbench import hookspecs
from regbench.plugin.manager import BUILTIN_PLUGINS, hook_names, make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKS = hook_names()


def _sections(path: Path) -> dict[str, str]:
    """Markdown heading text -> the section's body."""
    text = path.read_text(encoding="utf-8")
    headings = list(re.finditer(r"^#{2,4} +(.+)$", text, flags=re.M))
    return {
        m.group(1).strip(): text[m.end() : headings[i + 1].start() if i + 1 < len(headings) else len(text)]
        for i, m in enumerate(headings)
    }


def test_hook_names_come_from_the_spec():
    assert HOOKS and all(callable(getattr(hookspecs, name)) for name in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature(hook):
    sections = _sections(DOCS / "hooks.md")
    signature = f"{hook}({', '.join(inspect.signature(getattr(hookspecs, hook)).parameters)})"
    assert signature in sections, f"docs/hooks.md needs a section headed '### {signature}'"
    firstresult = getattr(hookspecs, hook).regbench_spec.get("firstresult", False)
    says_first = "first non-None result" in sections[signature]
    assert says_first == firstresult, f"the section of {hook} must say whether it stops at the first result"


def test_the_hook_reference_documents_no_hook_that_does_not_exist():
    documented = {
        m.group(1) for m in re.finditer(r"^### (regbench_\w+)\(", (DOCS / "hooks.md").read_text(encoding="utf-8"), re.M)
    }
    assert documented == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_implemented_in_a_test(hook):
    pattern = re.compile(rf"def {hook}\(")
    users = [p.name for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    users = [name for name in users if pattern.search((ROOT / "tests" / name).read_text(encoding="utf-8"))]
    assert users, f"no test implements {hook}: add one that registers a plugin with it"


def test_every_builtin_plugin_is_registered_and_implements_a_hook():
    pm = make_plugin_manager(entrypoints=False)
    for name in BUILTIN_PLUGINS:
        plugin = pm.get_plugin(name)
        assert plugin is not None, f"{name} is in BUILTIN_PLUGINS but not registered"
        assert pm.get_hookcallers(plugin), f"{name} is registered but implements no hook"


def _defines_hooks(module) -> bool:
    return any(
        hasattr(obj, "regbench_impl") and getattr(obj, "__module__", None) == module.__name__
        for obj in vars(module).values()
    )


def test_every_plugin_module_in_regbench_plugins_is_a_builtin():
    # Modules that implement no hook are support code (shared helpers), not plugins.
    modules = [
        importlib.import_module(f"regbench_plugins.{info.name}")
        for info in pkgutil.iter_modules(regbench_plugins.__path__)
    ]
    plugins = {m.__name__ for m in modules if _defines_hooks(m)}
    assert plugins, "regbench_plugins holds no plugin module"
    missing = sorted(plugins - set(BUILTIN_PLUGINS))
    assert not missing, f"modules with hooks that BUILTIN_PLUGINS does not list: {missing}"


# -- the docs site ----------------------------------------------------------------------------------------------


def _nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = set(_nav_pages(config["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "plugins" not in p.relative_to(DOCS).parts}
    assert pages - nav == set(), "pages missing from the mkdocs nav"
    for required in ("strategies.md", "cases.md", "running.md", "reports.md", "hooks.md", "cli.md"):
        assert required in nav


def _build_hooks():
    spec = importlib.util.spec_from_file_location("regbench_docs_build_hooks", DOCS / "_build_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_covers_every_command():
    from regbench.cli import main

    hooks = _build_hooks()
    assert hooks.MARKER in (DOCS / "cli.md").read_text(encoding="utf-8")
    reference = hooks.cli_reference()
    for name, command in main.commands.items():
        assert f"## regbench {name}\n" in reference
        assert f"Usage: regbench {name}" in reference
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in reference, f"regbench {name} {opt} is missing from the CLI reference"


def test_the_tutorial_includes_the_example_plugin_code():
    tutorial = (DOCS / "plugin-tutorial.md").read_text(encoding="utf-8")
    included = re.findall(r'--8<-- "([^"]+)"', tutorial)
    assert "pyproject.toml" in included
    assert any(name.startswith("regbench_example.py") for name in included)


def test_the_tutorial_documents_every_field_a_strategy_reads_on_a_segment():
    """A plugin author reads segments (``final_metric``, not ``metric``): every field of Segment and Level is named."""
    import dataclasses

    from regbench.record import Level, Segment

    tutorial = (DOCS / "plugin-tutorial.md").read_text(encoding="utf-8")
    missing = [
        f.name
        for cls in (Segment, Level)
        for f in dataclasses.fields(cls)
        if f.name != "index" and f"`{f.name}`" not in tutorial
    ]
    assert not missing, f"docs/plugin-tutorial.md does not name these Segment/Level fields: {missing}"


def test_the_running_page_does_not_say_a_single_run_runs_without_isolation():
    running = " ".join((DOCS / "running.md").read_text(encoding="utf-8").split())
    assert "runs in the `regbench` process itself (without a timeout" not in running
    assert "It still runs in a worker process of its own" in running


def test_code_blocks_fit_a_laptop_screen():
    """At 1366 px the docs cut commands under the copy button: commands wrap, outputs keep their columns in a smaller
    font (docs/stylesheets/extra.css), which needs a language on every fenced block and the class on the page."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8").replace("!!python", "#"))
    assert "stylesheets/extra.css" in config["extra_css"]
    highlight = next(e for e in config["markdown_extensions"] if isinstance(e, dict) and "pymdownx.highlight" in e)
    assert highlight["pymdownx.highlight"]["pygments_lang_class"] is True
    css = (DOCS / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    assert ".language-bash pre code" in css and "pre-wrap" in css and ".language-text pre code" in css
    for page in DOCS.glob("*.md"):
        fences = re.findall(r"^\s*```(\S*)", page.read_text(encoding="utf-8"), flags=re.M)
        openings = fences[::2]
        assert all(openings), f"{page.name}: a fenced block without a language gets no width rule"
