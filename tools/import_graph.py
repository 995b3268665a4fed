"""regbench's import graph, read from the sources with ``ast`` (nothing is imported): its cycles and its layers.

    python tools/import_graph.py             # modules as nodes
    python tools/import_graph.py --folders   # each folder of regbench/ one node (report/ and its subfolders one)

Every import counts: at module level, under ``if TYPE_CHECKING:`` and inside functions (a deferred import still
makes one module depend on another). A layer is one step of the longest import chain (the modules of a cycle
count as one node), so "9 layers" means the longest chain of imports passes 9 nodes. ``tests/test_layering.py``
uses this scanner for its rules.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def graph_of(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    return graph


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components (Tarjan), each sorted; a node outside any cycle is one of its own."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        order[v] = low[v] = len(order)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = []
            while not group or group[-1] != v:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            found.append(sorted(group))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of nodes that import each other through some chain."""
    return [group for group in components(graph) if len(group) > 1]


def layers(graph: dict[str, set[str]]) -> list[str]:
    """The longest import chain, a cycle counted as one node: its nodes from the importer down."""
    group_of = {v: i for i, group in enumerate(components(graph)) for v in group}
    groups = components(graph)
    below: dict[int, list[int]] = {}
    for v, targets in graph.items():
        below.setdefault(group_of[v], [])
        below[group_of[v]] += [group_of[w] for w in targets if group_of[w] != group_of[v]]
    chain: dict[int, list[int]] = {}

    def longest(g: int) -> list[int]:
        if g not in chain:
            best = max((longest(h) for h in below.get(g, ())), key=len, default=[])
            chain[g] = [g, *best]
        return chain[g]

    path = max((longest(g) for g in range(len(groups))), key=len, default=[])
    return [" + ".join(groups[g]) for g in path]


def folder_of(module: str) -> str:
    """``regbench.report.stats.pairs`` → ``regbench.report``; a top-level module of regbench is its own node."""
    parts = module.split(".")
    if parts[0] != "regbench" or len(parts) <= 2:
        return module if parts[0] == "regbench" else parts[0]
    top = ".".join(parts[:2])
    return top if (ROOT / "regbench" / parts[1]).is_dir() else module


def summary(imports: list[Import], node: Callable[[str], str] = lambda m: m) -> tuple[list[str], list[list[str]]]:
    graph = graph_of((node(i.importer), node(i.imported)) for i in imports)
    return layers(graph), cycles(graph)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", action="store_true", help="each folder of regbench/ one node")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args()
    imports = all_imports(args.root)
    chain, loops = summary(imports, folder_of if args.folders else (lambda m: m))
    print(f"{len(module_files(args.root))} modules, {len(imports)} imports")
    print(f"{len(chain)} layers (the longest import chain):")
    for step in chain:
        print(f"  {step}")
    print(f"{len(loops)} cycles" + (":" if loops else ""))
    for loop in loops:
        print(f"  {' ↔ '.join(loop)}")


if __name__ == "__main__":
    main()
