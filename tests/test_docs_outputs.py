"""The command outputs the docs quote (``docs/outputs/*.txt``) are what the code prints today.

Each example is rerun in a scratch directory with its generator's own commands (``docs/outputs/generate.py``,
which also regenerates them all) and compared with the committed file after ``generate.normalise``, which blanks
only what legitimately varies: times, the progress lines, run keys, dates and thread-order noise. A failure
means the docs quote a number or a label the code no longer prints: rerun ``python docs/outputs/generate.py
NAME`` and re-read the prose around the block. The docs' includes and the files match one to one, and the
lengths the prose quotes beside a block ("36.5 px", "2 mm") are among the numbers of the outputs its page quotes
(an input is written out instead: "a 12-pixel shift", "`--margin 0.5`").
"""

from __future__ import annotations

import difflib
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS, OUTPUTS = ROOT / "docs", ROOT / "docs" / "outputs"
sys.path.insert(0, str(OUTPUTS))
import generate  # noqa: E402  (docs/outputs/generate.py: the examples, their runner and the normalisation)

EXAMPLES = generate.examples()
#: The slow marker's subset: examples that took 2.5–10 s each on an idle 2-core machine (several runs, an audit),
#: where the others took 0.5–2.2 s.
SLOW = {
    "final-metric-converged",
    "final-metric-cap",
    "learning-rate",
    "best-or-last",
    "rounding-error",
    "reproducible",
    "diagnostics-stability",
    "diagnostics-upgrade",
    "diagnostics-switch",
}
#: Not rerun here: 36–72 runs each (15–75 s on 2 cores) on the BrainWeb pair of Debian's
#: insighttoolkit5-examples, and their tables carry a time column no regex can blank without blanking its
#: neighbours. ``python docs/outputs/generate.py`` regenerates them with the rest.
NOT_RERUN = {name for name, example in EXAMPLES.items() if example.generator == "generate_evidence"}
INCLUDE = re.compile(r'^--8<-- "([^"]+\.txt)"$', re.M)
NUMBER = r"\d+(?:\.\d+)?(?:e-?\d+)?"


def _committed(name: str) -> str:
    return (OUTPUTS / f"{name}.txt").read_text(encoding="utf-8")


def _pages() -> dict[Path, list[str]]:
    """Each docs page that quotes outputs -> the output files it includes."""
    pages = {page: INCLUDE.findall(page.read_text(encoding="utf-8")) for page in sorted(DOCS.glob("*.md"))}
    return {page: names for page, names in pages.items() if names}


def test_every_output_is_included_and_generated():
    included = {name for names in _pages().values() for name in names}
    files = {path.name for path in OUTPUTS.glob("*.txt")}
    assert included - files == set(), "docs/*.md include outputs that docs/outputs does not hold"
    assert files - included == set(), "docs/outputs holds outputs that no page includes"
    assert {f"{name}.txt" for name in EXAMPLES} == files, "every output needs an example in a generator, and back"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in EXAMPLES
        if name not in NOT_RERUN
    ],
)
def test_a_documented_output_is_what_the_code_prints(name, tmp_path):
    printed = generate.normalise(EXAMPLES[name].output(tmp_path))
    documented = generate.normalise(_committed(name))
    if printed != documented:
        diff = difflib.unified_diff(
            documented.splitlines(), printed.splitlines(), f"docs/outputs/{name}.txt", "printed today", lineterm="", n=1
        )
        shown = list(diff)
        pytest.fail(
            f"docs/outputs/{name}.txt is stale: rerun `python docs/outputs/generate.py {name}` and re-read the "
            "prose around its block\n" + "\n".join(shown[:80]) + ("\n..." if len(shown) > 80 else ""),
            pytrace=False,
        )


def _beside_blocks(text: str) -> list[str]:
    """The paragraphs just before and just after each fenced block that includes an output."""
    paragraphs = re.split(r"\n\s*\n", text)
    found = []
    for i, paragraph in enumerate(paragraphs):
        if INCLUDE.search(paragraph):
            found += [p for p in (paragraphs[i - 1] if i else "", paragraphs[i + 1] if i + 1 < len(paragraphs) else "")]
    return found


def _matches(quoted: str, values: list[float]) -> bool:
    """Is ``quoted`` (as the prose rounds it) one of ``values``: within half a unit of its last digit?"""
    half = Decimal(5).scaleb(Decimal(quoted).as_tuple().exponent - 1)
    return any(abs(Decimal(quoted) - Decimal(repr(value))) <= half for value in values)


@pytest.mark.parametrize("page", list(_pages()), ids=lambda page: page.name)
def test_the_prose_beside_a_block_quotes_numbers_its_page_prints(page):
    # A length the prose gives next to a block ("the error went from 9.95 to 36.5 px") must be one of the
    # numbers the page's outputs print, at the prose's precision, so a regeneration that changes it fails here.
    values = [float(v) for name in _pages()[page] for v in re.findall(NUMBER, _committed(name.removesuffix(".txt")))]
    quoted = [
        n
        for text in _beside_blocks(page.read_text(encoding="utf-8"))
        for n in re.findall(rf"({NUMBER}) (?:px|mm)\b", text)
    ]
    stale = [n for n in quoted if not _matches(n, values)]
    assert not stale, (
        f"docs/{page.name} quotes lengths beside its output blocks that none of its outputs prints: {stale}. "
        "Take them from the regenerated outputs (or write an input as its option, e.g. `--margin 0.5`)."
    )
