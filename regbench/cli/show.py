"""``regbench show RUN``: one run explained in plain words, and its transform, resampled image and pictures."""

from __future__ import annotations

from pathlib import Path

import click

from regbench.cli.common import echo_json, make_console
from regbench.cli.report import case_files_option, case_resolver
from regbench.cli.showfiles import check_outputs, write_run_files
from regbench.report.load.columns import SourceError
from regbench.report.load.sources import find_record, load_record
from regbench.store.sqlite import DEFAULT_STORE


@click.command("show")
@click.argument("run")
@click.option("--store", "source", default=DEFAULT_STORE, show_default=True, help="Result store to look RUN up in.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON instead.")
@click.option(
    "--save-transform",
    "transform_path",
    type=click.Path(dir_okay=False),
    help="Write the run's transform (fixed → moving, the full mapping) as an ITK transform file (.tfm, .h5).",
)
@click.option(
    "--resample",
    "resample_path",
    type=click.Path(dir_okay=False),
    help="Write the moving image resampled onto the fixed grid with the run's transform (.nii.gz, .mha...).",
)
@click.option(
    "--images",
    "images_dir",
    type=click.Path(file_okay=False),
    help="Write pictures of the run into DIR: overlay, checkerboard and difference before and after; for "
    "deformable transforms a Jacobian-determinant map (folding in red) and a deformation grid.",
)
@case_files_option
def show_command(
    run: str,
    source: str,
    as_json: bool,
    transform_path: str | None,
    resample_path: str | None,
    images_dir: str | None,
    case_files: tuple[str, ...],
) -> None:
    """Explain one run in plain words. RUN is a record key, a unique key prefix, or a JSON record file."""
    from regbench.report.text.explain import print_explanation

    resolver = case_resolver(case_files)  # a bad --cases file is a usage error, before the record is read
    try:
        path = Path(run)
        record = load_record(path, case_files) if path.is_file() else find_record(source, run, case_files)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        echo_json(record.to_dict())
        return
    check_outputs(transform_path, resample_path)
    print_explanation(record, make_console())
    if transform_path or resample_path or images_dir:
        write_run_files(record, transform_path, resample_path, images_dir, resolver)
