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
from bakeoff.report.table import FAILURE_LABELS, Row, engine_of
from bakeoff.report.verdict import seconds
from datagen.dataset import format_rows
from shared import atomic

ENGINE_COLOURS = {  # Okabe-Ito first (distinguishable with colour-vision deficiencies)
    "duckdb": "#E69F00",
    "polars": "#0072B2",
    "dask": "#009E73",
    "spark": "#D55E00",
    "vaex": "#CC79A7",
    "pyarrow": "#56B4E9",
    "datafusion": "#000000",
    "daft": "#8C564B",
    "chdb": "#BCBD22",
    "sail": "#7F3C8D",
}
OTHER_COLOUR = "#777777"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--", "**", "||")
MISSING = "missing"
FAILURE_MARKER = "x"
MIB = 2**20
DPI = 100
WIDTH_IN = 11.5  # 1,150 px: the page's column at 1400 px, so images are shown at full size
FONT_PT = 11  # 15 px at DPI 100: at least the tables' text (0.9 x 16 px)
LOG_SPREAD = 20.0  # a time axis turns logarithmic when its values span more than this


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str
    hatch: str


def styles(labels: list[str]) -> dict[str, Style]:
    """One style per engine label for the whole report: the colour is the engine's."""
    return {
        label: Style(
            ENGINE_COLOURS.get(engine_of(label), OTHER_COLOUR),
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
    """The chart as a PNG that replaces ``path`` whole (a full disk keeps the old one)."""
    figure.tight_layout()
    try:
        with atomic.replacing(path, "wb") as handle:
            figure.savefig(handle, dpi=DPI, format="png")
    finally:
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


def dots(
    cells: dict[Key, Row], family: str, rows: int, path: Path, style: dict[str, Style]
) -> Path:
    """Time per workload per engine at one scale: one dot per cell on a line of its own, its
    value printed beside it. The axis is linear from zero; where the times span more than
    LOG_SPREAD it is logarithmic, and says so (dots, not bars: a log axis has no zero)."""
    plt = _pyplot()
    workloads = summary.workloads_of(cells, family)
    labels = summary.labels_of(cells)
    lines = [(w, label) for w in workloads for label in labels]
    height = 1.3 + 0.3 * len(lines) + 0.15 * len(workloads)
    figure, axis = plt.subplots(figsize=(WIDTH_IN, height))
    times = [c.time_s for key in lines if (c := cells.get((key[1], key[0], rows))) and c.ok]
    log = bool(times) and max(times) / min(times) > LOG_SPREAD
    y_of = {key: -(i + 0.5 * workloads.index(key[0])) for i, key in enumerate(lines)}
    for (workload, label), y in y_of.items():
        cell = cells.get((label, workload, rows))
        if cell is not None and cell.ok:
            axis.plot(
                [cell.time_s],
                [y],
                style[label].marker,
                color=style[label].colour,
                ms=9,
                mec="black",
            )
            axis.annotate(
                seconds(cell.time_s),
                (cell.time_s, y),
                xytext=(8, 0),
                textcoords="offset points",
                va="center",
                fontsize=FONT_PT - 1,
            )
        else:
            transform = axis.get_yaxis_transform()  # x in axes fraction, y in data
            axis.plot(
                [0.01], [y], FAILURE_MARKER, color=style[label].colour, ms=9, transform=transform
            )
            axis.text(
                0.025,
                y,
                failure_label(cell),
                va="center",
                fontsize=FONT_PT - 1,
                style="italic",
                transform=transform,
            )
    axis.set_yticks(list(y_of.values()), [f"{w}  {label}" for w, label in y_of], fontsize=FONT_PT)
    axis.set_ylim(min(y_of.values(), default=0.0) - 0.7, 0.7)
    axis.tick_params(axis="x", labelsize=FONT_PT)
    if log:
        _log_axis(axis, "x")
        axis.set_xlabel("median time (s), log scale", fontsize=FONT_PT)
    else:
        axis.set_xlim(0, max(times, default=1.0) * 1.25)
        axis.set_xlabel("median time (s)", fontsize=FONT_PT)
    axis.grid(axis="x", color="#ddd")
    axis.set_title(
        f"{family} at {format_rows(rows)} rows: median time per workload (lower is better)",
        fontsize=FONT_PT + 1,
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
    """Engine x workload time relative to the fastest engine on each workload, one panel per
    family: each cell prints its ratio, or its failure's label."""
    import numpy as np
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    labels = summary.labels_of(cells)
    families = [f for f in summary.families_of(cells) if rows in summary.scales_of(cells, f)]
    ratios = summary.relative_to_fastest(cells, rows)
    top = max([2.0, *ratios.values()])
    norm = LogNorm(1.0, top)
    panel_in = 0.9 + 0.45 * len(labels)
    figure, axes = plt.subplots(
        len(families),
        1,
        figsize=(WIDTH_IN, max(3.2, 0.6 + panel_in * len(families))),
        squeeze=False,
    )
    for axis, family in zip(axes[:, 0], families, strict=True):
        workloads = summary.workloads_of(cells, family)
        grid = np.full((len(labels), len(workloads)), np.nan)
        for (label, workload), ratio in ratios.items():
            if workload in workloads:
                grid[labels.index(label), workloads.index(workload)] = ratio
        axis.imshow(np.ma.masked_invalid(grid), cmap="Greys", norm=norm, aspect="auto")
        for i, label in enumerate(labels):
            for j, workload in enumerate(workloads):
                value = grid[i, j]
                if np.isfinite(value):
                    colour = "white" if value > top**0.5 else "black"
                    axis.text(
                        j,
                        i,
                        f"{value:.2f}x",
                        ha="center",
                        va="center",
                        fontsize=FONT_PT,
                        color=colour,
                    )
                    continue
                axis.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//"))
                text = failure_label(cells.get((label, workload, rows))).replace(" ", "\n", 1)
                axis.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=FONT_PT - 1,
                    linespacing=0.9,
                    bbox={"facecolor": "white", "linewidth": 0},
                )
        short = [w.removeprefix(f"{family}_") for w in workloads]  # the family labels the row
        axis.set_xticks(range(len(workloads)), short, fontsize=FONT_PT)
        axis.xaxis.tick_top()
        axis.set_yticks(range(len(labels)), labels, fontsize=FONT_PT)
        axis.set_ylabel(family, fontsize=FONT_PT + 1, fontweight="bold")
    axes[0, 0].set_title(
        f"{format_rows(rows)} rows: time relative to the fastest engine on each workload "
        "(1.00x = fastest; darker = slower, log shading)",
        fontsize=FONT_PT + 1,
    )
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
