"""The HTML report's jinja2 template: one self-contained page (inline CSS, no scripts, no CDN, relative links).

Kept as a module string so it ships with the package without package-data configuration.
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>regbench report: {{ source }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 3em; color: #222; line-height: 1.45; }
h1 { margin: 0.4em 0 0; font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
header p.meta { margin: 0.1em 0 0.3em; }
nav { background: #f4f4f4; padding: 0.3em 1em; border-radius: 4px; font-size: 0.9em; }
nav a { margin-right: 1em; }
section#recommendation h2 { margin-top: 0.6em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.92em; color: #333; max-width: 60em; }
.meta, .note { color: #555; font-size: 0.9em; } dt { font-weight: 600; margin-top: 0.5em; }
.warning { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.4em 0.8em; }
details { margin: 0.6em 0; } summary { cursor: pointer; color: #1a4f8b; }
table.answer { width: 100%; table-layout: fixed; margin-top: 0.4em; font-size: 0.88em; }
table.answer td, table.answer th { padding: 0.15em 0.5em; white-space: nowrap; overflow: hidden;
       text-overflow: ellipsis; }
table.answer td.use { font-weight: 700; background: #c8ecc8; }
table.answer td.missed { font-weight: 700; background: #f6d6d0; }
table.answer tr.overall th, table.answer tr.overall td { border-top: 2px solid #888; border-bottom: 2px solid #888; }
p.verdict { font-size: 0.97em; background: #eef8ee; border-left: 4px solid #4a4; padding: 0.4em 0.8em;
       margin: 0.5em 0; }
table.matrix td { text-align: center; white-space: nowrap; font-variant-numeric: tabular-nums; font-size: 0.85em; }
table.matrix th.num { text-align: center; } div.scroll { overflow-x: auto; }
table.cases th.rot { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
       text-align: left; vertical-align: bottom; padding: 0.4em 0.15em; font-weight: 600; font-size: 0.85em; }
table.cases td { padding: 0.2em 0.3em; } table.cases th.row { white-space: nowrap; }
td.lower { background: #c8ecc8; } td.higher { background: #f6c9c4; } td.ns { background: #fff; }
td.untested { background: #eee; color: #888; } td.self { background: #ddd; }
td.rec { background: #c8ecc8; } td.chosen { background: #7fcf7f; font-weight: 700; }
td.demo { color: #888; } tr.demo td { color: #888; } tr.chosen td { background: #e3f5e3; font-weight: 600; }
div.runs { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.8em; }
div.run h4 { margin: 0.6em 0 0; font-size: 0.9em; } div.run p.note { margin: 0 0 0.3em; }
div.run img { width: 100%; border: 1px solid #ddd; margin-bottom: 0.3em; }
section.case { border-top: 1px solid #ddd; margin-top: 1.5em; }
</style>
</head>
<body>
<header>
<h1>regbench report</h1>
<p class="meta">{{ n_runs }} runs from <code>{{ source }}</code> · {{ n_solvers }} strategies · {{ n_cases }} cases ·
{{ n_instances }} distinct instances{% if n_pairs != n_instances %} of {{ n_pairs }} case–seed pairs{% endif %} ·
generated {{ generated }} by regbench {{ version }}</p>
<nav>
<a href="#recommendation">Answer</a><a href="#cases">Evidence per case</a>
<a href="#summary">Summary</a><a href="#by-case">Per case</a><a href="#success">Success rates</a>
<a href="#ert">Time to target</a><a href="#budget">Fixed budget</a><a href="#tests">Paired tests</a>
<a href="#figures">Figures</a>
<a href="#definitions">Definitions</a><a href="{{ csv_file }}">summary CSV</a>
</nav>
</header>

{% macro summary(rows, by_case, columns) %}
<table>
<tr><th>strategy</th>{% if by_case %}<th>case</th>{% endif %}
{% for name in columns %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in rows %}
<tr><td>{% if row.link %}<a href="{{ row.link }}">{{ row.solver }}</a>{% else %}{{ row.solver }}{% endif %}</td>
{% if by_case %}<td>{{ row.case }}</td>{% endif %}
{% for cell in row.cells %}<td class="{{ 'num' if cell.num else '' }}">{{ cell.text }}</td>{% endfor %}</tr>
{% endfor %}
</table>
{% endmacro %}

{% macro matrix_table(m) %}
<div class="scroll"><table class="matrix cases">
<tr><th>{{ m.corner }}</th>{% for c in m.columns %}<th class="{{ 'rot' if m.rotate else 'num' }}"
title="{{ c.title }}">{% if c.link %}<a
href="{{ c.link }}">{{ c.short }}</a>{% else %}{{ c.short }}{% endif %}</th>{% endfor %}</tr>
{% for row in m.rows %}<tr>
<th class="row">{% if row.link %}<a href="{{ row.link }}">{{ row.name }}</a>{% else %}{{ row.name }}{% endif %}
{% if row.unit %}<small>{{ row.unit }}</small>{% endif %}</th>
{% for cell in row.cells %}<td class="{{ cell.css }}" title="{{ cell.title }}">{{ cell.text }}</td>{% endfor %}</tr>
{% endfor %}
</table></div>
{% endmacro %}

<section id="recommendation">
<h2>Which strategy to use</h2>
{% set lead = answers[0] if answers else None %}
{% if lead %}<p class="verdict">{{ lead.verdict }}{% if lead.decided_by %} {{ lead.decided_by }}{% endif %}</p>
{% endif %}
{% for line in race %}<p class="note">{{ line }}</p>{% endfor %}
{% macro answer_table(rows) %}
<table class="answer">
<colgroup><col style="width: 17%"><col style="width: 12%"><col style="width: 9%"><col><col style="width: 20%">
</colgroup>
<tr><th>case</th><th>use</th><th>its median</th><th>the evidence that decided</th>
<th>also within the tolerance</th></tr>
{% for a in rows %}<tr class="{{ 'overall' if a.overall else '' }}" title="{{ a.verdict }}">
<th><a href="#rec-{{ a.anchor }}">{{ a.scope }}</a></th>
<td class="{{ 'use' if a.registered else 'missed' }}">{{ a.use[4:] if a.use.startswith('use ') else a.use }}</td>
<td class="num" title="median {{ a.value_name }}">{{ a.value }}</td>
<td>{{ a.evidence }}</td>
<td title="{{ a.also_all }}">{{ a.also }}</td></tr>
{% endfor %}
</table>
{% endmacro %}
{% if answers|length > 1 %}{{ answer_table(answers[:answer_rows]) }}{% endif %}
{% if answers|length > answer_rows %}<details><summary>The other {{ answers|length - answer_rows }}
cases</summary>{{ answer_table(answers[answer_rows:]) }}</details>{% endif %}
{% if matrix.rows %}
<h3>Case × strategy: the median of the value that decides each case</h3>
<p class="note">Dark green: the strategy to use; green: also within the tolerance; D: a demonstration of a failure,
never recommended; hover a cell for why not.</p>
{% if matrix.note %}<p class="note">{{ matrix.note }}</p>{% endif %}
{{ matrix_table(matrix) }}
{% if matrix.full %}<details><summary>The whole matrix ({{ matrix.full.columns|length }} strategies)</summary>
{{ matrix_table(matrix.full) }}</details>{% endif %}
{% endif %}
<details><summary>How the answer is decided</summary>
<p>Per case: the strategies whose median {{ error }} (or, where the case has no truth, its strongest other
evidence: landmark TRE, 1 − Dice over its labels, the error on its simulated instances, then the relative
dense-metric gap with the spread over seeds; each case says which decided) is within the tolerance of the best's
(tolerance in the case's physical units: {{ tolerance_rule }}; one Dice point for labels; 0.02 of the gap without
any truth), that fail no more often than the best and do not fold; of those, one is chosen and named in the
answer. Strategies registered as demonstrations of a failure (D) are shown, never recommended. Over all cases
errors are measured in each case's tolerances. In the per-pair statistics: mean rank over instances; cd,
critical-difference groups (same letter: no significant Wilcoxon–Holm difference at {{ significance }}); P(eq),
the Bayesian signed-rank probability (baycomp) that the strategy is practically equivalent to the best (ROPE ± one
tolerance).</p>
</details>
</section>
{% for note in notes %}<p class="warning">{{ note }}</p>
{% endfor %}

<section id="cases">
<h2>The evidence behind each answer</h2>
{% for rec in recommendations %}
<section class="case" id="rec-{{ rec.anchor }}">
<h3>{{ rec.scope }}: {{ rec.use }}</h3>
<p><strong>{{ rec.headline }}</strong>{% if rec.decided_by %} {{ rec.decided_by }}{% endif %}</p>
{% for line in rec.lines %}<p>{{ line }}</p>{% endfor %}
<table>
<tr><th>strategy</th><th></th><th>median {{ rec.unit }}</th>
<th>failed</th><th>folding (max)</th><th>median time s</th>{% if rec.spread %}<th>spread over seeds</th>{% endif %}
{% if rec.inverse %}<th>inverse consistency</th>{% endif %}<th>why not</th></tr>
{% for c in rec.rows %}<tr class="{{ 'demo' if c.demo else ('chosen' if c.chosen else '') }}">
<td>{% if c.link %}<a href="{{ c.link }}">{{ c.solver }}</a>{% else %}{{ c.solver }}{% endif %}</td>
<td>{{ c.mark }}</td><td class="num">{{ c.error }}</td>
<td class="num">{{ c.fail }}</td><td class="num">{{ c.fold }}</td>
<td class="num">{{ c.time }}</td>{% if rec.spread %}<td class="num">{{ c.spread }}</td>{% endif %}
{% if rec.inverse %}<td class="num">{{ c.inverse }}</td>{% endif %}<td>{{ c.why }}</td></tr>{% endfor %}
</table>
<details><summary>Per-pair statistics: mean rank, critical-difference groups, P(eq){% if rec.pairwise %}, and
{{ rec.pairwise|length }} paired comparisons{% endif %}</summary>
<table>
<tr><th>strategy</th><th>mean rank</th><th>cd</th><th>P(eq)</th></tr>
{% for c in rec.rows %}<tr class="{{ 'demo' if c.demo else '' }}"><td>{{ c.solver }}</td>
<td class="num">{{ c.rank }}</td><td>{{ c.cd }}</td><td class="num">{{ c.peq }}</td></tr>{% endfor %}
</table>
{% for line in rec.pairwise %}<p class="note">{{ line }}</p>{% endfor %}
</details>
{% if rec.pictures %}<div class="runs">{% for pic in rec.pictures %}<div class="run">
<h4 id="{{ pic.anchor }}">{{ pic.role }} run: {{ pic.solver }}, seed {{ pic.seed }}: {{ rec.value_name }}
{{ pic.error }}{% if pic.folded %}; {{ pic.folded }} voxels folded{% endif %}</h4>
<p class="note"><code>{{ pic.key }}</code></p>
{% for f in pic.main %}<a href="{{ f }}"><img src="{{ f }}" alt="{{ f }}"></a>{% endfor %}
{% if pic.more %}<details><summary>Checkerboard, difference{% if pic.deformable %}, deformation grid{% endif
%}</summary>{% for f in pic.more %}<a href="{{ f }}"><img src="{{ f }}" alt="{{ f }}"></a>{% endfor %}</details>
{% endif %}</div>{% endfor %}</div>{% endif %}
{% if rec.pictures %}<p class="note">Overlay: fixed magenta, moving green, grey where they agree; before is the
run's start, after its result{% if rec.pictures|selectattr("folded")|list %}; folded voxels (det ≤ 0) outlined in
yellow and tinted red{% endif %}. Checkerboard of fixed and resampled moving tiles; difference fixed − moving
(red +, blue −). Deformable runs: the Jacobian determinant of the mapping on a scale centred on 1 (brown:
shrinks, white: 1, teal: grows) with folded voxels in solid red, and a regular grid drawn through the mapping.
<code>regbench show KEY</code> explains a run.</p>{% endif %}
{% if rec.picture_note %}<p class="note">{{ rec.picture_note }}</p>{% endif %}
</section>
{% endfor %}
</section>

<h2 id="summary">Summary per strategy</h2>
<p>Across all cases and seeds. <em>Succeeded</em> counts runs whose outcome is not a failure (as the progress bar
and <code>regbench show</code> do). Error = <code>{{ error }}</code>, the distance to the ground truth in the case's
physical units{% if stand_in_note %} ({{ stand_in_note }}){% endif %}; worst-30% is its 70th percentile (the
robustness figure). The relative gap is unit-free: the raw dense metric is in the per-case table only, where one
metric is involved. See <a href="#definitions">definitions</a>.</p>
{{ summary(by_strategy, False, strategy_columns) }}

<h2 id="by-case">Per strategy and case</h2>
<details><summary>Every strategy on every case: {{ by_case|length }} rows (also in
<code>{{ csv_file }}</code>)</summary>
{{ summary(by_case, True, case_columns) }}
</details>

<h2 id="success">Success rates at error targets</h2>
<p>Fraction of the {{ n_instances }} distinct instances a strategy ran on where it reached the target: its
runs on one instance (repeats, copies) are combined by the median of their errors, a failed run counting as never
reaching it. n = instances. {{ target_note }}</p>
<table>
<tr><th>strategy</th><th>n</th>{% for t in target_labels %}<th>≤ {{ t }}</th>{% endfor %}</tr>
{% for row in success %}<tr><td>{{ row.solver }}</td><td class="num">{{ row.n }}</td>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>

<h2 id="ert">Time to target: ERT from first hits</h2>
<p>How fast each strategy first reached each target, from its runs' anytime curves (the start, every kept trace
position, the returned transform): a run reaches a target at the first point at or below it, whatever its outcome
(COCO counts the first hit; the success rates above are judged at the end of the run). Points are kept on a
geometric schedule, so a first-hit time is an upper bound at that resolution. ERT = Σ over instances (the
first-hit time where reached, the time the run ended where not) / instances that reached it, in seconds since the
run started; ∞ when none did. Cells: ERT (instances that reached it / instances counted); targets the instance's
start already meets are left out ("start": all of them). A strategy's runs on one instance are combined by their
median first-hit time.{% if first_hit_note %} {{ first_hit_note }}.{% endif %}</p>
{% for block in ert %}
<details><summary>{% if block.name == "absolute" %}Absolute targets (case units: mm or px){% else %}Relative targets
(share of the instance's initial error){% endif %}: {{ block.rows|length }} rows</summary>
<table>
<tr><th>strategy</th><th>case</th>{% for t in block.labels %}<th>≤ {{ t }}</th>{% endfor %}</tr>
{% for row in block.rows %}<tr><td>{{ row.solver }}</td><td>{{ row.case }}</td>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>
</details>
{% endfor %}

<h2 id="budget">Fixed budget and area under the anytime curve</h2>
<p>The error a strategy's runs held at a share of the instance's reference budget: the longest any strategy ran
on that instance (each strategy its median run), in seconds since the run started or in iteration events. The
value is that of the position the optimizer held then (what stopping it there would return), carried forward;
after a run ended, what it returned. Median over instances (runs on one instance combined by their median
first). Iteration budgets are not comparable across optimizer families. AUC: the time average, on log time over
the last 3 decades of the reference budget, of the error relative to the instance's initial error (the relative
gap without ground truth): 1 = no progress, 0 = the answer at once; lower is better.</p>
<details><summary>Per strategy and case: {{ budget|length }} rows</summary>
<table>
<tr><th>strategy</th><th>case</th><th>n</th>{% for f in budget_fractions %}<th>error at {{ f }} of time</th>{% endfor %}
{% for f in budget_fractions %}<th>at {{ f }} of iterations</th>{% endfor %}<th>AUC</th></tr>
{% for row in budget %}<tr><td>{{ row.solver }}</td><td>{{ row.case }}</td><td class="num">{{ row.n }}</td>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>
</details>
<p class="note">Pooled over every case: the error relative to the instance's initial error (unit-free), and the
AUC's median (25–75%).</p>
<table>
<tr><th>strategy</th><th>n</th>{% for f in budget_fractions %}<th>rel. error at {{ f }} of time</th>{% endfor %}
{% for f in budget_fractions %}<th>at {{ f }} of iterations</th>{% endfor %}<th>AUC</th></tr>
{% for row in budget_pooled %}<tr><td>{{ row.solver }}</td><td class="num">{{ row.n }}</td>
{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>

<h2 id="tests">Paired Wilcoxon signed-rank tests</h2>
<p>Each pair of strategies compared on the distinct instances where both have a value (a strategy's runs on one
instance combined by their median); p-values Holm-corrected within each measure. Cell in row A, column B:
<em>Holm p, r</em>, with r the matched-pairs rank-biserial correlation of A − B (−1: A lower on every instance).
<span style="background:#c8ecc8">Green</span>: A significantly lower (better) than B;
<span style="background:#f6c9c4">red</span>: significantly higher (Holm p &lt; {{ significance }}); grey "n=k": not
tested, fewer than {{ min_pairs }} paired instances. Hover a cell for n, the median difference and the raw p.</p>
{% for block in tests %}
<h3>{{ block.measure }}</h3>
{% if block.empty %}<p class="note">Fewer than two strategies: nothing to pair.</p>{% else %}
<p class="note">{{ block.tally }}.</p>
<details><summary>The {{ block.rows|length }} × {{ block.rows|length }} matrix</summary>
<div class="scroll"><table class="matrix">
<tr><th>A (row) − B (column)</th>{% for k in block.numbers %}<th class="num">{{ k }}</th>{% endfor %}</tr>
{% for row in block.rows %}<tr><th>{{ row.number }}. {{ row.solver }}</th>
{% for cell in row.cells %}<td class="{{ cell.css }}" title="{{ cell.title }}">{{ cell.text }}</td>{% endfor %}</tr>
{% endfor %}
</table></div>
</details>
{% endif %}
{% endfor %}

{% macro figure(plot) %}
<figure id="fig-{{ plot.name }}">
<a href="{{ plot.file }}"><img src="{{ plot.file }}" alt="{{ plot.title }}"></a>
<figcaption><strong>{{ plot.title }}.</strong> {{ plot.caption }}</figcaption>
</figure>
{% endmacro %}
<h2 id="figures">Figures</h2>
<p class="note">Over all cases first; then per case (metric traces, median convergence, error against time and
iterations), each folded away.</p>
{% for plot in plots if not plot.case %}{{ figure(plot) }}{% endfor %}
{% for case, group in plots|selectattr("case")|groupby("case") %}
<details><summary>Figures of {{ case }}: {{ group|map(attribute="title")|map("replace", ": " ~ case, "")|join(", ")
}}</summary>
{% for plot in group %}{{ figure(plot) }}{% endfor %}
</details>
{% endfor %}
{% if skipped_cases %}<p class="note">Per-case figures drawn for the first {{ max_cases }} cases only; not drawn:
{{ skipped_cases|join(", ") }}.</p>{% endif %}

<h2 id="definitions">Definitions</h2>
<details><summary>{{ definitions|length }} terms: {{ definitions|map("first")|join(", ") }}</summary>
<dl>
{% for term, text in definitions %}<dt>{{ term }}</dt><dd>{{ text }}</dd>{% endfor %}
</dl>
</details>
</body>
</html>
"""
