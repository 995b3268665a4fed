"""The terminal summary, loading sources, and the HTML report from a real store."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

import regbench
from regbench.cli import main
from regbench.record import Trace
from regbench.report.figures import anytime as anytime_figures
from regbench.report.figures import common as figures
from regbench.report.figures import traces as trace_figures
from regbench.report.html.page import write_html
from regbench.report.load.columns import from_records, load_store
from regbench.report.load.sources import from_benchmark_json, load_runs
from regbench.report.stats.summary import summary_rows, summary_table
from regbench.store.sqlite import Store

SEEDS = (0, 1, 2)
RUNS = (
    ("lbfgs2", "synth2d-translation", {"number_of_iterations": 5}),
    ("gd", "synth2d-affine", {"number_of_iterations": 10}),
    ("lbfgs2", "synth2d-affine", {"number_of_iterations": 5}),
    ("gd", "synth2d-translation", {"number_of_iterations": 10}),
)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("store") / "runs.sqlite"
    pm = regbench.make_plugin_manager(entrypoints=False)
    store = Store(path)
    for strategy, case, params in RUNS:
        for seed in SEEDS:
            store.add(regbench.run_one(strategy, case, seed=seed, params=params, threads=1, pm=pm))
    store.close()
    return path


@pytest.fixture(scope="module")
def real_html(real_store, tmp_path_factory):
    """The HTML report of the real store, written once for the tests that only read it."""
    return write_html(load_store(real_store), tmp_path_factory.mktemp("report") / "html")


def render(table) -> str:
    console = Console(width=250, record=True)
    console.print(table)
    return console.export_text()


def test_store_columns_match_the_records(real_store):
    runs = load_store(real_store)
    records = list(Store(real_store).records())
    assert len(runs) == len(records) == len(RUNS) * len(SEEDS)
    for name in ("error_mean", "final_metric_dense", "wall_time_s", "iterations"):
        expected = np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in records], dtype=float)
        np.testing.assert_array_equal(runs[name], expected)
    assert runs["outcome"].tolist() == [r.outcome for r in records]
    # full records (with traces) come back on demand
    (again,) = runs.records([records[4].key])
    assert again.trace.metric == records[4].trace.metric


def test_summary_table_from_records_and_from_store_agree(real_store):
    records = list(Store(real_store).records())
    assert summary_rows(records, by="case") == summary_rows(load_store(real_store), by="case")
    text = render(summary_table(records, by="case"))
    for strategy, case, _ in RUNS:
        assert strategy in text and case in text
    assert "worst" in text and "median" in text
    row = {(r.solver, r.case): r for r in summary_rows(records, by="case")}[("gd", "synth2d-affine")]
    assert row.runs == len(SEEDS)
    assert row.cap_hits == sum(
        r.hit_iteration_limit for r in records if (r.strategy, r.case) == ("gd", "synth2d-affine")
    )


def test_summary_table_rejects_an_unknown_grouping():
    with pytest.raises(ValueError, match="strategy, case"):
        summary_rows([], by="seed")


def test_report_command(real_store):
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(real_store), "--by", "case"])
    assert result.exit_code == 0, result.output
    assert "synth2d-affine" in result.output
    assert "Success rate at error targets" in result.output
    assert "Wilcoxon" in result.output


def test_report_of_a_missing_store_is_a_usage_error(tmp_path):
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2
    assert "none.sqlite" in result.output and "Traceback" not in result.output


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.images, self.ids, self.captions, self.scripts = [], [], set(), 0, 0
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs["src"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "figcaption":
            self.captions += 1
        if tag == "script":
            self.scripts += 1


def test_html_report_links_resolve_and_every_figure_is_there(real_html):
    result = real_html
    page = result.index.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(page)
    cases = {case for _, case, _ in RUNS}
    # per case: traces, median convergence and error vs time; then ECDF, profiles, final error vs time, outcomes
    figures_ = [src for src in parser.images if not src.startswith("runs/")]
    assert len(figures_) == 3 * len(cases) + 4
    assert parser.captions == len(figures_)
    # the recommendation section: per case the recommended, median and worst runs drawn (3 pictures each at least)
    pictures = [src for src in parser.images if src.startswith("runs/")]
    assert {src.split("/")[1] for src in pictures} == cases
    assert all(src.endswith(("overlay.png", "checkerboard.png", "difference.png")) for src in pictures)
    assert 'id="recommendation"' in page and "Case × strategy" in page
    for src in parser.images:
        path = result.index.parent / src
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
    for href in parser.links:
        if href.startswith("#"):
            assert href[1:] in parser.ids, href
        else:
            assert not href.startswith(("http:", "https:", "//", "/")), href
            assert (result.index.parent / href).is_file(), href
    assert "summary.csv" in parser.links
    assert parser.scripts == 0 and "http://" not in page and "https://" not in page  # offline
    assert "Runtime ECDF" in page and "Performance profiles" in page and "Median convergence" in page


def test_html_escapes_strings_from_records(tmp_path):
    evil = "<script>alert(1)</script>"
    trace = Trace(
        segment=[0, 0, 0],
        level=[0, 0, 1],
        iteration=[0, 1, 0],
        metric=[3.0, 2.0, 1.0],
        learning_rate=[1.0, 1.0, 1.0],
        convergence=[None, None, None],
    )
    records = [
        regbench.RunRecord(
            strategy=evil,
            case="c$1",
            seed=s,
            key=f"k{s}",
            outcome="converged",
            error_mean=0.5 + s,
            wall_time_s=1.0 + s,
            stop_category="converged",
            trace=trace,
        )
        for s in range(2)
    ] + [
        regbench.RunRecord(
            strategy="ok", case="c$1", seed=0, key="k9", status="error", outcome="error", error="<b>boom</b>"
        )
    ]
    result = write_html(from_records(records), tmp_path)
    page = result.index.read_text(encoding="utf-8")
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>boom</b>" not in page
    names = [p.name for p in result.files]
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz0123456789-.") for n in names), names


def test_rich_markup_in_names_stays_literal():
    records = [regbench.RunRecord(strategy="[bold]x[/bold]", case="c", seed=0, key="k")]
    assert "[bold]x[/bold]" in render(summary_table(records))


def test_benchmark_json_maps_extra_info_names(tmp_path):
    data = {
        "benchmarks": [
            {
                "name": "test_registration[gd-synth2d-affine]",
                "params": {"regbench_strategy": "gd", "regbench_case": "synth2d-affine"},
                "stats": {"median": 0.25, "mean": 0.3},
                "extra_info": {
                    "strategy": "gd",
                    "case": "synth2d-affine",
                    "seed": 3,
                    "optimizer_iterations": 17,
                    "outcome": "converged",
                    "status": "ok",
                    "error_mean": 0.4,
                    "wall_time_s": 0.2,
                    "run_key": "abc",
                    "params": {"learning_rate": 1.0},
                },
            }
        ]
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    runs = load_runs(path)
    assert runs["iterations"].tolist() == [17.0]  # optimizer_iterations, not pytest-benchmark's own count
    assert runs["wall_time_s"].tolist() == [0.25]  # pytest-benchmark's median round
    assert (runs["strategy"][0], runs["case"][0], int(runs["seed"][0]), runs["key"][0]) == (
        "gd",
        "synth2d-affine",
        3,
        "abc",
    )
    # without strategy/case in extra_info, the parametrized name says them
    del data["benchmarks"][0]["extra_info"]
    runs = from_benchmark_json(data)
    assert (runs["strategy"][0], runs["case"][0]) == ("gd", "synth2d-affine")


def test_json_lines_and_bad_files(tmp_path):
    lines = tmp_path / "runs.jsonl"
    lines.write_text(
        "\n".join(regbench.RunRecord(strategy="a", case="c", seed=s, key=f"k{s}").to_json() for s in range(3))
    )
    assert len(load_runs(lines)) == 3
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(bad)])
    assert result.exit_code == 2 and "bad.json" in result.output


def test_trace_figure_marks_level_changes():
    trace = Trace(
        segment=[0, 0, 0, 1],
        level=[0, 0, 1, 0],
        iteration=[0, 1, 0, 0],
        metric=[3.0, 2.0, 1.0, 0.5],
        learning_rate=[None] * 4,
        convergence=[None] * 4,
    )
    record = regbench.RunRecord(strategy="s", case="c", seed=0, trace=trace)
    assert figures._level_starts(record) == [2, 3]
    plot = trace_figures.trace_plot("c", 1, {"s": [record]}, figures.colors(["s"]))
    ax = plot.figure.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    level_lines = [line for line in ax.lines if line.get_linestyle() == ":" and len(line.get_xdata())]
    assert len(level_lines) == 2  # the two level changes (the third dotted line is the legend entry)


def test_an_sqlite_file_that_is_not_a_store_is_left_alone(tmp_path):
    import sqlite3

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = path.read_bytes()
    result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(path)])
    assert result.exit_code == 2
    assert "not a regbench result store" in result.output
    assert path.read_bytes() == before


def test_store_summaries_are_the_records_without_heavy_fields(real_store):
    from regbench.store.sqlite import Store

    with Store.read_only(real_store) as store:
        summaries = store.summaries(("trace", "transform", "segments"))
        records = list(store.records())
    assert len(summaries) == len(records) > 0
    for summary, record in zip(summaries, records, strict=True):
        full = record.to_dict()
        assert summary == {k: v for k, v in full.items() if k not in ("trace", "transform", "segments")}
    with Store.read_only(real_store) as store:
        keys = [r.key for r in records[::-1]]
        assert [r.key for r in store.get_many(keys)] == keys
        assert [r.key for r in store.find(keys[0][:12])] == [keys[0]]


def landmark_records() -> list[regbench.RunRecord]:
    """A user case with landmarks and no truth transform: accuracy only in measures (as evaluate.py writes it)."""
    return [
        regbench.RunRecord(
            strategy=strategy,
            case="user-landmarks",
            seed=seed,
            key=f"{strategy}{seed}",
            outcome="converged",
            wall_time_s=0.1,
            measures={"tre_mean": tre, "tre_p95": tre * 2, "tre_max": tre * 3, "initial_tre_mean": 3.0, "landmarks": 3},
        )
        for strategy, base in (("a", 0.25), ("b", 0.75))
        for seed, tre in enumerate((base, base + 0.5))
    ]


def test_landmark_only_cases_report_their_tre(tmp_path):
    path = tmp_path / "lm.sqlite"
    store = Store(path)
    for record in landmark_records():
        store.add(record)
    store.close()
    runner = CliRunner(env={"COLUMNS": "250"})
    fallback = runner.invoke(main, ["report", "--store", str(path)])
    assert fallback.exit_code == 0, fallback.output
    # median error and worst-30% columns: the TRE (a: 0.25, 0.75; b: 0.75, 1.25), not "–"
    assert summary_cells(fallback.output, "a")[8:10] == ["0.5", "0.6"]
    assert summary_cells(fallback.output, "b")[8:10] == ["1", "1.1"]
    assert "tre_mean stands in for error_mean" in fallback.output and "(user-landmarks)" in fallback.output
    assert "Success rate" in fallback.output and "100%" in fallback.output  # TRE targets, not a metric gap
    chosen = runner.invoke(main, ["report", "--store", str(path), "--error", "tre_max", "--no-stats"])
    assert chosen.exit_code == 0, chosen.output
    assert "error = tre_max (landmark TRE" in chosen.output
    assert summary_cells(chosen.output, "a")[8] == "1.5"  # median of 0.75 and 2.25


def summary_cells(output: str, strategy: str) -> list[str]:
    """The cells of a strategy's row in the summary table printed by the CLI."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) > 10 and cells[0] == strategy:
            return cells
    raise AssertionError(f"no row for {strategy} in {output}")


def test_an_unwritable_html_directory_is_a_usage_error(real_store, tmp_path):
    (tmp_path / "a-file").write_text("")
    for bad in ("/proc/regbench-report", str(tmp_path / "a-file" / "html")):
        result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(real_store), "--html", bad])
        assert result.exit_code == 2, result.output
        assert bad in result.output and "cannot write the HTML report" in result.output
        assert "Traceback" not in result.output and not isinstance(result.exception, Exception)  # SystemExit(2)


def test_a_reused_html_directory_loses_only_its_own_stale_figures(tmp_path):
    out = tmp_path / "html"
    out.mkdir()
    stale = ["traces-07.png", "convergence-12.png", "outcomes.png"]
    kept = ["photo.png", "notes.txt", "traces-7.png", "outcomes.png.bak"]
    for name in stale + kept:
        (out / name).write_bytes(b"old")
    records = landmark_records()
    result = write_html(from_records(records), out)
    names = {p.name for p in out.iterdir()}
    assert not {"traces-07.png", "convergence-12.png"} & names
    assert (out / "outcomes.png").read_bytes()[:4] == b"\x89PNG"  # rewritten, not the stale bytes
    assert set(kept) <= names and all((out / n).read_bytes() == b"old" for n in kept)
    assert all(p.is_file() for p in result.files)
    assert {p.name for p in result.files if p.parent == out} <= names


def _extents(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def test_trace_legend_sits_outside_and_coinciding_lines_stay_distinct():
    trace = Trace(
        segment=[0] * 20,
        level=[0] * 20,
        iteration=list(range(20)),
        metric=[1.0 / (i + 1) for i in range(20)],
        learning_rate=[None] * 20,
        convergence=[None] * 20,
    )
    same = {s: [regbench.RunRecord(strategy=s, case="c", seed=0, trace=trace)] for s in ("gd", "gd-best")}
    plot = trace_figures.trace_plot("c", 1, same, figures.colors(list(same)))
    ax = plot.figure.axes[0]
    renderer = _extents(plot.figure)
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    gd, best = (line for line in ax.lines if len(line.get_xdata()) == 20)
    assert (gd.get_linestyle(), gd.get_marker()) != (best.get_linestyle(), best.get_marker())
    assert gd.get_markevery() != best.get_markevery()  # markers of overlapping lines fall side by side


def test_profile_axis_labels_fit_in_the_figure():
    from regbench.report.stats.across_instances import Profile

    profile = Profile(["a", "b"], np.array([[1.0, 2.0], [1.5, 1.0], [1.0, np.inf]]))
    plot = anytime_figures.profile_plot(profile, profile, "an error of 1")
    renderer = _extents(plot.figure)
    box = plot.figure.bbox
    for ax in plot.figure.axes:
        label = ax.xaxis.label.get_window_extent(renderer)
        assert box.x0 <= label.x0 and label.x1 <= box.x1, ax.get_xlabel()


def pair_records() -> list[regbench.RunRecord]:
    """Three strategies on 7 distinct instances of a deformable case (a < b < c on every one), plus copies:
    case "copied" has seeds 0-2 on one instance."""
    records = []
    for k, strategy in enumerate(("a", "b", "c")):
        for seed in range(7):
            records.append(
                regbench.RunRecord(
                    strategy=strategy,
                    case="deform",
                    seed=seed,
                    instance=f"deform-{seed}",
                    key=f"{strategy}-d-{seed}",
                    outcome="folded" if (strategy, seed) == ("c", 0) else "converged",
                    error_mean=1.0 + seed + k,
                    wall_time_s=1.0 + 0.1 * seed,  # the same time for all three: tied
                    folding_fraction=0.26 if (strategy, seed) == ("c", 0) else 0.0,
                    overlap_fraction=0.9,
                )
            )
            if seed < 3:
                records.append(
                    regbench.RunRecord(
                        strategy=strategy,
                        case="copied",
                        seed=seed,
                        instance="copied-0",
                        key=f"{strategy}-c-{seed}",
                        outcome="converged",
                        error_mean=2.0 + k,
                        wall_time_s=1.0,
                        overlap_fraction=0.15,
                    )
                )
    return records


def test_html_shows_pairwise_matrices_folding_overlap_and_copies(tmp_path):
    result = write_html(from_records(pair_records()), tmp_path / "html")
    page = result.index.read_text(encoding="utf-8")
    # the pairwise results: one solvers × solvers matrix per measure, not a row per pair
    assert page.count('<table class="matrix">') == 2
    assert "<th>n pairs</th>" not in page
    assert page.count('class="lower"') == 3 and page.count('class="higher"') == 3  # a < b < c, significant
    assert "error_mean: 3 of 3 tested pairs significant" in page
    assert "identical on every instance" in page  # the tied wall times: tested, p = 1, never significant
    # folding and overlap in the summary tables
    assert "folded runs (max folding)" in page and "1 (max 26%)" in page
    assert "minimum overlap" in page and "15% (3 low)" in page
    # copies: counted once, and said
    assert "8 distinct instances of 10 case–seed pairs" in page
    assert "seeds 1, 2 repeat seed 0&#39;s problem on case copied" in page
    header = next(line for line in result.index.parent.joinpath("summary.csv").read_text().splitlines())
    # no run is called "succeeded" (issue 21): the count is of runs that finished without a failure
    assert "finished without a failure" in header and "median relative gap" in header and ",ok," not in header
    assert "succeeded" not in header and "registered (within the tolerance)" in header


def test_report_command_counts_runs_without_a_failure_and_leaks_no_warning(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    records = pair_records()
    records.append(
        regbench.RunRecord(
            strategy="a",
            case="blind",
            seed=0,
            key="blind",
            outcome="no_overlap",
            final_metric_dense=1.7976931348623157e308,
            initial_metric_dense=-1.0 + 1e-12,
            overlap_fraction=0.0,
        )
    )
    records.append(
        regbench.RunRecord(
            strategy="b", case="blind", seed=0, key="blind-b", final_metric_dense=-1.0, initial_metric_dense=-0.5
        )
    )
    for record in records:
        store.add(record)
    store.close()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(path)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Warning" not in result.output
    cells = summary_cells(result.output, "c")
    assert cells[1:3] == ["10", "9"]  # 10 runs, 9 without a failure: the folded one is executed, and failed
    header = " ".join(result.output.splitlines()[2:4])
    assert "no" in header and "failure" in header and " ok " not in header and "succeeded" not in header
    assert "9 distinct instances of 11 case–seed pairs" in result.output  # blind: no instance id, (case, seed)


def test_many_strategies_get_one_row_each_in_the_terminal_not_one_per_pair():
    from regbench.report.text.tables import MAX_PAIR_ROWS, paired_tests_table

    names = [f"s{k}" for k in range(9)]  # 36 pairs per measure
    records = [
        regbench.RunRecord(
            strategy=name,
            case="c",
            seed=seed,
            instance=f"c-{seed}",
            key=f"{name}-{seed}",
            outcome="converged",
            error_mean=(1.0 + k) * (1.0 + 0.01 * seed),  # no ties: exact p = 2/4096, significant after Holm
            wall_time_s=1.0,
        )
        for k, name in enumerate(names)
        for seed in range(12)
    ]
    assert len(names) * (len(names) - 1) // 2 > MAX_PAIR_ROWS
    text = render(paired_tests_table(from_records(records), ("error_mean", "wall_time_s")))
    assert "per strategy (9 strategies: 36 pairs per measure)" in " ".join(text.split())
    rows = {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 9
    }
    # error: s0 is lower than the 8 others, s8 higher; wall time: identical everywhere, tested (p = 1), n.s.
    assert rows["s0"] == ["8", "0", "0", "0", "0", "0", "8", "0"]
    assert rows["s8"][:4] == ["0", "8", "0", "0"]
    assert len(rows) == len(names)


def test_first_hits_of_real_runs_agree_with_the_per_record_helper(real_store):
    # the vectorized first hits of the report against `show`'s per-record helper, on real anytime curves
    from regbench.report.stats import anytime_curves as anytime_stats
    from regbench.report.stats.anytime import first_hit

    runs = load_store(real_store)
    judged = anytime_stats.judged_curves(runs)
    assert judged.from_curve.all()  # every run here returned and has its curve
    limits = np.tile(np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.01]), (len(runs), 1))
    time, iterations = anytime_stats.first_hits(judged, limits)
    records = {r.key: r for r in runs.records(list(runs["key"]))}
    checked = 0
    for i, key in enumerate(runs["key"]):
        curve = records[key].anytime
        for j, target in enumerate(limits[i]):
            hit = first_hit(curve, curve.error_mean, target)
            assert (time[i, j], iterations[i, j]) == (hit if hit else (np.inf, np.inf)), (key, target)
            checked += hit is not None
    assert checked  # some targets were reached, some not
    assert np.isinf(time).any()


def test_report_at_80_columns_renders_every_number_whole(real_store):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["report", "--store", str(real_store)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith(("│", "┃"))]
    assert rows
    for line in rows:
        assert len(line) <= 80, line
        assert line.rstrip().endswith(("│", "┃")), line  # no table cropped at the edge
        cells = [c.strip() for c in line.strip("│┃").split("│" if line.startswith("│") else "┃")]
        for cell in cells:
            assert "…" not in cell, line  # no number (or name) ellipsised
    # the numbers of the error column are whole: the same digits as at 250 columns
    wide = CliRunner(env={"COLUMNS": "250"}).invoke(main, ["report", "--store", str(real_store), "--no-stats"])
    import re

    numbers = set(re.findall(r"\d+\.\d+", wide.output.split("error =")[0]))
    narrow = set(re.findall(r"\d+\.\d+", result.output.split("error =")[0]))
    assert narrow and narrow <= numbers


def test_report_filters_cases_and_strategies(real_store):
    runs = load_store(real_store)
    case = sorted(set(runs["case"].tolist()))[0]
    strategy = sorted(set(runs["strategy"].tolist()))[0]
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        main, ["report", "--store", str(real_store), "--by", "case", "-c", case, "-s", strategy, "--no-stats"]
    )
    assert result.exit_code == 0, result.output
    others = set(runs["case"].tolist()) - {case}
    assert case in result.output and not any(o in result.output for o in others)


def test_summary_rows_link_to_run_pages(real_store, real_html):
    result = real_html
    page = result.index.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(page)
    run_pages = [href for href in parser.links if href.startswith("runs/") and href.endswith(".html")]
    runs = load_store(real_store)
    assert len(set(run_pages)) == len(set(zip(runs.solver.tolist(), runs["case"].tolist(), strict=True)))
    for href in run_pages:
        text = (result.index.parent / href).read_text(encoding="utf-8")
        assert "regbench show" in text and "../../index.html" in text
