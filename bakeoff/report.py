"""``bakeoff report``: asv's numbers and the run log, as a page a person reads in a minute.

Times and peak memory come from asv's results (median time of the samples; the tree peak of
the validated run). Every cell without a number says why, from the run log: ``timeout``,
``out_of_memory``, ``wrong_answer``, ``error``, ``unsupported`` or ``not run``. Nothing is
ever shown as zero. The summary ranks engines by the geometric mean, over the questions they
all answered, of their time relative to the fastest engine on each question.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff import paths
from bakeoff.engines import ENGINE_NAMES
from bakeoff.runner import RunRecord
from bakeoff.suite import ENGINE_VARIABLE, HARNESS_ENVIRONMENT
from bakeoff.units import format_bytes
from datagen.dataset import format_rows

WORKLOAD_MODULE = "bench_workloads"
DATAGEN_MODULE = "bench_datagen"
TIME_KEY = "time_query"
MEMORY_KEY = "track_peak_tree_bytes"


@dataclass
class Cell:
    wall_s: float | None = None
    peak_bytes: float | None = None
    status: str = "not run"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.wall_s is not None


def _finite(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def newest_results(asv_results: Path) -> dict[str, Any]:
    """The newest asv result of each environment, by its ``BAKEOFF_ENGINE``."""
    from asv.results import iter_results

    newest: dict[str, Any] = {}
    for result in iter_results(str(asv_results)) if asv_results.exists() else []:
        name = result.env_vars.get(ENGINE_VARIABLE)
        if name and (name not in newest or result.date > newest[name].date):
            newest[name] = result
    return newest


def param_values(result: Any, key: str) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(parameter values, result) for every parameter combination of one asv benchmark."""
    params = result.get_result_params(key)
    values = result.get_result_value(key, params)
    yield from zip(itertools.product(*params), values, strict=True)


def engine_cells(newest: dict[str, Any]) -> dict[tuple[str, str, int], Cell]:
    """Time and peak of every (engine, workload, rows) that asv measured."""
    cells: dict[tuple[str, str, int], Cell] = {}
    for engine, result in newest.items():
        if engine not in ENGINE_NAMES:
            continue
        for key in result.get_all_result_keys():
            module, kind = key.split(".", 1)[0], key.rsplit(".", 1)[-1]
            if module != WORKLOAD_MODULE or kind not in (TIME_KEY, MEMORY_KEY):
                continue
            for (workload, rows), value in param_values(result, key):
                cell = cells.setdefault((engine, workload.strip("'\""), int(rows)), Cell())
                if _finite(value):
                    if kind == TIME_KEY:
                        cell.wall_s, cell.status = value, "ok"
                    else:
                        cell.peak_bytes = value
    return cells


def generator_figures(newest: dict[str, Any]) -> dict[str, dict[int, float]]:
    """The data generator's tracks (rows/s, write-only bound, ratio, peak) by row count."""
    result = newest.get(HARNESS_ENVIRONMENT)
    figures: dict[str, dict[int, float]] = {}
    for key in result.get_all_result_keys() if result is not None else []:
        if not key.startswith(f"{DATAGEN_MODULE}."):
            continue
        for (rows,), value in param_values(result, key):
            if _finite(value):
                figures.setdefault(key.rsplit(".track_", 1)[-1], {})[int(rows)] = value
    return figures


def latest_records(log: Path) -> dict[tuple[str, str, int], RunRecord]:
    records: dict[tuple[str, str, int], RunRecord] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            if line.strip():
                record = RunRecord.from_json(line)
                records[record.engine, record.workload, record.rows] = record
    return records


def merge(
    cells: dict[tuple[str, str, int], Cell], records: dict[tuple[str, str, int], RunRecord]
) -> dict[tuple[str, str, int], Cell]:
    """Fill every cell asv has no time for with the logged reason."""
    merged = dict(cells)
    for key, record in records.items():
        cell = merged.setdefault(key, Cell())
        if cell.ok:
            continue
        if record.status == "ok":  # validated, but asv has no time for it
            cell.status = "asv failed"
            cell.detail = "the validated run was ok; asv's timing failed (see `asv show`)"
        else:
            cell.status, cell.detail = record.status, record.detail
    return merged


def _time(cell: Cell) -> str:
    if not cell.ok:
        return f"**{cell.status}**"
    memory = f" · {format_bytes(cell.peak_bytes)}" if cell.peak_bytes is not None else ""
    return f"{cell.wall_s:.3f} s{memory}"


def rank(
    cells: dict[tuple[str, str, int], Cell],
    engines: list[str],
    workloads: list[str],
    rows: int,
    measure: str = "wall_s",
) -> list[tuple[str, float, int]]:
    """(engine, geometric mean of ``measure`` relative to the best engine on each question,
    questions answered), best first; engines that answered more questions rank first."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for workload in workloads:
        values = {
            engine: getattr(cell, measure)
            for engine in engines
            if (cell := cells.get((engine, workload, rows))) is not None
            and cell.ok
            and getattr(cell, measure)
        }
        if values:
            best = min(values.values())
            for engine, value in values.items():
                ratios[engine].append(value / best)
    ranked = [(e, math.exp(sum(map(math.log, r)) / len(r)), len(r)) for e, r in ratios.items()]
    return sorted(ranked, key=lambda item: (-item[2], item[1]))


def plot(
    cells: dict[tuple[str, str, int], Cell],
    engines: list[str],
    workloads: list[str],
    rows: int,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    figure, axes = plt.subplots(1, 2, figsize=(12, 1.2 + 0.9 * len(workloads)), sharey=True)
    height = 0.8 / max(1, len(engines))
    for axis, attribute, label in (
        (axes[0], "wall_s", "time (s, log scale)"),
        (axes[1], "peak_bytes", "peak tree memory (MiB, log scale)"),
    ):
        for index, engine in enumerate(engines):
            for row, workload in enumerate(workloads):
                cell = cells.get((engine, workload, rows), Cell())
                y = row + index * height
                value = getattr(cell, attribute)
                if cell.ok and value:
                    value = value / 2**20 if attribute == "peak_bytes" else value
                    axis.barh(
                        y, value, height, color=f"C{index}", label=engine if row == 0 else None
                    )
                else:
                    axis.text(
                        0.01,
                        y,
                        cell.status,
                        transform=axis.get_yaxis_transform(),
                        va="center",
                        fontsize=7,
                        color=f"C{index}",
                    )
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xlabel(label)
    axes[0].set_yticks([r + 0.4 - height / 2 for r in range(len(workloads))], workloads)
    axes[0].invert_yaxis()
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="lower right", fontsize=8)
    figure.suptitle(f"bakeoff at {format_rows(rows)} rows (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def generator_section(figures: dict[str, dict[int, float]]) -> list[str]:
    """The data generator's throughput next to its write-only bound, as a table."""
    if not figures:
        return []
    lines = [
        "",
        "## Data generator",
        "",
        "| rows | generator rows/s | write-only bound rows/s | ratio | peak tree |",
        "|---|---|---|---|---|",
    ]
    for rows in sorted({r for values in figures.values() for r in values}):
        speed, bound, ratio, peak = (
            figures.get(name, {}).get(rows)
            for name in (
                "rows_per_second",
                "write_only_rows_per_second",
                "throughput_ratio",
                "peak_tree_bytes",
            )
        )
        lines.append(
            f"| {format_rows(rows)} | {f'{speed:,.0f}' if speed else '-'} | "
            f"{f'{bound:,.0f}' if bound else '-'} | {f'{ratio:.2f}' if ratio else '-'} | "
            f"{format_bytes(peak) if peak else '-'} |"
        )
    return lines


def write_report(results: Path, asv_results: Path) -> Path:
    newest = newest_results(asv_results)
    commit = next((r.commit_hash[:10] for r in newest.values()), "")
    cells = engine_cells(newest)
    records = latest_records(results / paths.run_log().name)
    cells = merge(cells, records)
    engines = [e for e in ENGINE_NAMES if any(key[0] == e for key in cells)]
    workloads = sorted({key[1] for key in cells})
    scales = sorted({key[2] for key in cells})
    lines = ["# bakeoff report", ""]
    lines.append(
        f"Harness commit `{commit or 'unknown'}`. Each cell: median wall time from "
        "Parquet on disk to the full result materialized in the engine (engine started, "
        "answer validated beforehand), and the peak memory of the whole process tree "
        "above its idle baseline during the first, validated run. A cell with no number "
        "says why; details are at the bottom."
    )
    for rows in scales:
        lines += ["", f"## {format_rows(rows)} rows", ""]
        by_memory = {
            e: ratio for e, ratio, _ in rank(cells, engines, workloads, rows, "peak_bytes")
        }
        for position, (engine, slowdown, answered) in enumerate(
            rank(cells, engines, workloads, rows), start=1
        ):
            memory = f", {by_memory[engine]:.1f}x the least memory" if engine in by_memory else ""
            lines.append(
                f"{position}. **{engine}**: {slowdown:.2f}x the fastest time{memory} "
                f"(geometric means over the {answered} of {len(workloads)} questions it answered)"
            )
        lines += ["", "| workload | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
        for workload in workloads:
            lines.append(
                f"| {workload} | "
                + " | ".join(_time(cells.get((e, workload, rows), Cell())) for e in engines)
                + " |"
            )
        try:
            image = results / f"report_{format_rows(rows)}.png"
            plot(cells, engines, workloads, rows, image)
            lines += ["", f"![bakeoff at {format_rows(rows)} rows]({image.name})"]
        except ImportError:
            lines += ["", "(install matplotlib for the plot)"]
    failures = [(key, cell) for key, cell in sorted(cells.items()) if not cell.ok]
    if failures:
        lines += ["", "## Why cells have no number", ""]
        lines += [
            f"- {e} {w} at {format_rows(r)} rows: **{c.status}** {c.detail}"
            for (e, w, r), c in failures
        ]
    lines += generator_section(generator_figures(newest))
    lines += ["", "## Engines and their settings", ""]
    for engine in engines:
        record = next((r for (e, _, _), r in reversed(records.items()) if e == engine), None)
        if record is not None:
            lines.append(f"- **{engine} {record.version}**: `{json.dumps(record.settings)}`")
    if records:
        machine = next(iter(records.values())).provenance
        lines += [
            "",
            f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, "
            f"{format_bytes(machine.get('memory_bytes', 0))}, "
            f"Python {machine.get('python')}.",
        ]
    report = results / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def cmd_report(args: argparse.Namespace) -> int:
    results = paths.results_dir()
    print(write_report(results, Path(args.asv_results or results / "asv")))
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="write results/report.md and plots")
    report.add_argument("--asv-results", default=None, help="asv results directory")
    report.set_defaults(handler=cmd_report)
