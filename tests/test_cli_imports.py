"""Each command loads only what it uses: the help loads none of the report stack (scipy alone took 1.1 s)."""

from __future__ import annotations

import subprocess
import sys


def test_help_loads_no_statistics_figures_or_dataframes():
    code = (
        "import sys; from regbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('scipy', 'scipy.stats', 'matplotlib', 'jinja2', 'pandas', 'dask')\n"
        "print('loaded:', ' '.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = out.rsplit("loaded:", 1)[1].split()
    assert loaded == [], f"regbench --help imported {loaded}"
