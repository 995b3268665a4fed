"""``regbench audit``: stability of strategy × case setups under sampling seeds, thread counts and start noise,
and the gradient audit of the cases' metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from regbench.cases.case import Case, CaseError
from regbench.cli.common import F, cli_plugin_manager, echo_json, make_console
from regbench.diagnostics.stability_audit import SOURCES, AuditResult, audit, audit_lines
from regbench.plugin.manager import RegbenchPluginManager
from regbench.report.load.case_of_run import CaseResolver
from regbench.report.text.one_run import as_text


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise click.BadParameter(f"expected integers ≥ 1, got {text!r}")
    return values


def _distance_option(name: str, default: float, help: str) -> Callable[[F], F]:
    """An option holding a length in the case's physical units (≥ 0)."""
    return click.option(name, default=default, show_default=True, type=click.FloatRange(0), help=help)


@click.command("audit")
@click.option("-s", "--strategy", "strategies", multiple=True, help="Strategy to audit (repeatable).")
@click.option("-c", "--case", "cases", multiple=True, help="Case to audit (repeatable).")
@click.option(
    "--cases",
    "case_files",
    multiple=True,
    metavar="FILE",
    help="A TOML case file (repeatable): its cases can be audited; without --case, every one of them is.",
)
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(1), help="Runs per seeded source.")
@click.option(
    "--threads",
    "threads_text",
    default="1,2",
    show_default=True,
    help="ITK thread counts the threads source compares (a count given twice repeats it); the other sources run on "
    "one thread, as regbench run does.",
)
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1), help="Same-key repeats.")
@_distance_option(
    "--perturbation", 0.5, "Standard deviation of the start's shift per axis (physical units); 0 skips the source."
)
@_distance_option("--tolerance", 0.1, "Spread (physical units) above which a source is unstable.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Choice(SOURCES),
    help="Only these noise sources (repeatable; default all).",
)
@click.option("--gradients", is_flag=True, help="Also run the gradient audit of each case's metric (cached).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE", help="Also import this plugin module.")
def audit_command(
    strategies: tuple[str, ...],
    cases: tuple[str, ...],
    case_files: tuple[str, ...],
    seeds: int,
    threads_text: str,
    repeats: int,
    perturbation: float,
    tolerance: float,
    sources: tuple[str, ...],
    gradients: bool,
    as_json: bool,
    plugins: tuple[str, ...],
) -> None:
    """Stability audit: rerun each strategy × case under one noise source at a time (same-key repeats, thread
    counts, sampling seeds, small start perturbations), each on the one-thread key regbench run uses but the
    thread source, and report the spread of the error and of the returned transform per source. Exit status 1
    when a setup is flagged unstable."""
    if not strategies or not (cases or case_files):
        raise click.UsageError("give at least one --strategy and one --case (or a --cases FILE)")
    threads = _ints(threads_text)
    pm = cli_plugin_manager(plugins)
    chosen = _cases(pm, cases, case_files)
    for name in strategies:
        if name not in pm.strategies():
            raise click.BadParameter(f"unknown strategy {name!r}", param_hint="--strategy")
    results: list[AuditResult] = []
    grads: list[dict[str, Any]] = []
    for case in chosen:
        if gradients:
            from regbench.diagnostics.gradient_audit import audit_case_cached

            grads.append(audit_case_cached(case))
        for strategy in strategies:
            results.append(
                audit(
                    strategy,
                    case,
                    seeds=seeds,
                    threads=threads,
                    repeats=repeats,
                    perturbation=perturbation,
                    tolerance=tolerance,
                    sources=tuple(sources) or SOURCES,
                    pm=pm,
                )
            )
    if as_json:
        echo_json({"stability": [r.as_dict() for r in results], "gradients": grads})
    else:
        console = make_console()
        for g in grads:
            cos = ", ".join("–" if c is None else f"{c:+.3f}" for c in g["cosines"])
            flag = "FLAGGED" if g["flagged"] else "ok"
            console.print(
                as_text(f"gradient audit {g['case']} ({g['metric']}): first-step cosines {cos}: {flag}"), soft_wrap=True
            )
        for r in results:
            for line in audit_lines(r):
                console.print(as_text(line), highlight=False, soft_wrap=True)
    if any(r.flagged for r in results):
        click.get_current_context().exit(1)


def _cases(pm: RegbenchPluginManager, names: tuple[str, ...], case_files: tuple[str, ...]) -> list[Case]:
    """The cases to audit by name (registered, or of a ``--cases`` file), else every case of the files."""
    try:
        resolver = CaseResolver(pm, case_files)
    except CaseError as exc:
        raise click.BadParameter(str(exc), param_hint="--cases") from exc
    if not names:
        return list(resolver.given_cases().values())
    try:
        return [resolver.resolve(name) for name in names]
    except CaseError as exc:
        raise click.BadParameter(str(exc), param_hint="--case") from exc
