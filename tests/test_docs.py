"""The README stays a five-minute read, and every link and path in the docs resolves.

The README's engine x family matrix is rendered here from the registry: a new engine, question
or unsupported cell fails this test until the README shows it (the message has the new table).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bakeoff.engines import ENGINE_NAMES
from workloads import FAMILIES, Unsupported, all_workloads, implementation

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 200
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path of this repository in backticks: a top-level folder, then a file or folder name.
REPO_PATH = re.compile(r"`((?:bakeoff|datagen|workloads|benchmarks|shared|tests|docs)/[\w./-]+)`")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", _outside_code(markdown), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _outside_code(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)


def engine_family_matrix() -> str:
    """Per engine and family, the questions answered out of the family's questions."""
    workloads = list(all_workloads().values())
    lines = ["| engine | " + " | ".join(FAMILIES) + " |", "|---" * (len(FAMILIES) + 1) + "|"]
    for engine in ENGINE_NAMES:
        cells = []
        for family in FAMILIES:
            asked = [w for w in workloads if w.family == family]
            answered = [w for w in asked if not isinstance(implementation(engine, w), Unsupported)]
            cells.append(f"{len(answered)}/{len(asked)}")
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_readme_is_a_five_minute_read():
    lines = README.read_text().splitlines()
    assert len(lines) < README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_readme_shows_the_two_commands_first():
    text = README.read_text()
    commands = text.index("## The two commands")
    assert text.index("make bench", commands) < text.index("## Results")
    assert "make test" in text[commands : text.index("## Results")]


def test_readme_matrix_is_the_registry():
    matrix = engine_family_matrix()
    assert matrix in README.read_text(), f"README.md's matrix is out of date; it is now:\n{matrix}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_resolves(page: Path):
    text = page.read_text()
    broken = []
    for target in LINK.findall(_outside_code(text)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        location, _, anchor = target.partition("#")
        file = (page.parent / location).resolve() if location else page
        anchored = file.exists() and file.suffix == ".md" and bool(anchor)
        if not file.exists() or (anchored and anchor not in anchors(file.read_text())):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_repository_path_named_exists(page: Path):
    named = {p.rstrip(".") for p in REPO_PATH.findall(page.read_text())}
    missing = sorted(p for p in named if "<" not in p and not (ROOT / p).exists())
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def test_every_doc_is_linked_from_the_readme():
    targets = LINK.findall(README.read_text())
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in targets}
    assert not [page.name for page in DOCS if page.resolve() not in linked]
