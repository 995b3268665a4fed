"""The package's layering, enforced (issue 15): a lower part never imports an upper one, and no module imports
itself back through others.

Every import counts: at module level, under ``if TYPE_CHECKING:`` and inside functions (a deferred import that
points up still makes the lower part depend on the upper one). The sources are read with ``ast``, nothing is
imported, so the test is quick and sees every module, including ones no test imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The parts of the code, top to bottom, each by module-name prefix (the longest matching prefix wins).
PARTS = {
    "regbench.cli": "cli",  # the command line: may use everything
    "regbench.report": "report",  # tables, figures, HTML: everything but the command line
    "regbench.notebook": "front end",  # the notebook's live plot: a front end beside the CLI
    "regbench": "core",  # the benchmark itself: the plan, runs, records, the store, the plugin manager
    "regbench.names": "leaf",
    "regbench.console": "leaf",
    "regbench.tomllines": "leaf",
    "regbench.itktext": "leaf",
    "regbench.periodic": "leaf",
    "regbench.provenance": "leaf",
    "regbench.strictjson": "leaf",
    "regbench.pluginsources": "leaf",
    "regbench.setups": "leaf",
    "regbench.tolerance": "leaf",
    "regbench_plugins": "built-in plugins",  # plugins like any other: the public API only
}
API = "regbench"  # the package itself: the public API, which imports the core

#: Which parts each part may import. "api" is the package root (``import regbench``, ``from regbench import X``).
MAY_IMPORT = {
    "cli": {"cli", "report", "front end", "api", "core", "leaf"},
    "report": {"report", "api", "core", "leaf"},
    "front end": {"front end", "api", "core", "leaf"},
    "api": {"core", "leaf"},
    "core": {"core", "leaf"},
    "leaf": set(),  # imports nothing from regbench: the modules below everything else
    "built-in plugins": {"built-in plugins", "api"},
}

#: Imports that break the rules today, each with why; every one is inside a function or type-only, so it does
#: not run at import time. A new one fails the test; fixing one only makes its entry unneeded.
KNOWN = {
    ("regbench.run", API): "the versions recorded in every run read regbench.__version__ (the root imports run)",
    ("regbench.audit", API): "audit() builds its manager with regbench.make_plugin_manager (regbench.plugins has it)",
    ("regbench.store", "regbench.exports"): "Store.to_dataframe delegates to exports, which reads stores",
    ("regbench.outcomes", "regbench.stops"): "judge reads the no-overlap tests of stops, whose judge_outcome wraps it",
    ("regbench.hookspecs", "regbench.probe"): "ProbeFamily is defined in probe, which builds a plugin manager",
    ("regbench.plugins", "regbench.probe"): "the same: ProbeFamily belongs in a module below the manager",
}

#: What ``import regbench.exports`` must not load: writing a CSV of stored records needs no plan and no workers.
EXPORTS_MUST_NOT_LOAD = ("regbench.matrix", "regbench.isolation", "regbench.worker", "regbench.executors")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    at_import_time: bool  # module level and not under ``if TYPE_CHECKING:``: it runs when the module is imported


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of regbench and of the built-in plugins, by dotted name."""
    files = {}
    for base, package in ((root, "regbench"), (root / "plugins", "regbench_plugins")):
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports_of(name: str, source: str, is_package: bool, modules: set[str]) -> list[Import]:
    """The imports of one module's source that name a module of ours (``from P import m`` names ``P.m`` when
    that is a module, else ``P``)."""
    found: list[Import] = []

    def visit(node: ast.AST, at_import_time: bool) -> None:
        for child in ast.iter_child_nodes(node):
            runs_now = at_import_time
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                runs_now = False
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for branch in child.body:
                    visit_one(branch, False)
                for branch in child.orelse:
                    visit_one(branch, at_import_time)
                continue
            visit_one(child, runs_now)

    def visit_one(node: ast.AST, at_import_time: bool) -> None:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(package + ([node.module] if node.module else []))
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [s for s in subs if s in modules] or [base]
        for target in targets:
            while target and target not in modules:  # ``import a.b.c`` of a name below a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append(Import(name, target, getattr(node, "lineno", 0), at_import_time))
        visit(node, at_import_time)

    visit(ast.parse(source), True)
    return found


def all_imports(root: Path = ROOT) -> list[Import]:
    files = module_files(root)
    modules = set(files)
    return [
        found
        for name, path in files.items()
        for found in imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", modules)
    ]


def part_of(module: str) -> str:
    if module == API:
        return "api"
    prefixes = [p for p in PARTS if module == p or module.startswith(p + ".")]
    return PARTS[max(prefixes, key=len)]


def upward_imports(imports: list[Import]) -> list[str]:
    return [
        f"{i.importer}:{i.line} ({part_of(i.importer)}) imports {i.imported} ({part_of(i.imported)})"
        for i in imports
        if part_of(i.imported) not in MAY_IMPORT[part_of(i.importer)] and (i.importer, i.imported) not in KNOWN
    ]


def cycles(imports: list[Import]) -> list[list[str]]:
    """The groups of modules that import each other, through any chain (the known imports left out)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        if (i.importer, i.imported) not in KNOWN:
            graph.setdefault(i.importer, set()).add(i.imported)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def strongly_connected(v: str) -> None:  # Tarjan's algorithm
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in order:
                strongly_connected(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in order:
            strongly_connected(v)
    return groups


def loaded_by(module: str, imports: list[Import]) -> set[str]:
    """Every module importing ``module`` loads (its packages' ``__init__`` included), from the sources."""
    now: dict[str, set[str]] = {}
    for i in imports:
        if i.at_import_time:
            now.setdefault(i.importer, set()).add(i.imported)
    loaded: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parents = [".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 1)]
        for found in [name, *parents]:
            if found not in loaded:
                loaded.add(found)
                todo += sorted(now.get(found, ()))
    return loaded


# -- the rules ------------------------------------------------------------------------------------------------


def test_every_import_goes_down_the_table():
    assert upward_imports(all_imports()) == []


def test_no_module_imports_itself_back_through_others():
    assert cycles(all_imports()) == []


def test_only_the_command_line_imports_the_command_line():
    outside = [i for i in all_imports() if part_of(i.imported) == "cli" and part_of(i.importer) != "cli"]
    assert outside == []


def test_exporting_records_does_not_load_the_plan_or_the_workers():
    loaded = loaded_by("regbench.exports", all_imports())
    assert "regbench.store" in loaded and "regbench.names" in loaded  # the scan follows the imports
    assert sorted(loaded & set(EXPORTS_MUST_NOT_LOAD)) == []


def test_every_module_is_in_a_part_and_every_known_exception_names_modules():
    modules = set(module_files())
    assert all(part_of(m) in MAY_IMPORT for m in modules)
    assert {m for edge in KNOWN for m in edge} <= modules


# -- the scanner itself, on made-up sources ---------------------------------------------------------------------


def test_the_scan_sees_deferred_type_only_and_relative_imports():
    source = """
from typing import TYPE_CHECKING
from regbench import names
import regbench.console.sub
from . import tomllines
if TYPE_CHECKING:
    from regbench.cli.common import make_console
def f():
    from regbench.report import figures
"""
    modules = {"regbench", "regbench.names", "regbench.console", "regbench.tomllines", "regbench.cli.common"}
    modules |= {"regbench.report", "regbench.report.figures", "regbench.record"}
    found = {(i.imported, i.at_import_time) for i in imports_of("regbench.record", source, False, modules)}
    assert found == {
        ("regbench.names", True),
        ("regbench.console", True),
        ("regbench.tomllines", True),
        ("regbench.cli.common", False),
        ("regbench.report.figures", False),
    }
    upward = upward_imports([Import("regbench.record", m, 1, t) for m, t in found])
    assert len(upward) == 2 and all("(cli)" in u or "(report)" in u for u in upward)


def test_a_cycle_is_found_and_loading_follows_module_level_imports_only():
    chain = [Import("a", "b", 1, True), Import("b", "c", 1, False), Import("c", "a", 1, False)]
    assert cycles(chain) == [["a", "b", "c"]]
    assert loaded_by("a", chain) == {"a", "b"}
