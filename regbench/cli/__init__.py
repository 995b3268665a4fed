"""The ``regbench`` command. Each subcommand lives in its own module and is added here."""

from __future__ import annotations

import click

from regbench import __version__
from regbench.cli.list import list_command
from regbench.cli.run import run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regbench")
def main() -> None:
    """Compare SimpleITK registration optimizers on equal terms.

    \b
    regbench list                 strategies and cases, with their plugins
    regbench run                  run strategies × cases × seeds and record what each optimizer did
    """


main.add_command(list_command)
main.add_command(run_command)
