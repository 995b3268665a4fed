"""The public API is the whole story: typed, exported from ``regbench``, enough for the built-in plugins (which use
nothing else, like a third-party plugin), and what the plugin docs send authors to."""

from __future__ import annotations

import ast
import importlib.resources
import inspect
import re
from pathlib import Path

import pytest

import regbench
from regbench import hookspecs
from regbench.plugin.manager import hook_names

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_MODULES = sorted((ROOT / "plugins" / "regbench_plugins").glob("*.py"))


def test_the_package_says_it_is_typed():
    assert importlib.resources.files("regbench").joinpath("py.typed").is_file()


@pytest.mark.parametrize("hook", hook_names())
def test_every_hookspec_is_typed(hook):
    signature = inspect.signature(getattr(hookspecs, hook))
    assert signature.return_annotation is not inspect.Signature.empty, f"{hook} has no return annotation"
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()), hook


def test_everything_exported_is_importable_and_what_plugins_need_is_there():
    for name in regbench.__all__:
        assert hasattr(regbench, name), name
    needed = {
        "hookimpl",
        "Strategy",
        "SingleRunStrategy",
        "param",
        "ParameterError",
        "UnsupportedSetup",
        "Case",
        "CaseData",
        "Setup",
        "RunContext",
        "ExecutionFailed",
        "IterationEvent",
        "Segment",
        "Level",
        "RunRecord",
        "STOP_CATEGORIES",
        "MEASURE_FIELDS",
        "is_no_overlap",
        "is_no_overlap_error",
        "as_float",
        "corner_shift_scales",
        "transform_from_dict",
        "Store",
        "PluginError",
        "make_plugin_manager",
        "run_one",
    }
    assert needed <= set(regbench.__all__)


def _private_uses(path: Path) -> list[str]:
    """The regbench names a module uses that are not in ``regbench.__all__`` (submodule imports included)."""
    public = set(regbench.__all__)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("regbench.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "regbench":
            if node.module != "regbench":
                found += [f"{node.module}.{a.name}" for a in node.names]
            else:
                found += [f"regbench.{a.name}" for a in node.names if a.name not in public]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "regbench":
            found += [f"regbench.{node.attr}"] if node.attr not in public else []
    return sorted(set(found))


@pytest.mark.parametrize("path", BUILTIN_MODULES, ids=[p.name for p in BUILTIN_MODULES])
def test_builtin_plugins_use_only_public_names(path):
    assert _private_uses(path) == [], f"{path.name} uses names a third-party plugin cannot rely on"


def test_the_meta_test_sees_private_uses(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import regbench\nfrom regbench.evaluation.stops import is_no_overlap\nfrom regbench import Strategy, _x\n"
        "regbench.cases.case.as_float\nregbench.Strategy\n"
    )
    assert _private_uses(module) == ["regbench._x", "regbench.cases", "regbench.evaluation.stops.is_no_overlap"]


def test_the_test_kit_imports_no_private_names():
    for name in ("testing/__init__.py", "testing/fixtures.py", "testing/checks.py"):
        tree = ast.parse((ROOT / "regbench" / name).read_text(encoding="utf-8"))
        private = [
            a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("regbench")
            for a in node.names
            if a.name.startswith("_")
        ]
        assert private == [], f"regbench/{name} imports {private}"


def test_the_plugin_docs_send_authors_only_to_public_names():
    pages = ["plugin-tutorial.md", "hooks.md", "testing.md"]
    dotted = re.compile(r"`(regbench\.[a-z_]+\.[A-Za-z_][\w.]*)")
    for page in pages:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        private = [m for m in dotted.findall(text) if not m.startswith("regbench.testing.")]
        assert private == [], f"docs/{page} names {private}: use the public regbench.<name>"
