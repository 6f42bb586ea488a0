"""The report's charts, drawn with matplotlib into PNG files.

Each engine keeps one colour in every chart, and also a hatch and a marker of its own, so the
charts read in greyscale. A cell without a number is drawn as a labelled marker where its bar
or point would be, never as a zero and never left out. Every axis states its unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.report import summary
from bakeoff.report.summary import Key
from bakeoff.report.table import Row
from datagen.dataset import format_rows

ENGINE_COLOURS = {  # Okabe-Ito: distinguishable with colour-vision deficiencies
    "duckdb": "#E69F00",
    "polars": "#0072B2",
    "dask": "#009E73",
    "spark": "#D55E00",
    "vaex": "#CC79A7",
}
OTHER_COLOUR = "#777777"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--", "**", "||")
FAILURE_LABELS = {
    "out_of_memory": "out of memory",
    "timeout": "timeout",
    "error": "error",
    "wrong_answer": "wrong answer",
    "unsupported": "unsupported",
    "asv failed": "asv failed",
    "asv skipped": "skipped",
}
MISSING = "missing"
FAILURE_MARKER = "x"
MIB = 2**20


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str
    hatch: str


def styles(labels: list[str]) -> dict[str, Style]:
    """One style per engine label for the whole report: the colour is the engine's."""
    return {
        label: Style(
            ENGINE_COLOURS.get(label.split("==")[0], OTHER_COLOUR),
            MARKERS[index % len(MARKERS)],
            HATCHES[index % len(HATCHES)],
        )
        for index, label in enumerate(labels)
    }


def failure_label(row: Row | None) -> str:
    if row is None:
        return MISSING
    return FAILURE_LABELS.get(row.status, row.status)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _log_axis(axis: Any, which: str) -> None:
    """A log scale where the axis holds a positive value; a chart of only failed cells (or of
    zero peaks) keeps its linear axis, since there is nothing to put on a log one."""
    from matplotlib import ticker

    target = axis.xaxis if which == "x" else axis.yaxis
    high = (axis.dataLim.intervalx if which == "x" else axis.dataLim.intervaly)[1]
    if not (math.isfinite(high) and high > 0):
        return
    (axis.set_xscale if which == "x" else axis.set_yscale)("log")
    target.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(ticker.NullFormatter())


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def _mark_failure(axis: Any, x: float, label: str, style: Style) -> None:
    """A failed cell: a marker at the foot of the axis and its reason written upwards."""
    transform = axis.get_xaxis_transform()  # x in data, y in axes fraction
    axis.plot([x], [0.03], FAILURE_MARKER, color=style.colour, transform=transform, ms=8)
    axis.text(
        x, 0.07, label, rotation=90, ha="center", va="bottom", fontsize=7, transform=transform
    )


def _patches(labels: list[str], style: dict[str, Style]) -> list[Any]:
    """Legend entries in the report's engine order, whatever each chart drew."""
    from matplotlib.patches import Patch

    return [
        Patch(
            facecolor=style[label].colour, edgecolor="black", hatch=style[label].hatch, label=label
        )
        for label in labels
    ]


def bars(
    cells: dict[Key, Row], family: str, rows: int, path: Path, style: dict[str, Style]
) -> Path:
    """Time per workload per engine at one scale, grouped by workload, log scale."""
    plt = _pyplot()
    workloads = summary.workloads_of(cells, family)
    labels = summary.labels_of(cells)
    figure, axis = plt.subplots(figsize=(max(6.0, 1.3 * len(workloads) * len(labels) / 2), 4.2))
    width = 0.8 / max(1, len(labels))
    for index, label in enumerate(labels):
        for position, workload in enumerate(workloads):
            x = position - 0.4 + width * (index + 0.5)
            cell = cells.get((label, workload, rows))
            if cell is not None and cell.ok:
                axis.bar(
                    x,
                    cell.time_s,
                    width,
                    color=style[label].colour,
                    edgecolor="black",
                    hatch=style[label].hatch,
                )
            else:
                _mark_failure(axis, x, failure_label(cell), style[label])
    _log_axis(axis, "y")
    axis.set_xticks(range(len(workloads)), workloads)
    axis.set_xlabel("workload")
    axis.set_ylabel("median time (s, log scale)")
    axis.set_title(f"{family} at {format_rows(rows)} rows: time per workload (lower is better)")
    axis.legend(
        handles=_patches(labels, style), fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return _save(figure, path)


def scaling(
    cells: dict[Key, Row],
    family: str,
    path: Path,
    style: dict[str, Style],
    found: list[summary.Crossover],
) -> Path:
    """Family total time and largest peak against rows, log-log, with the crossovers."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    scales = summary.scales_of(cells, family)
    for axis, measure, unit, scale in (
        (axes[0], "time", "total time of the family's workloads (s)", 1.0),
        (axes[1], "memory", "largest peak tree memory (MiB)", MIB),
    ):
        curves = summary.series(cells, family, measure)
        for label in summary.labels_of(cells):
            points = sorted(curves.get(label, {}).items())
            if points:
                axis.plot(
                    [p[0] for p in points],
                    [p[1] / scale for p in points],
                    marker=style[label].marker,
                    color=style[label].colour,
                    label=label,
                )
        for rows in scales:  # engines without an answer to every question at this scale
            missing = [
                label for label in summary.labels_of(cells) if rows not in curves.get(label, {})
            ]
            if missing:
                _mark_failure(axis, rows, "incomplete: " + ", ".join(missing), style[missing[0]])
        for crossing in (c for c in found if c.measure == measure):
            axis.plot(
                [crossing.rows], [crossing.value / scale], "o", mfc="none", mec="black", ms=14
            )
            axis.annotate(
                f"{crossing.winner} overtakes\n{crossing.loser}",
                (crossing.rows, crossing.value / scale),
                fontsize=7,
                xytext=(8, 8),
                textcoords="offset points",
            )
        _log_axis(axis, "x")
        _log_axis(axis, "y")
        axis.set_xlabel("rows (log scale)")
        axis.set_ylabel(f"{unit}, log scale")
        axis.legend(fontsize=8)
    axes[0].set_title(f"{family}: time against rows")
    axes[1].set_title(f"{family}: memory against rows")
    return _save(figure, path)


def heatmap(cells: dict[Key, Row], rows: int, path: Path) -> Path:
    """Engine x workload time relative to the fastest engine on each workload."""
    import numpy as np
    from matplotlib import ticker
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    labels, workloads = summary.labels_of(cells), summary.workloads_of(cells)
    ratios = summary.relative_to_fastest(cells, rows)
    grid = np.full((len(labels), len(workloads)), np.nan)
    for (label, workload), ratio in ratios.items():
        grid[labels.index(label), workloads.index(workload)] = ratio
    figure, axis = plt.subplots(figsize=(1.6 + 1.1 * len(workloads), 1.4 + 0.5 * len(labels)))
    finite = grid[np.isfinite(grid)]
    top = max(2.0, float(finite.max())) if finite.size else 2.0
    image = axis.imshow(
        np.ma.masked_invalid(grid), cmap="Greys", norm=LogNorm(1.0, top), aspect="auto"
    )
    for i, label in enumerate(labels):
        for j, workload in enumerate(workloads):
            value = grid[i, j]
            if np.isfinite(value):
                colour = "white" if value > top**0.5 else "black"
                axis.text(j, i, f"{value:.2f}x", ha="center", va="center", fontsize=8, color=colour)
            else:
                axis.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//"))
                text = failure_label(cells.get((label, workload, rows)))
                axis.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    bbox={"facecolor": "white", "linewidth": 0},
                )
    axis.set_xticks(range(len(workloads)), workloads, rotation=30, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    colourbar = figure.colorbar(image, ax=axis)
    colourbar.set_label("x the fastest (log scale)")
    colourbar.formatter = ticker.FuncFormatter(lambda value, _: f"{value:g}x")
    colourbar.update_ticks()
    axis.set_title(f"{format_rows(rows)} rows: time relative to the fastest (1.00x = fastest)")
    return _save(figure, path)


def timelines(runs: dict[str, Row], path: Path, style: dict[str, Style]) -> Path:
    """The memory timeline of each engine's largest run."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 4))
    for label, row in sorted(runs.items()):
        points = row.timeline
        axis.plot(
            [p[0] for p in points],
            [p[1] / MIB for p in points],
            color=style[label].colour,
            marker=style[label].marker,
            markevery=max(1, len(points) // 8),
            label=f"{label}: {row.workload} at {format_rows(row.rows)} rows",
        )
    axis.set_xlabel("time since the query started (s)")
    axis.set_ylabel("process-tree memory (MiB)")
    axis.set_title("Memory during each engine's largest run")
    axis.legend(fontsize=8)
    return _save(figure, path)


def largest_runs(cells: dict[Key, Row]) -> dict[str, Row]:
    """Each engine's run at its largest scale with the highest peak, if it has a timeline."""
    runs: dict[str, Row] = {}
    for (label, _, _), row in cells.items():
        if len(row.timeline) < 2:
            continue
        best = runs.get(label)
        if best is None or (row.rows, row.peak_bytes or 0) > (best.rows, best.peak_bytes or 0):
            runs[label] = row
    return runs
