"""``regbench report``, ``regbench compare`` and ``regbench show``: results for people, and regression gates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from regbench.cli.common import F, echo_json, make_console
from regbench.cli.race import print_race
from regbench.report.gates import compare as cmp
from regbench.report.load.columns import Runs, SourceError
from regbench.report.load.sources import load_runs
from regbench.store.sqlite import DEFAULT_STORE
from regbench.util.console import markup_safe, visible

if TYPE_CHECKING:  # imported where used: most commands need none of them
    from rich.console import Console
    from rich.table import Table

    from regbench.report.decide.answer import Recommendation
    from regbench.report.load.case_of_run import CaseResolver
    from regbench.report.stats.repeats import RepeatSpread

# Ground-truth errors (truth transform) and landmark TRE (measures); each stands in for the other on cases
# that have only one of them (regbench.report.stats.across_instances.STAND_INS).
ERROR_FIELDS = (
    "error_mean",
    "error_p95",
    "error_max",
    "error_mean_fg",
    "error_p95_fg",
    "error_max_fg",
    "tre_mean",
    "tre_p95",
    "tre_max",
)


def _load(path: str, case_files: Sequence[str] = ()) -> Runs:
    try:
        return load_runs(path, case_files)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from exc


def error_option(what: str, fallback: str = "") -> Callable[[F], F]:
    """``--error``: which error a command uses (``what`` it is for; ``fallback``: what it does with a case that has
    neither it nor its counterpart)."""
    return click.option(
        "--error",
        "error",
        type=click.Choice(ERROR_FIELDS),
        default="error_mean",
        show_default=True,
        help=f"{what} (_fg: over the foreground; tre_*: landmark TRE). A case without it uses its counterpart "
        f"(landmark TRE for error_*, and back){fallback}.",
    )


def _tolerance_option(where: str = "") -> Callable[[F], F]:
    return click.option(
        "--tolerance",
        type=float,
        default=None,
        help=f"Errors closer than this to the best's (in the case's physical units) count as equally good{where}. "
        "Default: half the smallest voxel spacing of each case.",
    )


# Exact names (or a parameter grid's solver labels), unlike run's and export's patterns: see _filter.
_only_cases = click.option("-c", "--case", "cases", multiple=True, help="Only these cases (repeatable).")
_only_strategies = click.option(
    "-s", "--strategy", "strategies", multiple=True, help="Only these strategies (repeatable)."
)
case_files_option = click.option(
    "--cases",
    "case_files",
    multiple=True,
    metavar="FILE",
    help="A TOML case file the runs' cases come from (repeatable); needed only where a run's own case file moved "
    "or changed since the run (the record keeps its path and the digest of the case).",
)


def case_resolver(case_files: tuple[str, ...]) -> CaseResolver:
    """The case resolver of a command, its ``--cases`` files read now: a bad one is a usage error naming it."""
    from regbench.cases.case import CaseError
    from regbench.report.load.case_of_run import CaseResolver

    try:
        return CaseResolver(case_files=case_files)
    except CaseError as exc:
        raise click.BadParameter(str(exc), param_hint="--cases") from exc


@click.command("report")
@click.option(
    "--store",
    "source",
    default=DEFAULT_STORE,
    show_default=True,
    help="Result store (or a JSON / JSON-lines record file, or pytest-benchmark JSON).",
)
@click.option(
    "--by",
    type=click.Choice(["strategy", "case"]),
    default="strategy",
    show_default=True,
    help="One row per strategy, or per strategy × case.",
)
@error_option("The accuracy measure the tables and targets use")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), help="Also write an HTML report into DIR.")
@click.option("--no-stats", is_flag=True, help="Only the summary table.")
@_tolerance_option(" in the recommendation")
@_only_cases
@_only_strategies
@click.option(
    "--measure",
    "measures",
    multiple=True,
    metavar="NAME",
    help="Add a column with the median of a plugin's numeric measure (record.measures[NAME]; repeatable). "
    "Every plugin measure is in the HTML report's summary.csv and in regbench export.",
)
@case_files_option
def report_command(
    source: str,
    by: str,
    error: str,
    html_dir: str | None,
    no_stats: bool,
    tolerance: float | None,
    cases: tuple[str, ...],
    strategies: tuple[str, ...],
    measures: tuple[str, ...],
    case_files: tuple[str, ...],
) -> None:
    """Summarize a result store: outcomes, iterations, errors and time per strategy, with statistics and a
    recommendation."""
    from regbench.report.load.instances import notes
    from regbench.report.stats import across_instances as stats
    from regbench.report.stats.summary import summary_table
    from regbench.report.text import host_times_table, hosts_table, repeats_table
    from regbench.report.text.tables import first_hit_table, fit_table, paired_tests_table, success_table

    case_resolver(case_files)  # a bad --cases file is a usage error, found before any table
    runs = _filter(_load(source, case_files), cases, strategies)
    if html_dir:
        _check_html_dir(html_dir)  # before the tables: a bad directory is a usage error, found at once
    console = make_console()
    if not len(runs):
        console.print(f"{markup_safe(source)}: no runs yet")
        return

    def show(table: Table) -> None:
        console.print(fit_table(table, console.width))

    measures = _check_measures(runs, measures)
    show(summary_table(runs, by=by, error=error, measures=measures))
    # copies among the seeds, runs not known to be reproducible: what every figure below must be read with
    for line in notes(runs):
        console.print(f"[yellow]note:[/] {markup_safe(line)}")
    if spreads := _repeat_spreads(runs):
        show(repeats_table.repeats_table(spreads))
    hosts_table.show_hosts(runs, show)  # only where the runs come from several hosts
    host_times_table.show_host_times(source, runs, show, console)  # likewise: times ÷ each host's calibration
    if not no_stats:
        show(success_table(runs, stats.instance_results(runs, error), error))
        show(first_hit_table(runs, error))
        if len(set(runs.solver)) > 1:
            show(paired_tests_table(runs, (error, "wall_time_s")))
        _print_recommendations(console, runs, error, tolerance, cases=False, case_files=case_files)
    if html_dir:
        from regbench.report.html.page import ReportError, write_html

        try:
            with console.status("writing the HTML report"):
                result = write_html(
                    runs, html_dir, error=error, tolerance=tolerance, measures=measures, case_files=case_files
                )
        except ReportError as exc:
            raise click.BadParameter(str(exc), param_hint="--html") from exc
        console.print(
            f"HTML report: {markup_safe(result.index)} ({len(result.files) - 1} files beside it)", highlight=False
        )


def _print_recommendations(
    console: Console,
    runs: Runs,
    error: str,
    tolerance: float | None,
    cases: bool = True,
    wins: bool = False,
    case_files: Sequence[str] = (),
) -> list[Recommendation]:
    from regbench.report.decide.per_case import recommend_all
    from regbench.report.text.recommend_tables import recommendation_table, win_table

    one_case = len(set(runs["case"].tolist())) == 1
    recs = recommend_all(runs, error, tolerance, cases=cases or one_case, case_files=case_files)
    from regbench.report.text.tables import fit_table

    for rec in recs:
        console.print(fit_table(recommendation_table(rec), console.width))
        if wins:
            console.print(fit_table(win_table(rec), console.width))
        for line in rec.verdict:
            console.print(markup_safe(line))
    return recs


@click.command("recommend")
@click.option("--store", "source", default=DEFAULT_STORE, show_default=True, help="Result store (or record file).")
@error_option("The accuracy measure the recommendation compares")
@_tolerance_option()
@_only_cases
@_only_strategies
@click.option("--json", "as_json", is_flag=True, help="Print the recommendations as JSON.")
@case_files_option
def recommend_command(
    source: str,
    error: str,
    tolerance: float | None,
    cases: tuple[str, ...],
    strategies: tuple[str, ...],
    as_json: bool,
    case_files: tuple[str, ...],
) -> None:
    """Which strategy to use, per case and over all cases: the best within a tolerance, with the evidence
    (mean ranks, Wilcoxon–Holm critical-difference groups, a Bayesian signed-rank test with a ROPE, a win matrix,
    failure rate, folding and time). Demonstrations of a failure are shown, never recommended. Each case is
    decided by the strongest evidence it has (truth, landmarks, labels, its simulated instances, then the dense
    metric and the spread over seeds) and the verdict says which."""
    from regbench.report.decide.evidence import SIMULATED_SUFFIX

    # -c NAME keeps NAME's simulated companion: the evidence the answer for NAME may be decided by
    case_resolver(case_files)  # a bad --cases file is a usage error, before the store is read
    runs = _filter(_load(source, case_files), (*cases, *(c + SIMULATED_SUFFIX for c in cases)), strategies)
    if not len(runs):
        click.echo(f"{visible(source)}: no runs" + (" matching the filters" if cases or strategies else ""))
        return
    if as_json:
        from regbench.report.decide.per_case import recommend_all
        from regbench.report.text.recommend_tables import to_jsonable

        echo_json([to_jsonable(r) for r in recommend_all(runs, error, tolerance, case_files=case_files)])
        return
    _print_recommendations(make_console(), runs, error, tolerance, cases=True, wins=True, case_files=case_files)
    print_race(source, [str(k) for k in runs["key"].tolist()])


def _filter(runs: Runs, cases: Sequence[str] = (), strategies: Sequence[str] = ()) -> Runs:
    """Only the runs of ``cases`` and ``strategies`` (names, or the solver labels of a parameter grid)."""
    import numpy as np

    mask = np.ones(len(runs), dtype=bool)
    if cases:
        mask &= np.isin(runs["case"].astype(str), list(cases))
    if strategies:
        mask &= np.isin(runs["strategy"].astype(str), list(strategies)) | np.isin(
            runs.solver.astype(str), list(strategies)
        )
    return runs if mask.all() else runs.subset(mask)


def _repeat_spreads(runs: Runs) -> list[RepeatSpread]:
    """The spread of every strategy × case × seed group that was repeated (``regbench run --repeat``); full
    records are read only for those groups."""
    from regbench.report.stats.repeats import repeat_spreads

    repeat = runs["repeat"]
    if not len(runs) or not (repeat > 0).any():
        return []
    groups = list(zip(runs.solver.tolist(), runs["case"].tolist(), runs["seed"].tolist(), strict=True))
    repeated = {group for group, r in zip(groups, repeat.tolist(), strict=True) if r > 0}
    keys = [key for key, group in zip(runs["key"].tolist(), groups, strict=True) if group in repeated]
    return repeat_spreads(runs.records(keys))


def _check_measures(runs: Runs, measures: tuple[str, ...]) -> tuple[str, ...]:
    """The plugin measures asked for, each one some run has; otherwise a usage error listing those there are."""
    from regbench.report.load.columns import plugin_measures

    known = plugin_measures(runs)
    names = tuple(m.removeprefix("measures.") for m in measures)
    unknown = [m for m in names if m not in known]
    if unknown:
        there = ", ".join(known) if known else "none: no run has a numeric plugin measure"
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: no run has it; plugin measures: {there}", param_hint="--measure"
        )
    return names


def _check_html_dir(html_dir: str) -> None:
    from regbench.report.html.page import ReportError, prepare_dir

    try:
        prepare_dir(Path(html_dir))
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--html") from exc


@click.command("compare")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option(
    "--fail-on",
    "gates",
    multiple=True,
    metavar="GATE",
    help="Exit 1 when B regresses, or when the gate checks nothing (no strategy × case in both): "
    "'error_mean:+10%', 'wall_time_s:+20%', 'outcome:diverged' (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the per strategy × case figures as JSON.")
def compare_command(a: str, b: str, gates: tuple[str, ...], as_json: bool) -> None:
    """Compare two result sets (stores or pytest-benchmark JSON files): A is the baseline, B the new one."""
    try:
        parsed = [cmp.parse_gate(g) for g in gates]
    except cmp.GateError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from exc
    runs_a, runs_b = _load(a), _load(b)
    measures = cmp.measure_names(parsed)  # plugin measures the gates name, read from A and B
    try:
        for runs, path in ((runs_a, a), (runs_b, b)):
            cmp.add_measures(runs, path, measures)
        cmp.check_values(parsed, runs_a, runs_b)
    except cmp.GateError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from exc
    deltas = cmp.compare(runs_a, runs_b)
    if as_json:
        echo_json(cmp.to_jsonable(deltas))
    else:
        make_console().print(cmp.compare_table(deltas, a, b, extra=measures))
    if not any(d.a and d.b for d in deltas):
        click.echo("warning: A and B share no strategy × case: nothing to compare", err=True)
    # a gate that checks nothing fails: a passing gate must mean B was checked and did not regress
    unchecked = [reason for gate in parsed if (reason := cmp.unchecked(gate, deltas))]
    tripped = [message for gate in parsed for message in cmp.check(gate, deltas)]
    if tripped or unchecked:
        if tripped:
            click.echo(f"FAILED: {len(tripped)} regression gate hit(s):", err=True)
            for message in tripped:
                click.echo(f"  {visible(message)}", err=True)  # names from the records
        if unchecked:
            click.echo(f"FAILED: {len(unchecked)} gate(s) checked nothing:", err=True)
            for message in unchecked:
                click.echo(f"  {visible(message)}", err=True)
        raise SystemExit(1)
    if parsed:
        click.echo(f"passed: {', '.join(g.text for g in parsed)}", err=True)
