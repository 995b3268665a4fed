"""The HTML report answers on its first screen: the recommendation is its first section, the case × strategy matrix
fits a 1366 px window, and the detail (per-pair lines, definitions, the long tables) is folded into <details>. The
pooled figures colour the recommended strategies and a few contrasts, the rest grey."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
from run_summaries import summary_row

from regbench.report.decide.per_case import recommend_all
from regbench.report.figures import anytime as anytime_figures
from regbench.report.figures import common as figures
from regbench.report.html import answer as html_answer
from regbench.report.html.page import write_html
from regbench.report.load.columns import from_dicts
from regbench.report.stats.across_instances import Profile
from regbench.report.stats.anytime_ert import RuntimeEcdf

CASES = ("c1", "c2", "c3")
SEEDS = 6
# per strategy a median error (px) and a time: "fast" and "good" within the 0.5 px default tolerance of each other
STRATEGIES = {"good": (0.10, 2.0), "fast": (0.15, 1.0), "meh": (2.0, 1.0), "bad": (6.0, 3.0)}


def hand_made_runs():
    rng = np.random.default_rng(0)
    rows = []
    for case in CASES:
        for strategy, (error, time) in STRATEGIES.items():
            for seed in range(SEEDS):
                error_mean = error * (1 + 0.05 * rng.standard_normal())
                rows.append(
                    summary_row(
                        strategy,
                        case,
                        seed,
                        stop_category="converged",
                        error_mean=error_mean,
                        initial_error_mean=8.0,
                        wall_time_s=time,
                    )
                )
    return from_dicts(rows)


class Page(HTMLParser):
    """The page as (tag path, text) pieces: where each text sits (inside which sections and <details>)."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.texts: list[tuple[tuple[tuple[str, dict], ...], str]] = []
        self.h2: list[tuple[tuple[tuple[str, dict], ...], str]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "col", "meta", "link"):
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if data.strip():
            self.texts.append((tuple(self.stack), data.strip()))

    def section_of(self, path) -> str | None:
        """The id of the outermost <section> around ``path``."""
        return next((a.get("id") for t, a in path if t == "section"), None)

    def in_details(self, path) -> bool:
        """Hidden until a <details> is opened (its <summary> shows)."""
        tags = [t for t, _ in path]
        if "details" not in tags:
            return False
        return "summary" not in tags[len(tags) - 1 - tags[::-1].index("details") :]

    def classed(self, path, cls: str) -> bool:
        return any(cls in a.get("class", "").split() for _, a in path)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    runs = hand_made_runs()
    out = tmp_path_factory.mktemp("html")
    result = write_html(runs, out)
    page = Page()
    page.feed(result.index.read_text(encoding="utf-8"))
    return runs, page


def test_the_first_section_after_the_header_holds_the_answer(report):
    runs, page = report
    recs = {r.scope: r for r in recommend_all(runs)}
    # the first heading of the page's body (h2) opens the answer's section, before any table or definition
    headings = [(path, text) for path, text in page.texts if path and path[-1][0] == "h2"]
    first_path, first_text = headings[0]
    assert page.section_of(first_path) == "recommendation" and first_text == "Which strategy to use"
    first = [(path, text) for path, text in page.texts if page.section_of(path) == "recommendation"]
    assert not any(page.section_of(path) for path, _ in page.texts[: page.texts.index((first_path, first_text))])
    # one row per scope, over all cases first: the strategy the recommendation chose, and its verdict's first line
    uses = [text for path, text in first if page.classed(path, "use")]
    expected = [html_answer.chosen(recs[s]) for s in ("all cases", *CASES)]
    assert uses == expected and set(uses) <= {"good", "fast"}
    visible = " ".join(text for path, text in first if not page.in_details(path))
    assert recs["all cases"].verdict[0] in visible
    assert "The error against the known truth (error_mean) on 6 instances" in visible  # the evidence that decided


def test_the_detail_is_folded_away(report):
    _, page = report
    pairwise = [(path, text) for path, text in page.texts if re.match(r"^\S+ vs \S+: ", text)]
    assert pairwise, "the hand-made cases have paired comparisons to fold away"
    assert all(page.in_details(path) for path, _ in pairwise)
    folded = [text for path, text in page.texts if page.in_details(path)]
    visible = [text for path, text in page.texts if not page.in_details(path)]
    # definitions, the per-pair statistics and the every-strategy-on-every-case table: in <details>
    assert any(text == "instances" for text in folded) and not any(text == "instances" for text in visible)
    assert any(text.startswith("Per-pair statistics") for text in visible)  # its <summary> says what is inside
    assert not any("too few instances for a Wilcoxon" in text for text in visible)
    assert not any("Holm p" in text and "r =" in text for text in visible)


def test_the_matrix_fits_a_laptop_window():
    def rec(scope, solvers):
        candidates = [
            SimpleNamespace(solver=s, eligible=True, median_error=float(k), recommended=k < 2, why_not="")
            for k, s in enumerate(solvers)
        ]
        return SimpleNamespace(
            scope=scope,
            best=solvers[0],
            chosen=solvers[1],
            recommended=solvers[:2],
            candidates=candidates,
            error="error_mean",
            unit="case units",
            verdict=[],
            decided_by="",
        )

    few = [f"strategy-with-a-long-name-{k}" for k in range(8)]
    many = [f"s{k:02d}" for k in range(20)]
    fmt = "{:.3g}".format
    # few strategies: as columns; long names rotated and cut, the full name kept in the tooltip
    layout = html_answer.case_matrix([rec("c1", few), rec("c2", few)], few, fmt)
    assert not layout["transposed"] and len(layout["columns"]) == 8 and layout["rotate"]
    assert all(len(c["short"]) <= html_answer.HEAD_CHARS for c in layout["columns"])
    assert layout["columns"][0]["name"] == few[0]
    assert [c["css"] for c in layout["rows"][0]["cells"][:3]] == ["rec", "chosen", ""]
    # many strategies, few cases: transposed (the cases are the columns)
    layout = html_answer.case_matrix([rec(f"c{k}", many) for k in range(3)], many, fmt)
    assert layout["transposed"] and [c["name"] for c in layout["columns"]] == ["c0", "c1", "c2"]
    assert len(layout["rows"]) == 20 and layout["full"] is None
    # many of both: the highlighted strategies only, at most MATRIX_COLUMNS, and the whole matrix folded away
    recs = [rec(f"c{k:02d}", many) for k in range(20)]
    layout = html_answer.case_matrix(recs, many, fmt)
    assert len(layout["columns"]) <= html_answer.MATRIX_COLUMNS and "s01" in [c["name"] for c in layout["columns"]]
    assert len(layout["full"]["columns"]) == 20


def test_the_report_matrix_has_at_most_so_many_columns(report):
    _, page = report
    heads = [
        text
        for path, text in page.texts
        if path[-1][0] == "th" and page.classed(path, "cases") and path[-1][1].get("class") in ("num", "rot")
    ]
    assert heads == sorted(STRATEGIES)  # four short names fit across: strategies as columns, heads not rotated
    assert len(heads) <= html_answer.MATRIX_COLUMNS


def test_many_strategies_colour_the_highlighted_and_grey_the_rest():
    names = [f"strategy-{k:02d}" for k in range(18)]
    highlight = ["strategy-07", "strategy-03", "strategy-11"]
    grid = np.geomspace(0.01, 10, 20)
    ecdfs = [
        RuntimeEcdf(name, np.sort(np.random.default_rng(k).uniform(0.01, 10, 8)), 10, 5, grid, grid * 0, grid * 0 + 1)
        for k, name in enumerate([*names, "virtual best"])
    ]
    plot = anytime_figures.ecdf_plot([("absolute", ecdfs)], 5, highlight=highlight)
    ax = plot.figure.axes[0]
    labelled = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert sorted(labelled) == sorted([*highlight, "virtual best"])
    grey = [line for line in ax.lines if line.get_color() == figures.GREY]
    assert len(grey) == 15
    assert len(ax.collections) == 3 + 1  # bands: the three highlighted and the virtual best, none for the grey
    legend = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert legend[:3] == highlight and "15 others (caption)" in legend
    assert all(name in plot.caption for name in names if name not in highlight)
    colours = {line.get_label(): line.get_color() for line in ax.lines if line.get_label() in highlight}
    assert len(set(map(str, colours.values()))) == 3  # distinct

    ratios = np.random.default_rng(1).uniform(1, 5, (6, 18))
    profile = anytime_figures.profile_plot(Profile(names, ratios), Profile(names, ratios), "x", highlight=highlight)
    for ax in profile.figure.axes:
        assert sum(line.get_color() == figures.GREY for line in ax.lines) == 15
    assert [t.get_text() for t in profile.figure.legends[0].get_texts()][:3] == highlight


def test_the_highlight_is_the_chosen_then_the_recommended_then_contrasts(report):
    runs, _ = report
    recs = recommend_all(runs)
    picked = html_answer.highlighted(recs)
    overall = next(r for r in recs if r.scope == "all cases")
    assert picked[0] == html_answer.chosen(overall)
    assert set(picked) == set(STRATEGIES)  # two recommended and both others as contrasts
    assert picked.index("bad") > picked.index("good") and picked.index("meh") > picked.index("fast")
