"""asv benchmarks of the data generator, run only in the ``harness`` environment.

The generator is measured against a bound: the same files written by the same writer (row
groups, compression, checksums), with the same processes and part layout, from tables built
in memory beforehand. Their ratio is the share of the possible throughput the generator
reaches; drawing and formatting the data should cost little next to encoding, compressing
and checksumming Parquet (target >= 0.8).

Every table is measured (asv parameters ``table`` and ``rows``); rows/s counts every row
written, so for ``join`` the rows of x, small, medium and big together. The tables differ in
width (ml and blobs write 17 float64 columns, some 136 bytes a row, groupby about 22), so
bytes/s is tracked too. ``BAKEOFF_DATAGEN_ROWS`` sets the scale (default 1e7),
``BAKEOFF_DATAGEN_TABLES`` the tables (default: all). The measurement also runs directly:
``python benchmarks/bench_datagen.py [jobs] [table ...]``.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

# asv runs benchmarks outside the repository: keep scratch data under the repository's data/.
_REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("BAKEOFF_DATA_DIR", str(_REPO / "data"))

import pyarrow as pa  # noqa: E402

from bakeoff import paths  # noqa: E402
from bakeoff.cells import ENGINE_VARIABLE, HARNESS_ENVIRONMENT  # noqa: E402
from bakeoff.probe import TreeMemoryProbe  # noqa: E402
from datagen import TABLES, build_chunk, ensure_dataset, plan_files  # noqa: E402
from datagen.dataset import DatasetSpec, format_rows, parse_rows  # noqa: E402
from datagen.table import Layout, layouts  # noqa: E402
from datagen.writer import prepare_worker, write_parquet  # noqa: E402

ROWS = parse_rows(os.environ.get("BAKEOFF_DATAGEN_ROWS", "1e7"))
_CHOSEN = os.environ.get("BAKEOFF_DATAGEN_TABLES", "")
TABLE_NAMES = [name.strip() for name in _CHOSEN.split(",") if name.strip()] or list(TABLES)
ROUNDS = 5  # generator and bound, alternately: throughputs are the best, the ratio the median


def _jobs() -> int:
    return os.cpu_count() or 1


def _scratch() -> tempfile.TemporaryDirectory[str]:
    root = paths.scratch_dir()
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="bench-datagen-", dir=root)


def generator_seconds(spec: DatasetSpec, jobs: int) -> tuple[float, int]:
    """Wall time of a full generation into an empty directory, and the bytes written."""
    with _scratch() as scratch:
        started = time.perf_counter()
        dataset = ensure_dataset(spec, Path(scratch), jobs=jobs, progress=False)
        return time.perf_counter() - started, dataset.size_bytes


def generator_peak_bytes(spec: DatasetSpec, jobs: int) -> int:
    """Peak RSS of the process tree while generating, above what it held before."""
    with _scratch() as scratch, TreeMemoryProbe() as probe:
        ensure_dataset(spec, Path(scratch), jobs=jobs, progress=False)
    assert probe.report is not None
    return probe.report.peak_bytes


# The tables of each file, built before the pool forks so its workers inherit them.
_PREBUILT: list[list[pa.Table]] = []


def _write_prebuilt(index: int, path: str, file_layout: Layout) -> int:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_parquet(target, _PREBUILT[index], layout=file_layout)["rows"]


def _ready() -> None:
    """A no-op task: makes every worker start before the clock does."""


class WriteOnlyBound:
    """The writing alone: tables in memory, the pool started, only the writes timed."""

    def __init__(self, spec: DatasetSpec, jobs: int) -> None:
        self.spec = spec
        self.files = plan_files(spec)
        self.rows = sum(file.rows for file in self.files)
        self.layouts = layouts(TABLES[spec.table], spec)
        _PREBUILT[:] = [[build_chunk(spec, chunk) for chunk in f.chunks] for f in self.files]
        self.workers = max(1, min(jobs, len(self.files)))
        # fork, so the workers share the prebuilt tables instead of receiving copies.
        context = multiprocessing.get_context("fork")
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=prepare_worker
        )
        for future in [self.pool.submit(_ready) for _ in range(self.workers)]:
            future.result()

    def seconds(self) -> float:
        with _scratch() as scratch:
            started = time.perf_counter()
            futures = [
                self.pool.submit(
                    _write_prebuilt, index, str(Path(scratch, f.path)), self.layouts[f.table]
                )
                for index, f in enumerate(self.files)
            ]
            rows = sum(future.result() for future in futures)
            elapsed = time.perf_counter() - started
        assert rows == self.rows
        return elapsed

    def close(self) -> None:
        self.pool.shutdown()
        _PREBUILT.clear()


def measure_speed(table: str, rows: int, jobs: int) -> dict[str, float]:
    """Throughput of the generator and of its write-only bound, for ``table`` at ``rows``."""
    spec = DatasetSpec(table=table, rows=rows)
    bound = WriteOnlyBound(spec, jobs)
    total = bound.rows  # every table's rows: join writes x, small, medium and big
    try:
        generated, written = [], []
        for _ in range(ROUNDS):
            seconds, size = generator_seconds(spec, jobs)
            generated.append(seconds)
            written.append(bound.seconds())
    finally:
        bound.close()
    # Each ratio compares two runs made back to back, so a machine that drifts (a shared VM)
    # moves both; the median of the pairs is steadier than a ratio of two separate bests.
    ratios = [
        bound_s / generator_s for generator_s, bound_s in zip(generated, written, strict=True)
    ]
    return {
        "rows_per_second": total / min(generated),
        "bytes_per_second": size / min(generated),
        "write_only_rows_per_second": total / min(written),
        "throughput_ratio": statistics.median(ratios),
        "generator_seconds": min(generated),
        "write_only_seconds": min(written),
    }


def measure(
    tables: list[str] | None = None, rows: int = ROWS, jobs: int | None = None
) -> dict[str, dict[str, float]]:
    """Every figure the suite tracks, by table, for each table's default dataset of ``rows``.

    Every peak is measured first, while this process is lean: the write-only bound leaves
    this process large, and worker processes forked from it would count its pages again.
    """
    workers = jobs or _jobs()
    chosen = tables or TABLE_NAMES
    peaks = {
        table: generator_peak_bytes(DatasetSpec(table=table, rows=rows), workers)
        for table in chosen
    }
    return {
        table: {**measure_speed(table, rows, workers), "peak_tree_bytes": float(peaks[table])}
        for table in chosen
    }


def _in_harness() -> bool:
    return os.environ.get(ENGINE_VARIABLE) == HARNESS_ENVIRONMENT


class DataGenerator:
    """Throughput of ``bakeoff datagen`` against its write-only bound, and its peak memory,
    for every table."""

    params: ClassVar[list[list[Any]]] = [TABLE_NAMES, [ROWS]]
    param_names: ClassVar[list[str]] = ["table", "rows"]
    timeout = 7200
    processes = 1  # one measurement (best of ROUNDS) per table shared by every track_ below

    def setup_cache(self) -> dict[str, Any]:
        if not _in_harness():
            return {"skipped": True}  # setup skips; nothing is generated outside the harness
        return measure(TABLE_NAMES, ROWS)

    setup_cache.timeout = 7200  # type: ignore[attr-defined]

    def setup(self, figures: dict[str, Any], table: str, rows: int) -> None:
        if not _in_harness():
            raise NotImplementedError("the datagen benchmarks run in the harness environment")

    def track_rows_per_second(self, figures: dict[str, Any], table: str, rows: int) -> float:
        return figures[table]["rows_per_second"]

    track_rows_per_second.unit = "rows/s"  # type: ignore[attr-defined]

    def track_bytes_per_second(self, figures: dict[str, Any], table: str, rows: int) -> float:
        return figures[table]["bytes_per_second"]

    track_bytes_per_second.unit = "bytes/s"  # type: ignore[attr-defined]

    def track_write_only_rows_per_second(
        self, figures: dict[str, Any], table: str, rows: int
    ) -> float:
        return figures[table]["write_only_rows_per_second"]

    track_write_only_rows_per_second.unit = "rows/s"  # type: ignore[attr-defined]

    def track_throughput_ratio(self, figures: dict[str, Any], table: str, rows: int) -> float:
        return figures[table]["throughput_ratio"]

    track_throughput_ratio.unit = "ratio"  # type: ignore[attr-defined]

    def track_peak_tree_bytes(self, figures: dict[str, Any], table: str, rows: int) -> float:
        return figures[table]["peak_tree_bytes"]

    track_peak_tree_bytes.unit = "bytes"  # type: ignore[attr-defined]


if __name__ == "__main__":
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else _jobs()
    for table, figures in measure(sys.argv[2:] or TABLE_NAMES, ROWS, jobs).items():
        print(f"{table} {format_rows(ROWS)} rows, {jobs} jobs")
        for name, value in figures.items():
            print(f"  {name:<28} {value:,.3f}")
