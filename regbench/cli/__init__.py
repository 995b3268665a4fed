"""The ``regbench`` command. Each subcommand lives in its own module, imported when it is used (:data:`COMMANDS`)."""

from __future__ import annotations

import click

from regbench import __version__
from regbench.cli.common import Group

#: Each subcommand and where it lives: imported when it is invoked (or listed by --help).
COMMANDS = {
    "list": "regbench.cli.list:list_command",
    "run": "regbench.cli.run:run_command",
    "report": "regbench.cli.report:report_command",
    "compare": "regbench.cli.report:compare_command",
    "recommend": "regbench.cli.report:recommend_command",
    "runs": "regbench.cli.runs:runs_command",
    "show": "regbench.cli.show:show_command",
    "export": "regbench.cli.export:export_command",
    "merge": "regbench.cli.merge:merge_command",
    "audit": "regbench.cli.audit:audit_command",
    "upgrade-check": "regbench.cli.gates:upgrade_command",
    "switch-check": "regbench.cli.gates:switch_command",
    "calibrate": "regbench.cli.calibrate:calibrate_command",
}


@click.group(cls=Group, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
