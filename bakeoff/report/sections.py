"""The report's sections, as blocks: what a reader needs to choose an engine, in that order.

The verdict first (sentences generated from the results), the table of winners and the
combined score with its formula, then the heatmap of each engine against the fastest, each
family and scale (dot chart and table), scaling curves where two scales or more were run,
memory timelines, the engine-version A/B, single runs, failures, the frontier, and finally,
collapsed until opened, the detail: settings, commits, datasets, machines, every result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff.frontier import FrontierCell, stopped_at
from bakeoff.report import charts, summary, verdict
from bakeoff.report.page import Block, Code, Heading, Image, Section, Table, Text
from bakeoff.report.summary import Key
from bakeoff.report.table import FAULT_INJECTION, SINGLE_RUN, Row
from bakeoff.report.verdict import BUSY_MARK, seconds, size
from datagen import storage
from datagen.dataset import MANIFEST_NAME, format_rows
from shared.units import format_bytes


def cell_text(row: Row | None) -> str:
    """A cell as the tables show it: median, spread and first run, or why there is none;
    marked when it was measured on a busy machine."""
    if row is None:
        return charts.MISSING
    mark = f" {BUSY_MARK}" if row.busy else ""
    if not row.ok:
        return charts.failure_label(row) + mark
    spread = ""
    if row.time_q25_s is not None and row.time_q75_s is not None:
        spread = f" (IQR {seconds(row.time_q25_s)}-{seconds(row.time_q75_s)})"
    first = f"; first {seconds(row.first_run_s)}" if row.first_run_s is not None else ""
    return f"{seconds(row.time_s)}{spread}{first}; peak {size(row.peak_bytes)}{mark}"


def busy_footnote(rows: list[Row | None]) -> list[Block]:
    """The footnote under a table with a busy cell: what the mark means."""
    if not any(row is not None and row.busy for row in rows):
        return []
    return [Text(f"{BUSY_MARK} {verdict.BUSY_NOTE}")]


def grid(
    name: str,
    row_keys: list[str],
    columns: list[str],
    lookup: Callable[[str, str], Row | None],
    first: str,
) -> Table:
    """A table of cells (rows x columns), failed cells marked as such."""
    table = Table(name, [first, *columns], [])
    for i, key in enumerate(row_keys):
        cells = [lookup(key, column) for column in columns]
        table.rows.append([key, *(cell_text(c) for c in cells)])
        table.failed |= {(i, j + 1) for j, c in enumerate(cells) if c is None or not c.ok}
    return table


def verdict_section(cells: dict[Key, Row], frontier_cells: verdict.FrontierCells) -> list:
    """The verdict on top, open: the sentences, then the numbers they come from."""
    return [
        Section(
            "verdict",
            "Verdict",
            [Text(t) for t in verdict.sentences(cells, frontier_cells)],
            collapsed=False,
        ),
        *summary_section(cells),
    ]


def best_table(cells: dict[Key, Row]) -> Table:
    """Per ranking group and scale: the fastest, its margin, the leanest, and over what."""
    best = Table(
        "best",
        [
            "group",
            "rows",
            "fastest (total time)",
            "x faster than the next (IQR)",
            "leanest (largest peak)",
            "ranked on",
        ],
        [],
    )
    for found in summary.best_per_family(cells):
        margin = "-"
        if found.margin is not None:
            margin = (
                f"{found.margin:.2f}x {found.runner_up} "
                f"({found.margin_low:.2f}x-{found.margin_high:.2f}x)"
            )
        scope = "every question" if found.complete else ", ".join(found.questions) or "nothing"
        best.rows.append(
            [
                found.family,
                format_rows(found.rows),
                f"{found.fastest} ({seconds(found.fastest_s)})" if found.fastest else "none",
                margin,
                f"{found.leanest} ({size(found.leanest_bytes)})" if found.leanest else "none",
                scope,
            ]
        )
    return best


def score_table(cells: dict[Key, Row]) -> Table:
    scores = summary.combined_scores(cells)
    ranking = Table("score", ["rank", "engine", "combined score"], [])
    for position, (label, score) in enumerate(sorted(scores.items(), key=lambda i: i[1]), 1):
        ranking.rows.append([str(position), label, f"{score:.2f}"])
    return ranking


def summary_section(cells: dict[Key, Row]) -> list[Block]:
    return [
        Heading("Which engine for what"),
        Text(
            "Per family and scale (an ML family's library variants ranked apart, among the "
            "engines that have such a library): fastest is the lowest total time, leanest the "
            "lowest largest peak of process-tree memory, among the engines that answered every "
            "question; where none did, on the questions all of them answered. The margin is "
            "the next engine's total over the fastest's, and in brackets the same over the "
            "interquartile ranges (least and most favourable)."
        ),
        best_table(cells),
        Heading("Combined score (ClickBench method)", 3),
        Code(summary.SCORE_FORMULA),
        score_table(cells),
    ]


def family_sections(cells: dict[Key, Row], out: Path, style: dict[str, charts.Style]) -> list:
    blocks: list[Block] = []
    labels = summary.labels_of(cells)
    for family in summary.families_of(cells):
        for rows in summary.scales_of(cells, family):
            title = f"{family} at {format_rows(rows)} rows"
            image = charts.dots(cells, family, rows, out / f"times_{family}_{rows}.png", style)
            blocks += [
                Heading(title),
                Text(
                    "Median of asv's warm samples, interquartile range, the first (cold, "
                    "validated) run, and the peak memory of the whole process tree."
                ),
                Image(image, f"{title}: time per workload per engine"),
                grid(
                    f"times_{family}_{rows}",
                    summary.workloads_of(cells, family),
                    labels,
                    lambda workload, label, rows=rows: cells.get((label, workload, rows)),
                    "workload",
                ),
                *busy_footnote(
                    [c for k, c in cells.items() if k[2] == rows and c.family == family]
                ),
            ]
    return blocks


def scaling_sections(cells: dict[Key, Row], out: Path, style: dict[str, charts.Style]) -> list:
    blocks: list[Block] = [Heading("Scaling")]
    for family in summary.families_of(cells):
        scales = summary.scales_of(cells, family)
        if len(scales) < 2:
            blocks.append(
                Text(
                    f"{family}: one scale run ({format_rows(scales[0])} rows), so no scaling "
                    "curve; `bakeoff bench --rows 1e6,1e7` draws one."
                )
            )
            continue
        found = [
            crossing
            for measure in ("time", "memory")
            for crossing in summary.crossovers(
                summary.series(cells, family, measure), family, measure
            )
        ]
        image = charts.scaling(cells, family, out / f"scaling_{family}.png", style, found)
        table = Table(f"crossovers_{family}", ["measure", "engine", "overtakes", "at rows"], [])
        for c in found:
            table.rows.append([c.measure, c.winner, c.loser, f"{c.rows:,.0f}"])
        blocks += [Image(image, f"{family}: time and memory against rows, log-log")]
        blocks += [table] if found else [Text(f"{family}: no engine overtakes another.")]
    return blocks


def heatmap_sections(cells: dict[Key, Row], out: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Time relative to the fastest engine")]
    for rows in summary.scales_of(cells):
        path = charts.heatmap(cells, rows, out / f"heatmap_{rows}.png")
        blocks.append(Image(path, f"{format_rows(rows)} rows: time relative to the fastest"))
    return blocks


def timeline_section(cells: dict[Key, Row], out: Path, style: dict[str, charts.Style]) -> list:
    runs = charts.largest_runs(cells)
    if not runs:
        return []
    path = charts.timelines(runs, out / "memory_timeline.png", style)
    return [Heading("Memory timelines"), Image(path, "memory during each engine's largest run")]


def ab_section(cells: dict[Key, Row], factor: float) -> list[Block]:
    comparisons = summary.ab_comparisons(cells, factor)
    if not comparisons:
        return []
    table = Table(
        "ab",
        [
            "engine",
            "versions",
            "workload",
            "rows",
            "time ratio",
            "significant",
            "memory ratio",
            "flags",
        ],
        [],
    )
    for i, c in enumerate(comparisons):
        significant = {True: "yes", False: "no", None: "untested"}[c.significant]
        table.rows.append(
            [
                c.engine,
                f"{c.old} -> {c.new}",
                c.workload,
                format_rows(c.rows),
                f"{c.time_ratio:.2f}" if c.time_ratio is not None else "-",
                significant,
                f"{c.memory_ratio:.2f}" if c.memory_ratio is not None else "-",
                "; ".join(c.flags) or "-",
            ]
        )
        if c.flags:
            table.failed.add((i, 7))
    return [
        Heading("Engine versions A/B"),
        Text(
            "Ratios are the newer version over the older (below 1 is better). Significance is "
            f"asv's own test on the samples (as in asv compare); flags mark a significant "
            f"slowdown or a memory growth beyond {factor:g}x."
        ),
        table,
    ]


def single_run_section(rows: list[Row]) -> list[Block]:
    singles = [
        row for row in rows if row.source == SINGLE_RUN and FAULT_INJECTION not in row.settings
    ]
    if not singles:
        return []
    table = Table("single_runs", ["engine", "version", "workload", "rows", "status", "result"], [])
    for i, row in enumerate(sorted(singles, key=lambda r: (r.rows, r.engine, r.workload))):
        table.rows.append(
            [
                row.engine,
                row.engine_version,
                row.workload,
                format_rows(row.rows),
                row.status,
                cell_text(row) if row.ok else row.detail,
            ]
        )
        if row.failed:
            table.failed.add((i, 4))
    return [
        Heading("Single validated runs (bakeoff run, not asv)"),
        Text(
            "Recorded by `bakeoff run`: one validated run each, not asv's repeated samples, "
            "so they are kept out of the charts, the score and asv's tables."
        ),
        table,
        *busy_footnote(list(singles)),
    ]


def fault_tolerance_section(rows: list[Row]) -> list[Block]:
    """Per engine, what killing one worker mid-run did (``BAKEOFF_CHAOS_KILL_AFTER``)."""
    tested = [row for row in rows if FAULT_INJECTION in row.settings]
    if not tested:
        return []
    table = Table("fault_tolerance", ["engine", "workload", "rows", "outcome", "detail"], [])
    for i, row in enumerate(sorted(tested, key=lambda r: (r.engine, r.rows, r.workload))):
        table.rows.append([row.engine, row.workload, format_rows(row.rows), row.status, row.detail])
        if row.failed and row.status != "unsupported":
            table.failed.add((i, 3))
    return [
        Heading("Fault tolerance: one worker killed mid-run"),
        Text(
            "One worker of a two-worker cluster was killed (SIGKILL, its whole process tree) a "
            "set time into the run. recovered: the engine finished and its answer matches the "
            "reference; otherwise the usual status, after the kill. In-process engines have "
            "no worker to kill."
        ),
        table,
    ]


def failure_section(cells: dict[Key, Row]) -> list[Block]:
    failed = sorted((key, row) for key, row in cells.items() if not row.ok)
    if not failed:
        return []
    table = Table("failures", ["engine", "workload", "rows", "status", "why"], [])
    for i, ((label, workload, rows), row) in enumerate(failed):
        table.rows.append(
            [label, workload, format_rows(rows), charts.failure_label(row), row.detail]
        )
        table.failed.add((i, 3))
    return [Heading("Why cells have no number"), table]


def _settings_text(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str) if settings else "-"


def provenance_section(rows: list[Row], data_dirs: list[Path]) -> list[Block]:
    """Every engine version and settings, machine, dataset manifest and harness commit."""
    engines = Table("engines", ["engine", "version", "environment", "settings"], [])
    seen = {}
    for row in rows:
        if row.engine_version == "unknown":  # a cell asv skipped before any run
            continue
        if row.settings or (row.label, row.engine_version, row.environment) not in seen:
            seen[row.label, row.engine_version, row.environment] = row.settings
    for (label, version, env), settings in sorted(seen.items()):
        engines.rows.append([label, version, env, _settings_text(settings)])
    commits = Table("commits", ["harness commit", "machine", "python", "java", "results"], [])
    counted: dict[tuple[str, str, str, str], int] = {}
    for row in rows:
        key = (row.commit, row.machine, row.python, row.java or "-")
        counted[key] = counted.get(key, 0) + 1
    for (commit, machine, python, java), count in sorted(counted.items()):
        commits.rows.append([commit[:12], machine, python, java, str(count)])
    return [
        Section("settings", "Engines and their settings", [engines]),
        Section("commits", "Harness commits", [commits]),
        *dataset_section(rows, data_dirs),
    ]


def _manifest(row: Row, data_dirs: list[Path]) -> dict[str, Any] | None:
    """The dataset's manifest: in a local data directory, else where the run read it (object
    storage, with the AWS variables of this environment); None where neither has it."""
    for directory in data_dirs:
        path = directory / row.dataset / MANIFEST_NAME
        if row.dataset and path.exists():
            return json.loads(path.read_text())
    if storage.is_remote(row.dataset_location):
        try:
            return json.loads(storage.read_text(storage.join(row.dataset_location, MANIFEST_NAME)))
        except (OSError, ValueError):  # gone, unreachable or no credentials here
            return None
    return None


def encodings_text(encodings: dict[str, str]) -> str:
    """Columns by encoding, one line for all: ``dictionary: id1, id2; plain: v3``."""
    by_encoding: dict[str, list[str]] = {}
    for column, encoding in encodings.items():
        by_encoding.setdefault(str(encoding), []).append(column)
    return "; ".join(f"{e}: {', '.join(cols)}" for e, cols in sorted(by_encoding.items())) or "-"


def dataset_section(rows: list[Row], data_dirs: list[Path]) -> list[Block]:
    table = Table(
        "datasets", ["dataset", "rows", "bytes", "files", "format", "encodings", "checksum"], []
    )
    for name, row in sorted({row.dataset: row for row in rows if row.dataset}.items()):
        manifest = _manifest(row, data_dirs) or {}
        files = manifest.get("files", [])
        formats = dict(manifest.get("format", {}))
        encodings = formats.pop("encodings", {})
        table.rows.append(
            [
                name,
                f"{row.rows:,}",
                size(sum(f.get("bytes", 0) for f in files)) if files else "-",
                str(len(files)) if files else "-",
                ", ".join(f"{k}={v}" for k, v in formats.items()) or "manifest not found",
                encodings_text(encodings),
                row.dataset_checksum,
            ]
        )
    return [Section("datasets", "Datasets", [table])] if table.rows else []


def machine_section(machines: list[dict[str, str]]) -> list[Block]:
    table = Table("machines", ["machine", "cpu", "cores", "memory", "os", "arch"], [])
    for m in machines:
        memory = size(float(m["ram"])) if m.get("ram", "").isdigit() else m.get("ram", "-")
        table.rows.append(
            [
                m.get("machine", "-"),
                m.get("cpu", "-"),
                m.get("num_cpu", "-"),
                memory,
                m.get("os", "-"),
                m.get("arch", "-"),
            ]
        )
    return [Section("machines", "Machines", [table])] if table.rows else []


# The page's table of every result: what identifies a cell and what was measured. Every
# column (settings, dataset, checksum, interpreter versions, asv's 99% interval) is in the CSV.
ALL_ROWS_SHOWN = (
    "source",
    "label",
    "engine_version",
    "workload",
    "rows",
    "machine",
    "commit",
    "date",
    "status",
    "time_s",
    "time_q25_s",
    "time_q75_s",
    "samples",
    "first_run_s",
    "peak_bytes",
)
ALL_ROWS_TITLE = "Every result (every column in results.csv)"


def all_rows_section(rows: list[Row]) -> list[Block]:
    table = Table("all_results", list(ALL_ROWS_SHOWN), [], in_markdown=False)
    for i, row in enumerate(rows):
        values = [getattr(row, name) for name in ALL_ROWS_SHOWN]
        table.rows.append(["" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
                           for v in values])  # fmt: skip
        table.rows[-1][ALL_ROWS_SHOWN.index("commit")] = row.commit[:12]
        if row.failed:
            table.failed.add((i, ALL_ROWS_SHOWN.index("status")))
    return [Section("all_results_section", ALL_ROWS_TITLE, [table])]


def _stop_text(stop: FrontierCell, cap: int) -> str:
    """Why a frontier stopped: the failure, and where it happened if not under this cap."""
    if stop.cap_bytes == cap:
        return f"{stop.text()} at {format_rows(stop.rows)}"
    return f"{stop.text()} at {format_rows(stop.rows)} under cap {format_bytes(stop.cap_bytes)}"


def frontier_section(cells: dict[tuple[str, str, int, int], FrontierCell]) -> list[Block]:
    """Per family: the largest scale each engine completes under each cap, then every cell."""
    if not cells:
        return []
    caps = sorted({cell.cap_bytes for cell in cells.values()})
    heads = [f"cap {format_bytes(cap)}" for cap in caps]
    blocks: list[Block] = [
        Heading("Larger than memory: the frontier under memory caps"),
        Text(
            "`bakeoff frontier`: each engine ran each family at increasing scales under a memory "
            "cap (its native limits derived from the cap; the tree probe ends a run that "
            "crosses it) until a scale did not complete. Larger scales were then not run. "
            "Time is the sum of single runs; above 1e7 rows there is no pandas reference, and "
            "results are not validated."
        ),
    ]
    for family in sorted({cell.family for cell in cells.values()}):
        mine = {key: cell for key, cell in cells.items() if cell.family == family}
        engines = sorted({cell.engine for cell in mine.values()})
        scales = sorted({cell.rows for cell in mine.values()})
        largest = Table(f"frontier_{family}", ["engine", *heads], [])
        every = Table(f"frontier_{family}_cells", ["engine", "rows", *heads], [])
        reached = {(r.engine, r.cap_bytes): r for r in verdict.reach(mine)}
        for engine in engines:
            line = [engine]
            for cap in caps:
                r = reached.get((engine, cap))
                text = format_rows(r.largest) if r and r.largest else "none"
                if r and r.stop is not None:
                    text += f"; stopped: {_stop_text(r.stop, cap)}"
                line.append(text)
            largest.rows.append(line)
            for rows in scales:
                texts = []
                for j, cap in enumerate(caps):
                    stop = stopped_at(mine, engine, family, cap)
                    cell = mine.get((engine, family, cap, rows))
                    if cell is None:
                        late = stop is not None and rows >= stop.rows
                        texts.append(f"not run (stopped: {_stop_text(stop, cap)})" if late else "-")
                    else:
                        texts.append(cell.text())
                        if not cell.completed:
                            every.failed.add((len(every.rows), j + 2))
                every.rows.append([engine, format_rows(rows), *texts])
        blocks += [Heading(f"{family}: largest scale completed", level=3), largest, every]
    return blocks
