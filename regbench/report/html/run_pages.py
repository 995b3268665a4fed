"""The HTML report's run pages: one page per strategy × case for its median run (the explanation of
``regbench show`` and the run's pictures), linked from the summary rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jinja2 import Environment, select_autoescape

from regbench.report.html.sections import _anchor
from regbench.report.load.columns import Runs
from regbench.report.stats import across_instances as stats

# -- run pages --------------------------------------------------------------------------------------------------

# At most this many run pages (one per strategy × case: its median run); more are not written.
MAX_RUN_PAGES = 300

RUN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>regbench run {{ key }}</title>
<style>body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 0 auto; padding: 0 1.5em 3em; }
pre { white-space: pre-wrap; font-size: 0.85em; } div.pictures img { max-width: 32%; border: 1px solid #ddd; }
</style></head><body>
<p><a href="{{ back }}">← report</a></p>
<h1>{{ solver }} on {{ case }}, seed {{ seed }}</h1>
<p>The median run of this strategy on this case by {{ error }} (<code>regbench show {{ key }}</code>).</p>
{% if pictures %}<div class="pictures">{% for f in pictures %}<a href="{{ f }}"><img src="{{ f }}" alt="{{ f }}"></a>
{% endfor %}</div>{% endif %}
<pre>{{ text }}</pre>
</body></html>
"""


def _run_pages(runs: Runs, out: Path, error: str, files: list[Path], recommendation: dict) -> dict:
    """One page per strategy × case for its median run (the explanation of ``regbench show``, and the pictures
    where the recommendation drew that run); returns (solver, case) → its relative link."""
    from io import StringIO

    from rich.console import Console

    from regbench.report.text.explain import print_explanation

    values = stats.error_column(runs, error).values
    chosen: dict[tuple[str, str], str] = {}
    for solver, case in sorted(set(zip(runs.solver.astype(str), runs["case"].astype(str), strict=True))):
        index = np.flatnonzero((runs.solver == solver) & (runs["case"] == case))
        e = np.where(np.isnan(values[index]), np.inf, values[index])
        chosen[(solver, case)] = str(runs["key"][index[np.argsort(e, kind="stable")[(index.size - 1) // 2]]])
    if len(chosen) > MAX_RUN_PAGES:
        chosen = dict(list(chosen.items())[:MAX_RUN_PAGES])
    pictures = {p["key"]: p["files"] for block in recommendation["recommendations"] for p in block["pictures"]}
    records = {r.key: r for r in runs.records(list(chosen.values()))}
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(RUN_PAGE)
    links = {}
    for (solver, case), key in chosen.items():
        record = records.get(key)
        if record is None:
            continue
        buffer = StringIO()
        print_explanation(record, Console(file=buffer, width=110, color_system=None, force_terminal=False))
        path = out / "runs" / _anchor(case) / f"{_anchor(key)}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        page = template.render(
            key=key,
            solver=solver,
            case=case,
            seed=record.seed,
            error=error,
            back="../../index.html",
            text=buffer.getvalue(),
            pictures=["../../" + f for f in pictures.get(key, [])],
        )
        path.write_text(page, encoding="utf-8")
        files.append(path)
        links[(solver, case)] = str(path.relative_to(out))
    return links
