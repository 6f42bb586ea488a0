"""How long ``bakeoff bench`` will take, said before it starts, and its progress while it runs.

The estimate is cells x expected seconds per cell. A cell is one workload at one scale on one
engine: its benchmark process starts the engine, makes the validated run, then asv's samples
(``bakeoff.suite.SAMPLE_REPEAT``). The seconds per question come from
the figures measured on this 2-core machine in the README's frontier section (one cold run of
each cell at 1e7 under 8 GiB and 4 GiB): per engine and family, the mean of its light and heavy
question (groupby_q1 and groupby_q3, join_q1 and join_q5; where the heavy one ran out of memory,
the light one alone). Those cold runs include Spark's first-query warm-up, so Spark's start
is taken out of its figures. Families without a figure there (window, ml, etl) are costed as
groupby (a scan and an aggregation or a sort), engines without one as the median of the five
that have one. Times scale linearly with the rows a workload reads; starts do not.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bakeoff.runner import read_run_log
from bakeoff.suite import SAMPLE_REPEAT
from workloads import Unsupported, Workload, implementation

FIGURES_ROWS = 10_000_000  # the scale of the README's figures
# Seconds per question at 1e7, from the README's frontier tables (see the module docstring).
QUERY_S: dict[str, dict[str, float]] = {
    "duckdb": {"groupby": (0.1 + 1.8) / 2, "join": (2.2 + 7.7) / 2},
    "polars": {"groupby": (0.3 + 2.8) / 2, "join": (1.3 + 5.3) / 2},
    "dask": {"groupby": (2.7 + 10.1) / 2, "join": 6.1},  # join_q5: out of memory under 4 GiB
    "spark": {"groupby": (11.4 + 19.7) / 2 - 10.0, "join": (16.5 + 44.5) / 2 - 10.0},
    "vaex": {"groupby": (2.2 + 6.9) / 2, "join": (9.8 + 33.4) / 2},
}
FALLBACK_FAMILY = "groupby"
# Seconds to start a benchmark process and its engine (asv spawns one per cell): Python and the
# engine's import, Spark's JVM and first-query warm-up (the README: about 10 s), Dask's local
# cluster.
START_S: dict[str, float] = {"spark": 10.0, "sail": 3.0, "dask": 3.0}
DEFAULT_START_S = 1.0
# Reading a 1e7-row result back and checking it against the reference, at 1e7 result rows.
VALIDATION_S = 3.0
MIN_SAMPLES, MAX_SAMPLES, SAMPLE_BUDGET_S = SAMPLE_REPEAT  # asv's samples per cell


def query_seconds(engine: str, family: str, rows: int) -> float:
    """Expected seconds of one run of a question of ``family`` reading ``rows`` rows."""
    known = QUERY_S.get(engine)
    if known is None:
        at_1e7 = statistics.median(query_seconds(e, family, FIGURES_ROWS) for e in QUERY_S)
    else:
        at_1e7 = known.get(family, known[FALLBACK_FAMILY])
    return at_1e7 * rows / FIGURES_ROWS


def cell_seconds(engine: str, workload: Workload, rows: int) -> float:
    """Expected wall seconds of one cell: start, validated run and check, asv's samples."""
    read = workload.suite_rows(rows)
    query = query_seconds(engine, workload.family, read)
    samples = max(MIN_SAMPLES, min(MAX_SAMPLES, math.ceil(SAMPLE_BUDGET_S / max(query, 1e-3))))
    validation = VALIDATION_S * read / FIGURES_ROWS
    return START_S.get(engine, DEFAULT_START_S) + (1 + samples) * query + validation


@dataclass(frozen=True)
class EngineEstimate:
    engine: str
    cells: int
    seconds: float


def estimate(
    engines: list[str], workloads: list[Workload], scales: list[int]
) -> list[EngineEstimate]:
    """Per engine, the cells it answers (unsupported ones are skipped by asv) and their time."""
    found = []
    for engine in engines:
        cells = [
            (workload, rows)
            for workload in workloads
            for rows in scales
            if not isinstance(implementation(engine, workload), Unsupported)
        ]
        found.append(
            EngineEstimate(engine, len(cells), sum(cell_seconds(engine, w, r) for w, r in cells))
        )
    return found


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return (
        f"{minutes // 60} h {minutes % 60:02d} min"
        if minutes >= 60
        else f"{minutes} min {rest:02d} s"
    )


def estimate_text(found: list[EngineEstimate]) -> str:
    """What ``bakeoff bench`` prints before asv starts."""
    lines = ["estimate (README frontier figures on 2 cores; installs not included):"]
    lines += [f"  {e.engine:<12} {e.cells:>4} cells  ~{duration(e.seconds)}" for e in found]
    total = sum(e.seconds for e in found)
    lines.append(f"  {'total':<12} {sum(e.cells for e in found):>4} cells  ~{duration(total)}")
    return "\n".join(lines)


def log_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0


@contextmanager
def progress(log: Path, found: list[EngineEstimate], poll_s: float = 2.0) -> Iterator[None]:
    """A progress bar while asv runs: cells done (each cell's validated run adds one record to
    the run log) of the cells expected, and the time left at the pace so far (the estimate
    until the first cell is done)."""
    from tqdm import tqdm

    total_cells = sum(e.cells for e in found)
    total_s = sum(e.seconds for e in found)
    start_lines, stop = log_lines(log), threading.Event()
    bar = tqdm(
        total=total_cells,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]",
    )
    started = time.monotonic()

    def update() -> None:
        done = min(total_cells, log_lines(log) - start_lines)
        elapsed = time.monotonic() - started
        expected_done = total_s * done / max(total_cells, 1)
        pace = elapsed / expected_done if done else 1.0
        left = max(0.0, (total_s - expected_done) * pace if done else total_s - elapsed)
        bar.n = done
        bar.set_postfix_str(f"~{duration(left)} left", refresh=False)
        bar.refresh()

    def watch() -> None:
        while not stop.wait(poll_s):
            update()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        update()
        bar.close()


def split_text(data_s: float, asv_s: float, log: Path, first_line: int) -> str:
    """Where a bench's wall time went, from the records its cells added to the run log: the
    validated runs, reading their results back and validating them (the load's ``after``
    window), the load's ``before`` windows, and the rest of asv's time (installs, engine
    starts, the timed samples)."""
    records = read_run_log(log, first_line).records
    runs = sum(r.wall_s or 0.0 for r in records)
    checks, before = (
        sum(r.machine_load.get(lap, {}).get("window_s", 0.0) for r in records)
        for lap in ("after", "before")
    )
    rest = max(0.0, asv_s - runs - checks - before)
    return (
        f"wall time {duration(data_s + asv_s)}: data and references {duration(data_s)}; asv "
        f"{duration(asv_s)} for {len(records)} cells: validated runs {duration(runs)}, reading "
        f"back and validating {duration(checks)}, load sampling {duration(before)}, the rest "
        f"(installs, engine starts, asv's timed samples) {duration(rest)}"
    )
