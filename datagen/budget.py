"""What writing a dataset will take, checked before anything is written: memory and disk.

``bakeoff datagen --rows 1e12`` used to build the groupby table's vocabularies in every
process (arrays over the N/K id values: 10 GB at 1e12 rows) and die of a MemoryError, and a
dataset larger than the disk filled it before failing. Now the memory of the plan (the parent's
list of files and chunks, each process's vocabularies, each writer's row groups) and the bytes
of the files are estimated first: the writers are as many as the memory holds, and a dataset
that does not fit even so, in memory or on disk, is refused in one line before the lock or the
staging directory exists, so a refusal leaves nothing behind. (Row counts the generator cannot
represent are refused earlier, by ``datagen.validate``.)

The figures are estimates from the constants below, measured on the generator's own output
and processes; they are upper bounds where the measurements varied, so a refusal means the
dataset would not fit, and a dataset that still outgrows its estimate (thousands of tiny
files, whose footers the bytes a row leave out) ends in the one-line "No space left on
device" of a full disk.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import psutil

from datagen import events, groupby, storage
from datagen.dataset import DatasetSpec
from datagen.table import TableGenerator
from datagen.writer import find_complete
from shared.errors import InputError
from shared.units import format_bytes

MIB = 1024**2

# Part-file bytes per row of each table of a dataset (a join dataset's four tables apart), by
# file format, from the generator's own output (generator version 3, default options): the
# larger of (1) the table's bytes over its rows in the manifests under data/ at their largest
# scale, 1e7 rows (ml and blobs: 1e6), and (2) the bytes of a sample file of the plan's first
# two row groups (2e6 rows, ``writer.write_file``) at 1e10 rows (join: 1.9e9, its largest).
# A row grows with the scale as labels and ids get longer (join's x: 25.3 B at 1e6 rows, 28.4
# at 1e7, 34.4 at 1.9e9), so (2) is what binds; the margin covers the rest.
DISK_BYTES_PER_ROW: dict[tuple[str, str], float] = {
    ("groupby", "parquet"): 24.5,  # 22.6 at 1e7
    ("x", "parquet"): 34.5,
    ("small", "parquet"): 443.0,  # 10 rows at 1e7: mostly the footer
    ("medium", "parquet"): 31.5,  # 1e3 rows at 1e6; 21.4 at 1.9e9
    ("big", "parquet"): 34.5,
    ("window", "parquet"): 36.0,  # 32.9 at 1e7
    ("ml", "parquet"): 136.2,
    ("blobs", "parquet"): 128.5,
    ("events", "parquet"): 25.2,  # 22.3 at 1e7
    ("events", "csv"): 67.4,  # 61.4 at 1e7
}
DISK_MARGIN = 1.1

# Peak resident memory of one writer process drawing and writing row groups of 1e6 rows (the
# largest) with the next one drawn ahead, interpreter included, measured with ru_maxrss
# (numpy 2, pyarrow 26): ml 491 MiB, blobs 479, events as CSV 349, events 264, join 260,
# groupby 234, window 186; rounded up.
WRITER_BYTES = {
    "ml": 512 * MIB,
    "blobs": 512 * MIB,
    "events": 384 * MIB,
    "join": 288 * MIB,
    "groupby": 256 * MIB,
    "window": 192 * MIB,
}
PARENT_BYTES = 128 * MIB  # the parent's interpreter and libraries (75 MiB measured)
# The parent holds the whole plan: per part file, its plan, its task and its manifest entry
# (3.6 KiB measured with 2e4 files), and per chunk its description (230 to 680 B measured).
PLAN_BYTES_PER_FILE = 4096
PLAN_BYTES_PER_CHUNK = 768
# The groupby table's vocabularies: every process that plans or draws rows holds, for each id
# column, arrays over all its distinct values (K for id1, id2, id4, id5; N/K for id3, id6).
# Measured: 14 B a value in the planning process, 28 in a writer (id3's label table), up to 40
# for the K-valued columns once K > 999 (labels sorted as strings).
VOCABULARY_BYTES_PER_VALUE = 40


def affordable_jobs(
    generator: TableGenerator, spec: DatasetSpec, root: Path | str, *, jobs: int, force: bool
) -> int:
    """The writer processes to generate ``spec`` under ``root`` with: ``jobs``, or fewer when
    memory holds fewer (said on stderr). Raise :class:`InputError` (one line) when its files
    would not fit the free disk, or when even one writer would not fit the memory available;
    nothing is checked when the complete dataset is there to be reused."""
    if not force and _complete(spec, root):
        return jobs
    available = available_memory()
    fitting = jobs
    while fitting > 1 and memory_bytes(generator, spec, fitting)[0] > available:
        fitting -= 1
    problems = [
        disk_problem(generator, spec, root),
        memory_problem(generator, spec, fitting, available),
    ]
    if found := [problem for problem in problems if problem]:
        raise InputError(f"cannot generate {spec.name}: " + "; and ".join(found))
    wanted = memory_bytes(generator, spec, jobs)[1] - 1
    if fitting < wanted:
        print(
            f"writing {spec.name} with {fitting} writer process{'es' if fitting > 1 else ''}, "
            f"not {wanted}: the {format_bytes(available)} of memory available hold no more",
            file=sys.stderr,
            flush=True,
        )
    return fitting


def _complete(spec: DatasetSpec, root: Path | str) -> bool:
    if isinstance(root, str):
        home, url = storage.dataset_location(root, spec.name, storage.data_dir())
        return find_complete(home, spec, url) is not None
    return find_complete(root / spec.name, spec) is not None


def disk_bytes(generator: TableGenerator, spec: DatasetSpec) -> int:
    """The estimated bytes of ``spec``'s part files (:data:`DISK_BYTES_PER_ROW`)."""
    per_row = DISK_BYTES_PER_ROW
    fallback = max(rate for (_, form), rate in per_row.items() if form == spec.file_format)
    total = sum(
        table.rows * per_row.get((table.name, spec.file_format), fallback)
        for table in generator.tables(spec)
    )
    return math.ceil(total * DISK_MARGIN)


def free_bytes(path: Path) -> tuple[int, Path]:
    """Free space for an unprivileged writer on the filesystem that will hold ``path``, and
    the directory it was asked of (the nearest one that exists)."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    return shutil.disk_usage(existing).free, existing


def disk_problem(generator: TableGenerator, spec: DatasetSpec, root: Path | str) -> str | None:
    """Why the dataset would not fit on its disk, or None.

    A dataset bound for object storage is not checked against the bucket (a bucket has no
    free space to ask for), but it is written whole into a staging directory under the local
    data directory before the upload (``writer.materialize_remote``), so that disk is checked.
    """
    if isinstance(root, str):
        remote = storage.is_remote(storage.data_root())  # else the local data dir is its own
        variable = "BAKEOFF_LOCAL_DATA_DIR" if remote else "BAKEOFF_DATA_DIR"
        target = storage.data_dir()
        fix = f"{variable} on a larger disk (the upload is staged there)"
    else:
        target, fix = root, "--data-dir on a larger disk"
    needed = disk_bytes(generator, spec)
    free, where = free_bytes(target)
    if needed <= free:
        return None
    return (
        f"its files need about {format_bytes(needed)} of disk, more than the "
        f"{format_bytes(free)} free under {where}: use {fix}, or fewer rows"
    )


def _plan_size(generator: TableGenerator, spec: DatasetSpec) -> tuple[int, int]:
    """Upper estimates of the plan's part files and chunks, without planning: each table's
    rows cut into files and into row groups (halves of them, sorted), once per stream of
    files (a hive partition, a day of events)."""
    streams = 1
    if spec.partition_by is not None:
        streams = spec.k + 1  # every value, and null
    elif spec.table == events.NAME:
        streams = events.DAYS
    files = chunks = 0
    for table in generator.tables(spec):
        table_files = math.ceil(table.rows / spec.rows_per_file) + streams - 1
        groups = math.ceil(table.rows / table.layout.row_group_rows)
        files += table_files
        chunks += groups * (2 if spec.sorted else 1) + table_files
    return files, chunks


def vocabulary_values(spec: DatasetSpec) -> int:
    """The distinct id values every groupby process holds (0 for the other tables: their
    per-process state is a few matrices, or at most 2e6 join keys)."""
    if spec.table != groupby.NAME:
        return 0
    return sum(column.size(spec.rows, spec.k) for column in groupby.ID_COLUMNS)


def memory_bytes(generator: TableGenerator, spec: DatasetSpec, jobs: int) -> tuple[int, int]:
    """The estimated peak memory of writing ``spec`` (the parent with its plan, and up to
    ``jobs`` writer processes, each with its own vocabularies), and the processes counted."""
    files, chunks = _plan_size(generator, spec)
    state = VOCABULARY_BYTES_PER_VALUE * vocabulary_values(spec)
    parent = PARENT_BYTES + PLAN_BYTES_PER_FILE * files + PLAN_BYTES_PER_CHUNK * chunks + state
    writers = min(jobs, files)
    return parent + writers * (WRITER_BYTES.get(spec.table, 512 * MIB) + state), 1 + writers


def available_memory() -> int:
    """Memory the system can give without swapping (MemAvailable on Linux)."""
    return int(psutil.virtual_memory().available)


def memory_problem(
    generator: TableGenerator, spec: DatasetSpec, jobs: int, available: int
) -> str | None:
    """Why writing the dataset with ``jobs`` writers would run out of memory, or None."""
    needed, processes = memory_bytes(generator, spec, jobs)
    if needed <= available:
        return None
    values = vocabulary_values(spec)
    held = f", each holding {values:,} id values" if values else ""
    files, chunks = _plan_size(generator, spec)
    fixes = ["fewer rows"]
    if PLAN_BYTES_PER_FILE * files + PLAN_BYTES_PER_CHUNK * chunks > needed / 2:
        fixes.append(f"a larger --rows-per-file (the plan has {files:,} files)")
    if values and spec.rows // spec.k > spec.k:
        fixes.append("a larger --k")
    return (
        f"writing them needs about {format_bytes(needed)} of memory ({processes} processes"
        f"{held}), more than the {format_bytes(available)} available: use {' or '.join(fixes)}"
    )
