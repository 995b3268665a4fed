"""The ``regbench`` command. Each subcommand lives in its own module and is added here."""

from __future__ import annotations

import click

from regbench import __version__
from regbench.cli.audit import audit_command
from regbench.cli.calibrate import calibrate_command
from regbench.cli.common import Group
from regbench.cli.export import export_command
from regbench.cli.gates import switch_command, upgrade_command
from regbench.cli.list import list_command
from regbench.cli.merge import merge_command
from regbench.cli.report import compare_command, recommend_command, report_command
from regbench.cli.run import run_command
from regbench.cli.runs import runs_command
from regbench.cli.show import show_command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regbench")
def main() -> None:
    """Compare SimpleITK registration optimizers on equal terms.

    \b
    regbench list                 strategies and cases, with their plugins
    regbench run                  run strategies × cases × seeds and record what each optimizer did
    regbench report               summary tables, statistics and an HTML report of a result store
    regbench compare A B          deltas between two result sets, with --fail-on regression gates
    regbench recommend            which strategy to use per case, with the evidence
    regbench runs                 the runs of a result store with their keys
    regbench show RUN             one run explained in plain words
    regbench audit                stability under seeds, threads and start noise; gradient audit
    regbench upgrade-check A B    upgrade gate: paired equivalence of two stores (SimpleITK versions)
    regbench switch-check A B     switch gate: is strategy B as good as A on the same instances of one store
    regbench export               the records of a result store as JSON lines, CSV or Parquet
    regbench merge OUT STORE...   result stores from several machines in one, by run key
    regbench calibrate            time a reference registration on this host (times across hosts)
    """


main.add_command(list_command)
main.add_command(run_command)
main.add_command(report_command)
main.add_command(compare_command)
main.add_command(recommend_command)
main.add_command(runs_command)
main.add_command(show_command)
main.add_command(export_command)
main.add_command(merge_command)
main.add_command(audit_command)
main.add_command(upgrade_command)
main.add_command(switch_command)
main.add_command(calibrate_command)
