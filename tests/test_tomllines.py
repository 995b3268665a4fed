"""The one TOML line-finder that run files and case files share (regbench.util.toml_lines)."""

from __future__ import annotations

import re

from regbench.util.toml_lines import TomlLines

TEXT = """\
# a run file
strategies = ["gd"]
"cases" = [
  "synth2d-translation",
  "synth2d-rigid",
]
[params]
seeds = 3
[params.gd]
learning_rate = 1
"""


def test_a_key_is_found_bare_or_quoted_and_only_in_the_region_asked():
    toml = TomlLines("run.toml", TEXT)
    assert toml.at(toml.key("strategies")) == "run.toml:2"
    assert toml.at(toml.key("cases")) == "run.toml:3"
    assert toml.key("seeds", 0, 6) is None and toml.at(toml.key("seeds")) == "run.toml:8"
    assert toml.at(None) == "run.toml"


def test_a_table_header_counts_as_its_key_with_or_without_its_parent():
    toml = TomlLines("run.toml", TEXT)
    assert toml.key("params") == 6
    assert toml.key("gd") == 8


def test_an_item_of_a_multiline_value_and_the_lines_matching_a_pattern():
    toml = TomlLines("run.toml", TEXT)
    assert toml.at(toml.holding("synth2d-rigid", toml.key("cases"))) == "run.toml:5"
    assert toml.holding("absent", 0) is None
    assert toml.matching(re.compile(r"^\s*\[")) == [6, 8]
