"""The files ``regbench show RUN`` writes (``--save-transform``, ``--resample``, ``--images``): checked before the
explanation is printed, written after it, and ITK's failures told in its own words without its C++ source file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from regbench.util.itk_text import itk_message

if TYPE_CHECKING:
    from regbench.record import RunRecord
    from regbench.report.load.case_of_run import CaseResolver


def check_outputs(transform_path: str | None, resample_path: str | None) -> None:
    """A file ITK could not write (its directory is missing, ITK has no writer for its ending) is a usage error
    before anything is printed."""
    from regbench.report.figures import images

    outputs: list[tuple[str, str | None, tuple[str, ...], str]] = [
        ("--save-transform", transform_path, images.TRANSFORM_SUFFIXES, "a transform"),
        ("--resample", resample_path, images.IMAGE_SUFFIXES, "an image"),
    ]
    for option, path, suffixes, what in outputs:
        problem = path and images.output_problem(path, suffixes, what)
        if problem:
            raise click.BadParameter(f"{path}: {problem}", param_hint=option)


def write_run_files(
    record: RunRecord,
    transform_path: str | None,
    resample_path: str | None,
    images_dir: str | None,
    resolver: CaseResolver,
) -> None:
    import SimpleITK as sitk

    from regbench.report.figures import images

    try:
        if resample_path or images_dir:  # the case first: nothing is written when it cannot be found
            case, data = images.case_data(record, resolver=resolver)
        if transform_path:
            with _itk_writing("--save-transform", transform_path):
                click.echo(f"transform: {images.save_transform(record, transform_path)}")
        if resample_path:
            moved = images.resample(data.moving, data.fixed, images.record_transform(record))
            with _itk_writing("--resample", resample_path):
                sitk.WriteImage(moved, str(resample_path))
            click.echo(f"resampled moving image: {resample_path}")
        if images_dir:
            before = images.initial_transform(record, case, data)
            pictures = images.write_images(record, images_dir, data.fixed, data.moving, before)
            click.echo(f"pictures: {', '.join(str(p) for p in pictures.files)}")
            if pictures.folded_voxels:
                click.echo(f"folded voxels (Jacobian determinant <= 0): {pictures.folded_voxels}")
    except images.ImageError as exc:
        raise click.UsageError(str(exc)) from exc
    except RuntimeError as exc:  # ITK, drawing the pictures
        raise click.UsageError(itk_message(exc, width=1000)) from exc


@contextmanager
def _itk_writing(option: str, path: str) -> Iterator[None]:
    """ITK's failure to write ``path`` (a float image as .png, a file that cannot be created) as a usage error
    naming the option and the file; the empty or partial file ITK leaves behind is removed."""
    existed = os.path.lexists(path)
    try:
        yield
    except RuntimeError as exc:
        if not existed and os.path.isfile(path):
            os.unlink(path)
        raise click.BadParameter(f"{path}: ITK could not write it: {itk_message(exc)}", param_hint=option) from exc
