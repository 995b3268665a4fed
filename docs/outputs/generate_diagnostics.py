"""Regenerate the outputs docs/diagnostics.md quotes: ``python docs/outputs/generate_diagnostics.py [NAME ...]``.

As ``generate.py`` (a scratch directory per example, built-in plugins only, 100 columns, no colour; it also runs
these), but a command's exit status is shown instead of stopping: the audit and the gate exit 1 when they flag
something.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate

MULTIMODAL = (
    'python -c "import regbench; from regbench.diagnostics.gradient_audit import audit_case, '
    "make_multimodal_case as mm\n"
    "for m in ('jhmi', 'mattes', 'correlation'):\n"
    "    a = audit_case(mm(m)); print(m, 'first-step cosines', ' '.join(f'{c:+.3f}' for c in a.cosines))\n"
    "for m in ('jhmi', 'mattes'):\n"
    "    r = regbench.run_one('rsgd', mm(m)); p = r.transform['parameters']\n"
    "    print('rsgd', m, 'ends at', tuple(round(v, 2) for v in p), 'truth (-3, 2); dense metric',\n"
    "          round(r.initial_metric_dense, 3), '->', round(r.final_metric_dense, 3),\n"
    "          '; error', round(r.error_mean, 2))\""
)


def status(command: str) -> str:
    return f'{command}; echo "(exit status $?)"'


COMMANDS: dict[str, list[str]] = {
    "diagnostics-probe": ["regbench list --verbose | sed -n '/semantics probe/,$p'"],
    "diagnostics-gradients": [
        MULTIMODAL,
        "regbench audit --gradients -s gd -c synth2d-rigid-mi --source repeat --repeats 1 --threads 1",
    ],
    "diagnostics-stability": [
        status("regbench audit -s gd -c synth2d-rigid --threads 1,2 --seeds 3 --repeats 2"),
        status(
            "regbench audit -s gd,lbfgs2 -c synth2d-affine-mi --threads 1,2 --seeds 3 --repeats 3 --tolerance 0.05"
        ).replace("-s gd,lbfgs2", "-s gd -s lbfgs2"),
    ],
    "diagnostics-upgrade": [
        "regbench run -s gd -s lbfgs2 -c synth2d-rigid -c synth2d-affine --seeds 3 --store a.sqlite > /dev/null",
        "regbench run -s gd -s lbfgs2 -c synth2d-rigid -c synth2d-affine --seeds 3 --store b.sqlite > /dev/null",
        status("regbench upgrade-check a.sqlite b.sqlite --margin 0.1 --max-stop-shift 0.2"),
    ],
    "diagnostics-switch": [
        "regbench run -s gd -s rsgd -c synth2d-translation --seeds 4 --store s.sqlite > /dev/null",
        "regbench run -s rsgd -c synth2d-translation --seeds 4 -p number_of_iterations=3 --store s.sqlite > /dev/null",
        status("regbench switch-check gd 'rsgd[number_of_iterations=200]' --store s.sqlite --margin 0.1"),
        status("regbench switch-check gd 'rsgd[number_of_iterations=3]' --store s.sqlite --margin 0.1"),
        status("regbench switch-check gd rsgd --store s.sqlite 2>&1"),
    ],
}


if __name__ == "__main__":
    generate.main(sys.argv[1:], generators=("generate_diagnostics",))
