"""``regbench calibrate``: time a fixed reference registration on this host and keep the figure in the store, so
that reports can compare times from several hosts as multiples of it."""

from __future__ import annotations

import click

from regbench.cli.common import make_console
from regbench.util.console import markup_safe


@click.command("calibrate")
@click.option(
    "--store",
    default="regbench-results.sqlite",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The result store to keep the calibration in (made if missing).",
)
@click.option(
    "--repeats",
    default=7,
    show_default=True,
    type=click.IntRange(min=1),
    help="Timed runs of the reference per thread count (after one untimed warm-up); the figure is their median.",
)
@click.option("--list", "list_only", is_flag=True, help="Print the store's calibrations and measure nothing.")
def calibrate_command(store: str, repeats: int, list_only: bool) -> None:
    """Time the reference registration (gd on synth2d-affine, a 2D affine) on this host with 1 ITK thread and
    with every usable core, and store the figures under this host's name (as records name it:
    $REGBENCH_HOST_NAME hashes or replaces it). A newer calibration of the same host and thread count replaces
    the older one in reports (the older stays in the store).

    Where a store's runs come from several hosts, `regbench report` divides each run's wall time by its host's
    reference time and says so; calibrate each host into the store (or into the stores you merge).
    """
    from regbench.report.text.host_times_table import calibration_table
    from regbench.report.text.table_fit import fit_table
    from regbench.runner.calibrate import REFERENCE, CalibrationError, calibrate
    from regbench.store.calibration import add_calibration, calibrations, this_host
    from regbench.store.sqlite import Store, StoreError

    console = make_console()
    if list_only:
        try:
            with Store.read_only(store) as db:
                found = calibrations(db)
        except StoreError as exc:
            raise click.UsageError(str(exc)) from exc
        if not found:
            console.print(f"{markup_safe(store)}: no calibration yet (run `regbench calibrate --store {store}`)")
            return
        console.print(fit_table(calibration_table(found, f"Calibrations in {markup_safe(store)}"), console.width))
        return
    try:
        db = Store(store)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from exc
    with db:
        console.print(f"calibrating {markup_safe(this_host())}: {REFERENCE}", highlight=False)
        try:
            with console.status("timing the reference registration") as status:
                measured = calibrate(repeats, progress=lambda text: status.update(f"timing {text}"))
        except CalibrationError as exc:
            raise click.ClickException(str(exc)) from exc
        for calibration in measured:
            add_calibration(db, calibration)
    console.print(
        fit_table(
            calibration_table(measured, f"Calibration of {markup_safe(this_host())}, kept in {markup_safe(store)}"),
            console.width,
        )
    )
