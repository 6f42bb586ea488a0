"""``bakeoff report``: asv's numbers and the run log, as a page a person reads in a minute.

Times and peak memory come from asv's results (median time of the samples; the tree peak of
the validated run). Every cell without a number says why, from the run log: ``timeout``,
``out_of_memory``, ``wrong_answer``, ``error``, ``unsupported`` or ``not run``. Nothing is
ever shown as zero. The summary ranks engines by the geometric mean, over the questions they
all answered, of their time relative to the fastest engine on each question.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bakeoff import paths
from bakeoff.engines import ENGINE_NAMES
from bakeoff.runner import RunRecord
from bakeoff.units import format_bytes
from datagen.dataset import format_rows

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


def load_asv(asv_results: Path) -> tuple[dict[tuple[str, str, int], Cell], str]:
    """The newest asv result per engine environment, as cells keyed (engine, workload, rows)."""
    from asv.results import iter_results

    newest: dict[str, object] = {}
    for result in iter_results(str(asv_results)) if asv_results.exists() else []:
        engine = result.env_vars.get("BAKEOFF_ENGINE")
        if engine in ENGINE_NAMES and (engine not in newest or result.date > newest[engine].date):
            newest[engine] = result
    cells: dict[tuple[str, str, int], Cell] = {}
    commit = ""
    for engine, result in newest.items():
        commit = result.commit_hash[:10]
        for key in result.get_all_result_keys():
            kind = key.rsplit(".", 1)[-1]
            if kind not in (TIME_KEY, MEMORY_KEY):
                continue
            params = result.get_result_params(key)
            values = result.get_result_value(key, params)
            combos = [(w, r) for w in params[0] for r in params[1]]
            for (workload, rows), value in zip(combos, values, strict=True):
                cell = cells.setdefault((engine, workload.strip("'\""), int(rows)), Cell())
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    if kind == TIME_KEY:
                        cell.wall_s, cell.status = value, "ok"
                    else:
                        cell.peak_bytes = value
    return cells, commit


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
    cells: dict[tuple[str, str, int], Cell], engines: list[str], workloads: list[str], rows: int
) -> list[tuple[str, float, int]]:
    """(engine, geometric-mean slowdown vs the fastest, questions answered), best first."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for workload in workloads:
        times = {
            e: cells[e, workload, rows].wall_s
            for e in engines
            if (e, workload, rows) in cells and cells[e, workload, rows].ok
        }
        if not times:
            continue
        fastest = min(times.values())
        for engine, seconds in times.items():
            ratios[engine].append(seconds / fastest)
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
        axis.set_xlabel(label)
    axes[0].set_yticks([r + 0.4 - height / 2 for r in range(len(workloads))], workloads)
    axes[0].invert_yaxis()
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="lower right", fontsize=8)
    figure.suptitle(f"bakeoff at {format_rows(rows)} rows (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(results: Path, asv_results: Path) -> Path:
    cells, commit = load_asv(asv_results)
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
        for position, (engine, slowdown, answered) in enumerate(
            rank(cells, engines, workloads, rows), start=1
        ):
            lines.append(
                f"{position}. **{engine}**: {slowdown:.2f}x the fastest "
                f"(geometric mean over {answered} of {len(workloads)} questions)"
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
