"""``bakeoff report``: every asv result and the run log, as the page that decides.

Reads every asv result in ``results/asv`` (every machine, commit, engine environment and
scale) and the run log into one tidy table (``results.csv``), and writes ``report.html`` (one
self-contained page: the verdict, charts, every table, provenance), ``report.md`` (the same
without images, for pull requests) and ``summary.md`` (for the README, see frontpage). Cells
without a number say why and are never drawn as zero. Damaged inputs (a torn run-log line, an
unreadable asv file) are skipped and said, on stderr and on the page, never a traceback; every
file is replaced whole (shared.atomic), so a full disk leaves the previous report intact.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bakeoff import paths
from bakeoff.commands import factor_option
from bakeoff.frontier import frontier
from bakeoff.redact import redact_text
from bakeoff.report import charts, frontpage, sections, summary
from bakeoff.report.asvlog import read_reasons
from bakeoff.report.page import Block, Heading, Section, Text, to_html, to_markdown
from bakeoff.report.table import Row, gather, write_csv
from bakeoff.runner import RunRecord, display_path
from shared import atomic

DEFAULT_AB_FACTOR = 1.1
TITLE = "bakeoff report"


def machines(asv_results: Path, damage: list[str] | None = None) -> list[dict[str, str]]:
    """asv's facts about every machine that has results (CPU, cores, RAM, OS). An unreadable
    machine file leaves that machine's facts out and adds a line to ``damage``: they describe
    the results, which are all still there and worth the report."""
    found = []
    for path in sorted(asv_results.glob("*/machine.json")):
        try:
            facts = json.loads(path.read_text())
            if not isinstance(facts, dict):
                raise ValueError(f"a JSON {type(facts).__name__}, not asv's machine facts")
        except (OSError, ValueError) as error:
            if damage is not None:
                damage.append(
                    f"asv's machine file {display_path(path)} is unreadable ({error}); the "
                    f"report leaves out the facts of machine {path.parent.name} (cpu, cores, "
                    "memory); `asv machine --yes` on that machine writes them again"
                )
            continue
        found.append({key: str(value) for key, value in facts.items()})
    return found


def introduction(
    rows: list[Row], cells: dict[summary.Key, Row], damage: list[str] | None = None
) -> list[Block]:
    commits = sorted({row.commit[:12] for row in cells.values()}) or ["none"]
    said = [Text(f"Damaged input: {line}.") for line in damage or []]
    return [
        Heading(TITLE, 1),
        Text(
            f"Harness commit {', '.join(commits)}; {len(rows)} results in results.csv. Time is "
            "from Parquet on disk to the full result materialized in the engine (engine "
            "started, answer validated beforehand): the median of asv's warm samples. Memory "
            "is the peak of the whole process tree during the first, validated run. A cell "
            "with no number says why: out of memory, timeout, error, wrong answer, unsupported, "
            "or asv failed (asv ran the benchmark and it failed, with asv's reason)."
        ),
        *said,
    ]


def build(
    rows: list[Row],
    results: Path,
    records: list[RunRecord],
    found_machines: list[dict[str, str]],
    ab_factor: float,
    data_dirs: list[Path],
    damage: list[str] | None = None,
) -> list[Block]:
    cells = summary.current(rows)
    frontier_cells = frontier(records)
    style = charts.styles(summary.labels_of(cells))
    blocks = introduction(rows, cells, damage)
    if not cells:
        blocks.append(Text("asv has no results here yet: run `make bench`."))
    else:
        blocks += sections.verdict_section(cells, frontier_cells)
        blocks += sections.heatmap_sections(cells, results)
        blocks += sections.family_sections(cells, results, style)
        blocks += sections.scaling_sections(cells, results, style)
        blocks += sections.timeline_section(cells, results, style)
        blocks += sections.ab_section(cells, ab_factor)
        blocks += sections.failure_section(cells)
    blocks += sections.single_run_section(rows)
    blocks += sections.fault_tolerance_section(rows)
    blocks += sections.frontier_section(frontier_cells)
    blocks += sections.provenance_section(rows, data_dirs)
    blocks += sections.machine_section(found_machines)
    blocks += sections.all_rows_section(rows)
    return blocks


def write_report(
    results: Path,
    asv_results: Path | None = None,
    ab_factor: float = DEFAULT_AB_FACTOR,
    data_dirs: list[Path] | None = None,
) -> Path:
    """Write results.csv, report.html, report.md, summary.md and the charts into ``results``,
    each replaced whole or not at all; return the page. Damaged inputs are said once each on
    stderr and on the page."""
    asv_results = asv_results or results / "asv"
    collected = gather(asv_results, results / paths.run_log().name, read_reasons(results))
    found_machines = machines(asv_results, collected.damage)
    collected.warn()
    rows = collected.rows
    write_csv(rows, results / "results.csv")
    blocks = build(
        rows,
        results,
        collected.records,
        found_machines,
        ab_factor,
        data_dirs or [paths.data_dir()],
        collected.damage,
    )
    cells = summary.current(rows)
    if cells:
        front = frontpage.summary_markdown(cells, frontier(collected.records), found_machines)
        atomic.write_text(results / frontpage.SUMMARY_NAME, redact_text(front))
    atomic.write_text(results / "report.md", to_markdown([b for b in blocks if _in_markdown(b)]))
    return atomic.write_text(results / "report.html", to_html(blocks, TITLE))


def _in_markdown(block: Block) -> bool:
    return not (isinstance(block, Section) and block.title == sections.ALL_ROWS_TITLE)


def cmd_report(args: argparse.Namespace) -> int:
    results = paths.results_dir()
    if args.readme is not None:
        written = results / frontpage.SUMMARY_NAME
        if not written.exists():
            print(f"{written} does not exist: run `bakeoff report` (or `make bench`) first")
            return 1
        print(frontpage.write_readme(written, Path(args.readme)))
        return 0
    asv_results = Path(args.asv_results) if args.asv_results else None
    print(write_report(results, asv_results, args.ab_factor))
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report", help="write results/report.html, report.md and results.csv from asv and the log"
    )
    report.add_argument("--asv-results", default=None, help="asv results directory")
    report.add_argument(
        "--ab-factor",
        type=factor_option,
        default=DEFAULT_AB_FACTOR,
        help="A/B: flag a version slower or larger than this factor (default %(default)s)",
    )
    report.add_argument(
        "--readme",
        nargs="?",
        const=str(frontpage.README),
        default=None,
        metavar="PATH",
        help="only copy results/summary.md into the README's results section (default %(const)s)",
    )
    report.set_defaults(handler=cmd_report)
