"""Results on the front page: ``results/summary.md``, and the README section that shows it.

``bakeoff report`` writes ``summary.md``: where and when it was measured (machine, cores,
memory, date, engine versions), the command that regenerates it, the verdict, the combined
score, and one compact table per family and scale (engines x workloads, medians, failures
labelled). ``bakeoff report --readme`` copies it, as it is, between two marker comments of
README.md, adding the section once if the markers are not there yet.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from bakeoff.cells import DEFAULT_SCALES
from bakeoff.engines import catalogue_labels
from bakeoff.report import sections, summary, verdict
from bakeoff.report.page import Table, to_markdown
from bakeoff.report.summary import Key
from bakeoff.report.table import Row, engine_of
from bakeoff.report.verdict import size
from datagen.dataset import format_rows, parse_rows
from shared import atomic
from workloads import get_workload

SUMMARY_NAME = "summary.md"
START = "<!-- bakeoff results: written by `bakeoff report --readme` from results/summary.md -->"
END = "<!-- end of bakeoff results -->"
SECTION_TITLE = "## Results"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
README = PYPROJECT.parent / "README.md"


def _machine_text(cells: dict[Key, Row], machines: list[dict[str, str]]) -> str:
    name = max(cells.values(), key=lambda row: row.date).machine
    facts = next((m for m in machines if m.get("machine") == name), {})
    ram = facts.get("ram", "")
    memory = size(float(ram)) if ram.isdigit() else ram or "memory unknown"
    cpu = facts.get("cpu", "cpu unknown")
    return f"`{name}` ({cpu}, {facts.get('num_cpu', '?')} cores, {memory})"


def versions(cells: dict[Key, Row]) -> dict[str, str]:
    """Engine label -> the engine version measured."""
    return {row.label: row.engine_version for row in sorted(cells.values(), key=lambda r: r.date)}


def stale(measured: dict[str, str], pyproject: Path = PYPROJECT) -> list[str]:
    """Engines measured at a version the project's extras no longer accept, as text."""
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    if not pyproject.exists():
        return []
    extras = tomllib.loads(pyproject.read_text())["project"].get("optional-dependencies", {})
    found = []
    for label, version in sorted(measured.items()):
        engine = engine_of(label)
        for text in extras.get(engine, [])[:1]:  # the engine's own package comes first
            requirement = Requirement(text)
            try:
                accepted = requirement.specifier.contains(Version(version), prereleases=True)
            except InvalidVersion:
                continue
            if not accepted:
                found.append(f"{label} {version} (the extras now ask {requirement})")
    return found


def family_tables(cells: dict[Key, Row]) -> list:
    """One compact table per family and scale: engines x workloads, medians or failures."""
    blocks = []
    labels = summary.labels_of(cells)
    for family in summary.families_of(cells):
        workloads = summary.workloads_of(cells, family)
        for rows in summary.scales_of(cells, family):
            table = Table(f"summary_{family}_{rows}", ["engine", *workloads], [])
            for i, label in enumerate(labels):
                line = [label]
                for j, workload in enumerate(workloads, 1):
                    cell = cells.get((label, workload, rows))
                    ok = cell is not None and cell.ok
                    line.append(
                        verdict.seconds(cell.time_s)
                        + (f" {verdict.BUSY_MARK}" if cell.busy else "")
                        if ok
                        else sections.cell_text(cell)
                    )
                    if not ok:
                        table.failed.add((i, j))
                table.rows.append(line)
            blocks.append(sections.Heading(f"{family} at {format_rows(rows)} rows: median time", 4))
            blocks.append(table)
            shown = [cells.get((label, w, rows)) for label in labels for w in workloads]
            blocks += sections.busy_footnote(shown)
    return blocks


def suite_scales_of(cells: dict[Key, Row]) -> list[int]:
    """The scales the suite was asked for (``--rows``): a question run at a share of the scale
    (ml at 1/100) counts as the scale it was run for."""
    return sorted(
        {round(row.rows / get_workload(row.workload).suite_share) for row in cells.values()}
    )


def bench_command(engines: list[str], scales: str) -> str:
    """The ``make bench`` that measures these engines at these scales: plain for the default."""
    arguments = []
    if sorted(engines) != sorted(catalogue_labels()):
        arguments.append(f"--engines {','.join(engines)}")
    if scales != format_rows(parse_rows(DEFAULT_SCALES)):
        arguments.append(f"--rows {scales}")
    return f'make bench BENCH_ARGS="{" ".join(arguments)}"' if arguments else "make bench"


def summary_markdown(
    cells: dict[Key, Row], frontier_cells: verdict.FrontierCells, machines: list[dict[str, str]]
) -> str:
    """The front page's results, every number from the cells."""
    measured = versions(cells)
    date = max(row.date for row in cells.values())[:10]
    engines = ", ".join(
        label if "==" in label else f"{label} {version}"
        for label, version in sorted(measured.items())
    )
    scales = ",".join(format_rows(rows) for rows in suite_scales_of(cells))
    names = sorted({label.split("==")[0] for label in measured})
    commits = ", ".join(sorted({row.commit[:12] for row in cells.values()}))
    lines = [
        f"Measured on {_machine_text(cells, machines)} on {date}, harness commit {commits}, "
        f"with {engines}. Regenerate with `{bench_command(names, scales)}` (its last step, "
        "`bakeoff report`, writes `results/summary.md`), then "
        "`.venv/bin/bakeoff report --readme` to copy it here.",
        "",
    ]
    outdated = stale(measured)
    if outdated:
        lines += [
            "These results are older than the engine versions the extras now install: "
            + "; ".join(outdated)
            + ".",
            "",
        ]
    lines += ["### Verdict", ""]
    lines += [f"- {sentence}" for sentence in verdict.sentences(cells, frontier_cells)]
    lines.append("")
    blocks = [
        sections.Heading("Combined score", 3),
        sections.Code(summary.SCORE_FORMULA),
        sections.score_table(cells),
        sections.Heading("Median time per family and scale", 3),
        *family_tables(cells),
    ]
    return "\n".join(lines) + "\n" + to_markdown(blocks)


def readme_section(readme_text: str) -> str | None:
    """The text between the markers, or None without them."""
    if START not in readme_text or END not in readme_text:
        return None
    return readme_text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_readme(summary_path: Path, readme: Path = README) -> Path:
    """Put ``summary_path`` between the README's markers; the first time, add the section
    (title and markers) before the README's first second-level heading. The README is
    replaced whole, so a full disk cannot leave it cut short."""
    text = readme.read_text()
    body = summary_path.read_text().strip("\n") + "\n"
    if readme_section(text) is not None:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = f"{before}{START}\n{body}{END}{after}"
    else:
        block = f"{SECTION_TITLE}\n\n{START}\n{body}{END}\n\n"
        at = text.find("\n## ")
        text = text + "\n" + block if at < 0 else text[: at + 1] + block + text[at + 1 :]
    return atomic.write_text(readme, text)
