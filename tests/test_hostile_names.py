"""Names and texts from data reach the terminal as text (issue 22, item 1): a terminal escape in a stored name is
shown (``\\x1b``), never obeyed, and ``[bold]`` stays literal, in every report; the Python API refuses such names
as ``register()`` does, and a usage error shows an escape in a path or a plugin's exception text."""

from __future__ import annotations

import copy
import dataclasses
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_packages import GOOD, install
from rich.console import Console

import regbench
from regbench.cases.case import CaseError
from regbench.cases.tiny import make_tiny_case
from regbench.cli import main
from regbench.cli.answer import answer_lines
from regbench.store.sqlite import Store
from regbench.strategy import ParameterError

ESC_STRATEGY = "ok\x1b[31mred"
ESC_CASE = "tiny\x1b]0;pwn\x07[bold]x[/bold]"  # an OSC sequence (sets the terminal's title), then rich markup
SHOWN_CASE = "tiny\\x1b]0;pwn\\x07[bold]x[/bold]"  # what the terminal must show instead


def hostile_records() -> list[regbench.RunRecord]:
    """Records as a hostile or older store holds them: names no plugin could register, written past the API."""
    pm = regbench.make_plugin_manager()
    records = []
    for seed in range(2):
        for name in ("gd", ESC_STRATEGY):
            record = regbench.run_one("gd", make_tiny_case(), seed=seed, pm=pm)
            record.strategy, record.case = name, ESC_CASE
            record.key = f"{record.key[:-8]}{seed}{len(records):07d}"  # distinct keys, as the names are
            records.append(record)
    return records


@pytest.fixture(scope="module")
def records() -> list[regbench.RunRecord]:
    return hostile_records()


@pytest.fixture(scope="module")
def store(records, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "s.sqlite"
    with Store(path) as db:
        for record in records:
            db.add(record)
    return path


def invoke(args: list[str]):
    # color=True: click would strip a CSI sequence from its own output to a pipe, not to a terminal
    return CliRunner().invoke(main, args, color=True, env={"COLUMNS": "200"})


def assert_shown_not_obeyed(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output
    assert "ok\\x1b[31mred" in output
    assert SHOWN_CASE in output  # [bold] literal: not consumed as markup


@pytest.mark.parametrize("command", [["report"], ["report", "--by", "case"], ["recommend"]])
def test_reports_print_stored_names_as_text(store, command):
    result = invoke([*command, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert_shown_not_obeyed(result.output)


def test_recommendation_table_titles_show_the_name_literally(store):
    result = invoke(["recommend", "--store", str(store)])
    assert f"Recommendation: {SHOWN_CASE} (1 instances)" in result.output
    joined = "".join(result.output.split())  # the win table's title wraps to the table's width
    assert f"Winsbymorethanthetolerance({SHOWN_CASE}):rowbeatscolumn" in joined


def test_the_answer_that_ends_a_run_shows_names_as_text(records, tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=200)  # not a terminal: no styles, so any escape would come from the data
    for line in answer_lines(records, tmp_path / "s\x1b[2J.sqlite"):
        console.print(line)
    assert_shown_not_obeyed(out.getvalue())
    assert "s\\x1b[2J.sqlite" in out.getvalue()


@pytest.mark.parametrize(
    ("kind", "error"),
    [("strategy", ParameterError), ("case", CaseError)],
)
def test_run_one_refuses_a_name_register_would_refuse(kind, error):
    strategy, case = copy.copy(regbench.make_plugin_manager().get_strategy("gd")), make_tiny_case()
    if kind == "strategy":
        strategy.name = ESC_STRATEGY
        position = 3
    else:
        case = dataclasses.replace(case, name=ESC_CASE)
        position = 5
    with pytest.raises(error, match=rf"{kind} name .* is not allowed: .*'\\x1b' at position {position}"):
        regbench.run_one(strategy, case)


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--store", "{bad}.sqlite"],
        ["report", "--store", "{store}", "--cases", "{bad}.toml"],
        ["compare", "{bad}-a.jsonl", "{bad}-b.jsonl"],
    ],
    ids=["--store", "--cases", "compare"],
)
def test_a_usage_error_shows_an_escape_in_a_path(args, store, tmp_path):
    bad = str(tmp_path / "no\x1b]0;pwn\x07[31m")
    result = invoke([a.replace("{bad}", bad).replace("{store}", str(store)) for a in args])
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "no\\x1b]0;pwn\\x07[31m" in result.output


def test_run_shows_a_broken_plugins_exception_text_as_text(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, GOOD.replace('register(Steady("steady"))', f"raise RuntimeError({ESC_CASE!r})"))
    result = invoke(["run", "-s", "gd", "-c", "synth2d-translation", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert f"RuntimeError: {SHOWN_CASE}" in result.output
