"""How long ``bakeoff bench`` will take, said before it starts, and its progress while it runs.

A cell (one workload at one scale on one engine) costs two asv processes (its timing and its
memory benchmark), the engine's start, the validated run, reading its result back and checking
it, and asv's samples (``bakeoff.suite.SAMPLE_REPEAT``, simulated as asv takes them, each a
warm run: a share of the first). A run's seconds are this machine's own where the run log has
the cell (its newest validated run of that engine, question and rows); otherwise the mean of
the engine's family measured on a 2-core machine at the default scale, scaled by the rows
read. Reading back and checking cost a figure per family measured there, scaled the same way,
and one more warm run where the engine computes the result again to hand it over (Spark's
``toArrow`` after its ``noop`` sink). Installs and data generation are not in it.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.cells import DEFAULT_SCALES, SAMPLE_REPEAT
from bakeoff.engines import engine_class
from bakeoff.runner import Status, read_run_log
from datagen.dataset import parse_rows
from workloads import Unsupported, Workload, implementation

FIGURES_SCALE = parse_rows(DEFAULT_SCALES)  # the scale the figures below were measured at
# Seconds of one validated run (a fresh session's first), the mean over each family's questions
# at the rows it reads at the default scale (ml: a 1e5-row share), on a 2-core, 23.5 GiB
# machine with nothing else running: the first five engines' from one ``make bench`` of a fresh
# clone at 4d471e8 (2026-12-06; the estimate then came within 0.6 min of each engine's asv time),
# the other five's from their catalogue run of 2026-12-04.
QUERY_S: dict[str, dict[str, float]] = {
    "duckdb": {"groupby": 0.55, "join": 1.84, "window": 1.92, "ml": 0.19, "etl": 1.90},
    "polars": {"groupby": 0.54, "join": 1.09, "window": 1.34, "ml": 0.17, "etl": 3.29},
    "dask": {"groupby": 2.51, "join": 3.45, "window": 7.97, "ml": 1.28, "etl": 5.99},
    "spark": {"groupby": 10.0, "join": 10.3, "window": 17.1, "ml": 11.6, "etl": 14.8},
    "vaex": {"groupby": 3.36, "join": 7.54, "window": 13.5, "ml": 1.10, "etl": 12.1},
    "pyarrow": {"groupby": 1.57, "join": 2.65, "window": 4.08, "ml": 0.17, "etl": 3.59},
    "datafusion": {"groupby": 0.60, "join": 1.02, "window": 3.28, "ml": 0.26, "etl": 4.74},
    "daft": {"groupby": 1.41, "join": 3.48, "window": 2.50, "ml": 0.26, "etl": 2.72},
    "chdb": {"groupby": 1.06, "join": 2.05, "window": 3.57, "ml": 0.53, "etl": 0.31},
    "sail": {"groupby": 1.03, "join": 0.90, "window": 3.08, "ml": 0.70, "etl": 4.35},
}
# Seconds to read a result back and check it value by value, the mean per family at the same
# rows (DuckDB's in that ``make bench``, whose read-back is a copy: a join's 9M-row result 6 s).
CHECK_S: dict[str, float] = {"groupby": 1.02, "join": 5.88, "window": 1.86, "ml": 0.03, "etl": 4.21}
# Seconds to start a benchmark process's engine: Spark's JVM and first job, Dask's and Sail's
# local cluster; the others start in their import.
START_S: dict[str, float] = {"spark": 10.0, "sail": 3.0, "dask": 3.0}
# A warm sample's seconds as a share of the validated (first) run's, the median over an engine's
# cells in the ``make bench`` of 2026-12-04: Spark's first run compiles its plans and warms its JVM.
WARM_SHARE: dict[str, float] = {
    "duckdb": 0.88,
    "polars": 0.73,
    "dask": 0.87,
    "vaex": 0.90,
    "spark": 0.38,
}
DEFAULT_WARM_SHARE = 1.0
DEFAULT_START_S = 0.5
# Seconds of the two asv processes a cell spawns and the idle-check window before its validated
# run: about 1.3 s for the timing process (Python, the harness, the engine's import), 0.7 s for
# the peak process, which imports no harness (147 of them took 101 s in a catalogue run here),
# and 0.25 s of window.
PROCESS_S = 2.3
MIN_SAMPLES, MAX_SAMPLES, SAMPLE_BUDGET_S = SAMPLE_REPEAT

History = Mapping[tuple[str, str, int], float]  # (engine, workload, rows read) -> run seconds


def run_history(log: Path) -> dict[tuple[str, str, int], float]:
    """The newest validated run's seconds of every cell in the run log: this machine's own
    figure for a cell it has run before."""
    found: dict[tuple[str, str, int], float] = {}
    for record in read_run_log(log).records:
        if record.status == Status.OK and record.validated and record.wall_s is not None:
            found[(record.engine, record.workload, record.rows)] = record.wall_s
    return found


def query_seconds(
    engine: str, workload: Workload, read: int, history: History | None = None
) -> float:
    """Expected seconds of one run of ``workload`` on ``engine`` reading ``read`` rows."""
    if (seen := (history or {}).get((engine, workload.name, read))) is not None:
        return seen
    figure = (
        QUERY_S[engine][workload.family]
        if engine in QUERY_S
        else statistics.median(known[workload.family] for known in QUERY_S.values())
    )
    return figure * read / workload.suite_rows(FIGURES_SCALE)


def samples_seconds(query: float) -> float:
    """asv's samples of a run of ``query`` seconds: at least ``MIN_SAMPLES``, at most
    ``MAX_SAMPLES``, none started once ``SAMPLE_BUDGET_S`` have gone."""
    taken, spent = 0, 0.0
    while taken < MAX_SAMPLES and (taken < MIN_SAMPLES or spent < SAMPLE_BUDGET_S):
        taken, spent = taken + 1, spent + query
    return spent


def cell_seconds(
    engine: str, workload: Workload, rows: int, history: History | None = None
) -> float:
    """Expected wall seconds of one cell at the suite scale ``rows``."""
    read = workload.suite_rows(rows)
    query = query_seconds(engine, workload, read, history)
    check = CHECK_S[workload.family] * read / workload.suite_rows(FIGURES_SCALE)
    warm = query * WARM_SHARE.get(engine, DEFAULT_WARM_SHARE)
    if engine_class(engine).reads_back_by_running_again:
        check += warm
    start = START_S.get(engine, DEFAULT_START_S)
    return PROCESS_S + start + query + check + samples_seconds(warm)


@dataclass(frozen=True)
class EngineEstimate:
    engine: str
    cells: int
    seconds: float
    # (workload, rows read) -> the cell's expected seconds: the progress bar weighs the cells
    # done by what they were expected to take (a Spark cell costs several DuckDB cells)
    by_cell: Mapping[tuple[str, int], float] = field(default_factory=dict)

    def cell(self, workload: str, rows: int) -> float:
        """The expected seconds of one of this engine's cells (the mean for one not known)."""
        return self.by_cell.get((workload, rows), self.seconds / max(self.cells, 1))


def estimate(
    engines: list[str],
    workloads: list[Workload],
    scales: list[int],
    history: History | None = None,
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
        by_cell = {(w.name, w.suite_rows(r)): cell_seconds(engine, w, r, history) for w, r in cells}
        found.append(EngineEstimate(engine, len(cells), sum(by_cell.values()), by_cell))
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
    lines = ["estimate (this machine's runs where logged, else figures from 2 cores; no installs):"]
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


class CellsDone:
    """The cells whose validated runs the run log gained since this was made, each weighed by
    its expected seconds: read as the log grows, a line once, a line still being written
    later."""

    def __init__(self, log: Path, found: list[EngineEstimate]):
        self.log, self.offset, self.count, self.expected_s = log, _size(log), 0, 0.0
        # a record names the engine, not its variant (``polars[in-memory]``), which is
        # estimated as its engine
        self.by_engine = {e.engine.partition("[")[0]: e for e in found}
        self.mean_s = sum(e.seconds for e in found) / max(sum(e.cells for e in found), 1)

    def update(self) -> None:
        try:
            with open(self.log, "rb") as handle:
                handle.seek(self.offset)
                added = handle.read()
        except OSError:
            return
        complete = added[: added.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            self.count += 1
            self.expected_s += self._expected(line)

    def _expected(self, line: bytes) -> float:
        try:
            record = json.loads(line)
            return self.by_engine[record["engine"]].cell(record["workload"], record["rows"])
        except (ValueError, KeyError, TypeError):  # not a record, or an engine not estimated
            return self.mean_s


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@contextmanager
def progress(log: Path, found: list[EngineEstimate], poll_s: float = 2.0) -> Iterator[None]:
    """A progress bar while asv runs: cells done (each cell's validated run adds one record to
    the run log) of the cells expected, and the time left at the pace so far, the cells done
    weighed by their estimates (the estimate itself until the first cell is done)."""
    from tqdm import tqdm

    total_cells = sum(e.cells for e in found)
    total_s = sum(e.seconds for e in found)
    done, stop = CellsDone(log, found), threading.Event()
    bar = tqdm(
        total=total_cells,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]",
    )
    started = time.monotonic()

    def update() -> None:
        done.update()
        elapsed = time.monotonic() - started
        expected_done = min(done.expected_s, total_s)
        pace = elapsed / expected_done if expected_done else 1.0
        left = max(0.0, (total_s - expected_done) * pace if done.count else total_s - elapsed)
        bar.n = min(done.count, total_cells)
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


def asv_sample_seconds(results_dir: Path, since: float) -> float:
    """The seconds of every timed sample in the asv result files written since ``since`` (a
    time as ``time.time()`` gives): asv records them with ``--record-samples``."""
    from bakeoff.report.table import timed_samples  # asv's reader, needed only at the end

    return sum(timed_samples(results_dir, since))


def split_text(
    data_s: float, asv_s: float, log: Path, first_line: int, samples_s: float | None = None
) -> str:
    """Where a bench's wall time went, from the records its cells added to the run log: the
    validated runs, reading their results back and validating them (the load's ``after``
    window), the load's ``before`` windows, asv's timed samples (``samples_s``, from its result
    files) and the rest of asv's time (its processes, engine starts, any install it made
    itself). ``data_s`` includes the environments installed beside the data."""
    records = read_run_log(log, first_line).records
    runs = sum(r.wall_s or 0.0 for r in records)
    checks, before = (
        sum(r.machine_load.get(lap, {}).get("window_s", 0.0) for r in records)
        for lap in ("after", "before")
    )
    rest = max(0.0, asv_s - runs - checks - before - (samples_s or 0.0))
    if samples_s is None:
        sampled, rest_is = "", "processes, engine starts, asv's timed samples"
    else:
        sampled, rest_is = f"timed samples {duration(samples_s)}, ", "processes, starts"
    return (
        f"wall time {duration(data_s + asv_s)}: data, references and environments "
        f"{duration(data_s)}; asv "
        f"{duration(asv_s)} for {len(records)} cells: validated runs {duration(runs)}, reading "
        f"back and validating {duration(checks)}, load sampling {duration(before)}, {sampled}"
        f"the rest ({rest_is}) {duration(rest)}"
    )
