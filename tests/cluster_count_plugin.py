"""Counts executions for the batch-cluster tests (loaded in the workers with ``--plugin cluster_count_plugin``).

Every finished run appends ``KEY SLURM_JOB_ID PID`` to the file ``$REGBENCH_TEST_EXECUTIONS_LOG`` names, from the
process that ran it: ``SLURM_JOB_ID`` is ``-`` outside a SLURM job, so the log says where each execution ran.
"""

from __future__ import annotations

import os

import regbench

EXECUTIONS_LOG = "REGBENCH_TEST_EXECUTIONS_LOG"


@regbench.hookimpl
def regbench_run_finished(record):
    path = os.environ.get(EXECUTIONS_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{record.key} {os.environ.get('SLURM_JOB_ID', '-')} {os.getpid()}\n")
