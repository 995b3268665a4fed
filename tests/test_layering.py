"""The package's layering, enforced by folder (issue 23): each folder of ``regbench/`` (and each module at its top)
imports only those below it in :data:`LAYERS`, ``report/``'s folders likewise in :data:`REPORT_LAYERS`, and no
module imports itself back through others.

Every import counts: at module level, under ``if TYPE_CHECKING:`` and inside functions (a deferred import that
points up still makes the lower part depend on the upper one). The sources are read with ``ast`` by
``tools/import_graph.py`` (nothing is imported), so the test is quick and sees every module, including ones no test
imports. ``python tools/import_graph.py --folders`` prints the layers and cycles.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from import_graph import Import, all_imports, cycles, graph_of, imports_of, module_files  # noqa: E402

#: regbench's parts, bottom to top: a part may import the parts before it. A part is a folder of ``regbench/`` or
#: a module at its top; "api" is the package root (``import regbench``), which gathers the public names.
LAYERS = (
    "util",  # helpers that import nothing of regbench: strict JSON, transforms, TOML, console, memory, names
    "version",
    "trace",  # the record's data
    "record",
    "cases",  # the Case model, its setup, case files, simulated and tiny cases
    "engines",  # what a strategy reports of an execution another engine made
    "harness",  # the RunContext a strategy drives, ctx.execute() and its event capture
    "strategy",  # strategies, parameters, probe families
    "evaluation",  # measures, post-run positions, tolerance, outcomes, stop vocabulary
    "hookspecs",
    "plugin",  # the plugin manager
    "run",  # run_one: one run to a complete record
    "store",  # SQLite store, leases, exports
    "diagnostics",  # probe, gradient audit, stability audit
    "testing",  # the contract kit for plugin authors
    "runner",  # matrix, run files, schedule, executors, isolation, Dask
    "api",
    "notebook",  # a front end beside the command line
    "report",
    "cli",
)
#: ``report/``'s folders, bottom to top.
REPORT_LAYERS = ("load", "stats", "decide", "text", "figures", "html", "gates")
#: What the built-in plugins may import besides each other: the package root, its public names (as a plugin of one's
#: own does; tests/test_public_api.py checks the names).
API = "regbench"
PLUGIN_MAY_IMPORT = (API,)

#: What ``import regbench.store.exports`` must not load: writing a CSV of stored records needs no plan and no
#: workers (the package root, which every import loads first, gathers the public API but not the runner).
EXPORTS_MUST_NOT_LOAD = ("regbench.runner",)


def part_of(module: str) -> str:
    """``regbench.report.stats.pairs`` → ``report``; ``regbench`` → ``api``; a built-in plugin → ``plugins``."""
    parts = module.split(".")
    if parts[0] == "regbench_plugins":
        return "plugins"
    return "api" if len(parts) == 1 else parts[1]


def report_part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["regbench", "report"] and len(parts) > 3 else None


def upward_imports(imports: list[Import]) -> list[str]:
    """Every import of a part above the importer's (or, inside ``report/``, of a folder above its own)."""
    found = []
    for i in imports:
        a, b = part_of(i.importer), part_of(i.imported)
        if a == "plugins":
            toolkit = (i.imported == m or (m != API and i.imported.startswith(m + ".")) for m in PLUGIN_MAY_IMPORT)
            allowed = b == "plugins" or any(toolkit)
            if not allowed:
                found.append(f"{i.importer}:{i.line} (a built-in plugin) imports {i.imported}")
            continue
        if b == "plugins":
            found.append(f"{i.importer}:{i.line} imports the built-in plugin {i.imported}: plugins are loaded")
        elif LAYERS.index(b) > LAYERS.index(a):
            found.append(f"{i.importer}:{i.line} ({a}) imports {i.imported} ({b}), a part above it")
        elif a == b == "report":
            ra, rb = report_part_of(i.importer), report_part_of(i.imported)
            if ra and rb and REPORT_LAYERS.index(rb) > REPORT_LAYERS.index(ra):
                found.append(f"{i.importer}:{i.line} (report/{ra}) imports {i.imported} (report/{rb}), above it")
    return found


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


def test_every_import_goes_down_the_layers():
    assert upward_imports(all_imports()) == []


def test_no_module_imports_itself_back_through_others():
    assert cycles(graph_of((i.importer, i.imported) for i in all_imports())) == []


def test_no_folder_imports_itself_back_through_others():
    assert cycles(graph_of((part_of(i.importer), part_of(i.imported)) for i in all_imports())) == []


def test_exporting_records_does_not_load_the_plan_or_the_workers():
    loaded = loaded_by("regbench.store.exports", all_imports())
    assert "regbench.record" in loaded and "regbench.util.strict_json" in loaded  # the scan follows the imports
    assert sorted(m for m in loaded if m.startswith(EXPORTS_MUST_NOT_LOAD)) == []


def test_every_module_is_in_a_part():
    parts = {part_of(m) for m in module_files()}
    assert parts <= {*LAYERS, "plugins"}, parts - {*LAYERS, "plugins"}
    folders = {m.split(".")[2] for m in module_files() if report_part_of(m)}
    assert folders <= set(REPORT_LAYERS), folders - set(REPORT_LAYERS)


def test_the_core_a_newcomer_opens_is_at_the_top_of_the_package():
    top = sorted(p.name for p in (ROOT / "regbench").glob("*.py"))
    core = ["harness.py", "hookspecs.py", "record.py", "run.py", "strategy.py", "trace.py"]
    assert sorted(set(top) - set(core)) == ["__init__.py", "notebook.py", "version.py"]


# -- the scanner and the rules, on made-up sources -------------------------------------------------------------


def test_the_scan_sees_deferred_type_only_and_relative_imports():
    source = """
from typing import TYPE_CHECKING
from regbench.util import names
import regbench.util.console.sub
from .util import toml_lines
if TYPE_CHECKING:
    from regbench.cli.common import make_console
def f():
    from regbench.report.figures import common
"""
    modules = {"regbench", "regbench.util", "regbench.util.names", "regbench.util.console"}
    modules |= {"regbench.util.toml_lines", "regbench.cli.common", "regbench.report.figures.common"}
    modules |= {"regbench.report", "regbench.report.figures", "regbench.record"}
    found = {(i.imported, i.at_import_time) for i in imports_of("regbench.record", source, False, modules)}
    assert found == {
        ("regbench.util.names", True),
        ("regbench.util.console", True),
        ("regbench.util.toml_lines", True),
        ("regbench.cli.common", False),
        ("regbench.report.figures.common", False),
    }
    upward = upward_imports([Import("regbench.record", m, 1, t) for m, t in found])
    assert len(upward) == 2 and all("(cli)" in u or "(report)" in u for u in upward)


def test_a_deliberate_upward_import_fails_the_rules():
    """An import from a lower folder into a higher one, inside report/ and from a built-in plugin into the core."""
    deliberate = [
        Import("regbench.cases.case", "regbench.runner.matrix", 10, False),
        Import("regbench.report.stats.pairs", "regbench.report.html.page", 11, False),
        Import("regbench_plugins.lbfgs", "regbench.run", 12, True),
    ]
    assert [u.split(" ")[0] for u in upward_imports(deliberate)] == [
        "regbench.cases.case:10",
        "regbench.report.stats.pairs:11",
        "regbench_plugins.lbfgs:12",
    ]
    # and the same upward import added to the real sources' imports
    assert upward_imports([*all_imports(), deliberate[0]]) == upward_imports(deliberate[:1])


def test_a_cycle_is_found_and_loading_follows_module_level_imports_only():
    chain = [Import("a", "b", 1, True), Import("b", "c", 1, False), Import("c", "a", 1, False)]
    assert cycles(graph_of((i.importer, i.imported) for i in chain)) == [["a", "b", "c"]]
    assert loaded_by("a", chain) == {"a", "b"}
