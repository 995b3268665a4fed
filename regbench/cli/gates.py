"""``regbench upgrade-check A B`` and ``regbench switch-check A B``: the paired gates (a SimpleITK upgrade, two
stores; a strategy or engine switch, one store). Exit status 0 when the gate passes, 1 when it fails, 2 on a usage
error."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import click

from regbench.cli.common import F, echo_json, make_console
from regbench.cli.report import error_option
from regbench.report.text.one_run import as_text
from regbench.store.sqlite import DEFAULT_STORE


def _gate_options(margin_help: str) -> Callable[[F], F]:
    """The options both paired gates take: the margin, the limits of newly failing runs and stop shifts, --json."""
    options = [
        click.option(
            "--margin",
            default=0.5,
            show_default=True,
            type=click.FloatRange(0, min_open=True),
            help=margin_help,
        ),
        click.option(
            "--max-newly-failing",
            default=0,
            show_default=True,
            type=click.IntRange(0),
            help="Runs that may fail in B but not in A, per strategy × case.",
        ),
        click.option(
            "--max-stop-shift",
            type=click.FloatRange(0, 1),
            help="Largest share of paired runs whose stop category may change (reported, not gated, without it).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON."),
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _finish(
    report: Any, lines: Callable[[Any], list[str]], jsonable: Callable[[Any], dict[str, Any]], as_json: bool
) -> None:
    """Print a gate's report (text or JSON) and exit 1 when it failed."""
    if as_json:
        echo_json(jsonable(report))
    else:
        console = make_console()
        for line in lines(report):  # wrapped between words, a line's continuation indented under it
            indent = " " * (len(line) - len(line.lstrip()))
            wrapped = textwrap.fill(
                line, console.width, subsequent_indent=indent + "    ", break_long_words=False, break_on_hyphens=False
            )
            console.print(as_text(wrapped), highlight=False, soft_wrap=True)
    if not report.passed:
        click.get_current_context().exit(1)


@click.command("upgrade-check")
@click.argument("a", type=click.Path(dir_okay=False, exists=True))
@click.argument("b", type=click.Path(dir_okay=False, exists=True))
@_gate_options("Equivalence margin of the mean error change, physical units (paired TOST, α = 0.05).")
@click.option(
    "--metric-margin",
    type=click.FloatRange(0, min_open=True),
    help="Margin of the dense metric's change, for cases without truth (untested without it).",
)
def upgrade_command(
    a: str,
    b: str,
    margin: float,
    metric_margin: float | None,
    max_newly_failing: int,
    max_stop_shift: float | None,
    as_json: bool,
) -> None:
    """Upgrade gate: is store B (the new SimpleITK) equivalent to store A (the pinned one), run for run?

    Pairs runs by strategy, parameters, case, seed, repeat and threads; per strategy × case it tests that the
    mean change of the error lies within ±MARGIN, counts runs that newly fail, and the stop categories that
    changed. Exit status 1 when the gate fails (or nothing pairs)."""
    from regbench.report.gates import upgrade
    from regbench.report.gates.compare import GateError

    try:
        report = upgrade.upgrade_check_stores(
            a,
            b,
            margin,
            max_newly_failing=max_newly_failing,
            max_stop_shift=max_stop_shift,
            metric_margin=metric_margin,
        )
    except GateError as exc:
        raise click.BadParameter(str(exc)) from exc
    _finish(report, upgrade.upgrade_lines, upgrade.upgrade_to_jsonable, as_json)


@click.command("switch-check")
@click.argument("a")
@click.argument("b")
@click.option(
    "--store",
    default=DEFAULT_STORE,
    show_default=True,
    type=click.Path(dir_okay=False, exists=True),
    help="The result store holding the runs of both strategies.",
)
@click.option(
    "-c", "--case", "cases", multiple=True, help="Only these cases (repeatable; default: every case both ran)."
)
@error_option("The error tested", "; a case with neither is refused")
@_gate_options("Equivalence margin of the mean error change B − A, physical units (paired TOST, α = 0.05).")
@click.option(
    "--one-sided",
    is_flag=True,
    help="Non-inferiority: fail only when B's error is higher by MARGIN or more; B may be better by any amount.",
)
def switch_command(
    a: str,
    b: str,
    store: str,
    cases: tuple[str, ...],
    error: str,
    margin: float,
    max_newly_failing: int,
    max_stop_shift: float | None,
    as_json: bool,
    one_sided: bool,
) -> None:
    """Switch gate: is strategy B as good as strategy A on the same instances of one store?

    A and B are strategy names, or a parameter set as reports label it (gd[learning_rate=0.5]). Pairs a run of
    A with a run of B on the same instance (same case, instance or seed, and threads; one run per instance, the
    other seeds and repeats of one problem are copies). Per case it tests that the mean change of the error
    lies within ±MARGIN, counts runs that fail with B but not with A, and the stop categories that changed.
    Exit status 1 when the gate fails; 2 when a strategy or case is not in the store, a case has no paired
    instance, or a case has no error to test (no truth transform, no landmarks)."""
    from regbench.report.gates import switch
    from regbench.report.gates.compare import GateError

    try:
        report = switch.switch_check_store(
            store,
            a,
            b,
            margin,
            cases=cases,
            error=error,
            max_newly_failing=max_newly_failing,
            max_stop_shift=max_stop_shift,
            one_sided=one_sided,
        )
    except GateError as exc:
        raise click.UsageError(str(exc)) from exc
    _finish(report, switch.switch_lines, switch.switch_to_jsonable, as_json)
