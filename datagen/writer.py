"""Writing a dataset: Parquet part files in parallel, published atomically with a manifest.

The layout follows one rule at every scale (:func:`datagen.table.row_group_rows`: at least 16
row groups of at most 1e6 rows) and each column keeps the encoding its table declares, so no
reader is favoured at one scale and not at another. Compression is snappy: it is the default
of Spark's and pyarrow's Parquet writers, every engine reads it natively, and it decodes
fastest, so a benchmark of engines measures the engines rather than a decompressor. zstd
level 1 writes about 20% smaller files here but takes about 25% longer to write and more CPU
to read.

Strings with few distinct values reach the writer as Arrow dictionaries (no hashing per
value), but the Arrow schema is not stored in the files (``store_schema=False``), so every
reader sees plain UTF-8 strings, never a dictionary or categorical type. The encodings that
were actually written are read back from the files' footers into the manifest.

Files are written by worker processes, one file per task, each file's chunks drawn and
written one row group at a time, so memory is bounded by a row group or two per worker.
The dataset is written into a temporary sibling directory that is renamed into place only
after its manifest is written, and a lock serialises generators of the same dataset, so a
directory with the dataset's name is always complete (against crashes of the generator;
the manifest's checksums are there to detect anything else). A dataset for object storage is
generated the same way into a local staging directory and uploaded, part files first and its
manifest last (:func:`materialize_remote`).

A table that takes ``--format csv`` (``events``) writes the same rows, in the same files, as CSV
(:func:`write_csv`), for workloads that measure reading text; the manifest records the format.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from filelock import FileLock, Timeout
from tqdm import tqdm

from datagen import storage
from datagen.dataset import MANIFEST_NAME, Dataset, DatasetSpec
from datagen.table import COMPRESSION, FilePlan, Layout, TableGenerator, layouts
from shared.lifetime import OWNER_FILE, abandoned, claim, die_with_parent, watch_parent

# Bump whenever the bytes generated for some spec change: datasets of another version are
# regenerated rather than reused.
GENERATOR_VERSION = 3  # 2: v1 and v2 are int64; 3: >= 16 row groups, fixed encodings

OnRows = Callable[[int], None]


@dataclass(frozen=True)
class Materialized:
    """A finished dataset, and whether this call generated it (or found it) and how fast."""

    dataset: Dataset
    generated: bool
    seconds: float  # generating or finding it; a wait for another generator is not counted


def write_parquet(
    path: Path,
    tables: Iterable[pa.Table],
    *,
    layout: Layout,
    on_rows: OnRows | None = None,
) -> dict[str, Any]:
    """Write ``tables`` as one Parquet file in row groups of ``layout.row_group_rows`` rows.

    Tables may be any size; they are buffered until a whole row group is available, so
    readers see full row groups whatever the chunking. Returns the manifest entry (minus the
    relative path): rows, bytes and sha256.
    """
    group_rows = layout.row_group_rows
    rows = 0
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    pending_rows = 0
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression=layout.compression,
                    use_dictionary=layout.dictionary_columns,
                    store_schema=False,
                    write_statistics=True,
                )
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= group_rows:
                buffered = pa.concat_tables(pending)
                whole = pending_rows - pending_rows % group_rows
                writer.write_table(buffered.slice(0, whole), row_group_size=group_rows)
                pending = [buffered.slice(whole)] if whole < pending_rows else []
                pending_rows -= whole
                rows += whole
                if on_rows is not None:
                    on_rows(whole)
        if writer is None:
            raise ValueError(f"no rows to write to {path}")
        if pending_rows:
            writer.write_table(pa.concat_tables(pending), row_group_size=group_rows)
            rows += pending_rows
            if on_rows is not None:
                on_rows(pending_rows)
    finally:
        if writer is not None:
            writer.close()
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    metadata = pq.read_metadata(path)
    written = written_encodings(metadata)
    declared = {name: how for name, how in layout.encodings.items() if name in written}
    if written != declared:
        raise RuntimeError(f"{path.name}: written encodings {written} differ from {declared}")
    return {
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": digest,
        "row_groups": metadata.num_row_groups,
    }


# How CSV part files are written (recorded in the manifest's ``format``): a header line,
# ISO-8601 timestamps, an empty field for null, and no quotes (no value needs any).
CSV_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"  # %S has the microseconds of timestamp[us]
CSV_FORMAT = {"header": True, "delimiter": ",", "timestamp": "ISO 8601", "null": ""}


def _csv_ready(table: pa.Table) -> pa.Table:
    """``table`` with its timestamps as ISO-8601 text (Arrow writes a space before the time)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            text = pc.strftime(table.column(index), format=CSV_TIMESTAMP_FORMAT)
            table = table.set_column(index, field.name, text)
    return table


def write_csv(
    path: Path, tables: Iterable[pa.Table], on_rows: OnRows | None = None
) -> dict[str, Any]:
    """Write ``tables`` as one CSV file (:data:`CSV_FORMAT`); its manifest entry, as
    :func:`write_parquet`'s but without row groups. The header is written here: Arrow quotes
    the names in its own."""
    rows = 0
    with path.open("wb") as stream:
        writer: pa_csv.CSVWriter | None = None
        try:
            for table in tables:
                ready = _csv_ready(table)
                if writer is None:
                    stream.write((",".join(ready.schema.names) + "\n").encode())
                    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
                    writer = pa_csv.CSVWriter(stream, ready.schema, write_options=options)
                writer.write_table(ready)
                rows += table.num_rows
                if on_rows is not None:
                    on_rows(table.num_rows)
            if writer is None:
                raise ValueError(f"no rows to write to {path}")
        finally:
            if writer is not None:
                writer.close()
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return {"rows": rows, "bytes": path.stat().st_size, "sha256": digest}


def written_encodings(metadata: pq.FileMetaData) -> dict[str, str]:
    """Each column's encoding as written, from the footer: ``dictionary`` when its data pages
    are dictionary-encoded in every row group, else ``plain``."""
    dictionary: dict[str, bool] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            encoded = bool({"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & set(chunk.encodings))
            name = chunk.path_in_schema
            dictionary[name] = dictionary.get(name, True) and encoded
    return {name: "dictionary" if flag else "plain" for name, flag in dictionary.items()}


def _built_ahead(
    generator: TableGenerator, spec: DatasetSpec, chunks: Iterable[Any]
) -> Iterator[pa.Table]:
    """The chunks' tables, each built on a thread while the previous one is being written.

    numpy's generators and Arrow's Parquet writer release the GIL, so drawing overlaps
    writing when a core is free for it. Two chunks are in memory instead of one.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="datagen-build") as builder:
        pending: Future[pa.Table] | None = None
        for chunk in chunks:
            following = builder.submit(generator.build_chunk, spec, chunk)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def write_file(
    generator: TableGenerator,
    spec: DatasetSpec,
    file: FilePlan,
    root: Path,
    on_rows: OnRows | None = None,
    *,
    build_ahead: bool = False,
) -> dict[str, Any]:
    """Draw and write one planned file under ``root``; its manifest entry.

    ``build_ahead`` draws the next chunk on a thread while one is written: worth it only
    when there are more cores than writer processes.
    """
    path = root / file.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if build_ahead:
        tables = _built_ahead(generator, spec, file.chunks)
    else:
        tables = (generator.build_chunk(spec, chunk) for chunk in file.chunks)
    if spec.file_format == "csv":
        entry = write_csv(path, tables, on_rows)
    else:
        file_layout = layouts(generator, spec)[file.table]
        entry = write_parquet(path, tables, layout=file_layout, on_rows=on_rows)
    return {"path": file.path, **entry}


# Worker processes report rows written through this queue, for the parent's progress bar.
_progress_queue: SimpleQueue | None = None

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _reuse_freed_memory() -> None:
    """Make glibc's malloc keep freed chunk arrays for the next chunk, in a worker process.

    Every chunk allocates some 60 MB of fresh arrays. By default glibc maps arrays that large
    with mmap and trims its heap on free, so each chunk faults all its pages in again, which
    costs as much as drawing the random numbers. With the arrays on a heap that is not
    trimmed, one chunk's pages serve the next: the peak is unchanged, the time nearly halves.
    A no-op where malloc is not glibc's.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's maximum; chunk arrays stay below it
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)


# Ctrl-C and kill: held while the pool forks its processes (see _signals_held).
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the pool forks, and deliver them after.

    A signal that arrives during ``os.fork`` is handled inside one of the interpreter's
    at-fork hooks, which ignores the exception the handler raises: the interrupt was lost and
    the dataset written anyway. Held, it is raised here once the processes exist, where the
    caller stops them. The writer processes inherit the held mask and release it first.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def prepare_worker(queue: SimpleQueue | None = None, generator: int | None = None) -> None:
    """Initializer of every writer process: end with the generator (pid ``generator``, by
    default this process's parent) if it is killed, even before this ran (a writer left behind
    would wait forever on its task queue, holding its memory), take signals again
    (:func:`_signals_held`), tune malloc and connect the progress queue."""
    global _progress_queue
    if generator is not None and generator == os.getppid():
        die_with_parent()  # the kernel's SIGKILL needs no thread of ours to run; Linux only
    watch_parent(generator)  # elsewhere, or when the generator died before the line above
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    _progress_queue = queue
    _reuse_freed_memory()


def _write_file_in_worker(
    generator: TableGenerator, spec: DatasetSpec, file: FilePlan, root: Path, build_ahead: bool
) -> dict[str, Any]:
    queue = _progress_queue
    on_rows = None if queue is None else queue.put
    return write_file(generator, spec, file, root, on_rows, build_ahead=build_ahead)


def _drain(queue: SimpleQueue | None, bar: tqdm) -> None:
    while queue is not None and not queue.empty():
        bar.update(queue.get())


def _write_all(
    generator: TableGenerator,
    spec: DatasetSpec,
    files: list[FilePlan],
    root: Path,
    jobs: int,
    bar: tqdm,
) -> list[dict[str, Any]]:
    """Write every file, in up to ``jobs`` processes; the entries come back in plan order.

    Only a dataset of a single chunk is written in this process: anything larger goes to
    worker processes even with ``jobs=1``, where malloc can be tuned and memory is returned.
    """
    if len(files) == 1 and len(files[0].chunks) == 1:
        return [write_file(generator, spec, files[0], root, bar.update)]
    workers = min(jobs, len(files))
    build_ahead = workers < (os.cpu_count() or 1)
    context = multiprocessing.get_context()
    queue = context.SimpleQueue() if not bar.disable else None
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=prepare_worker, initargs=(queue, os.getpid())
    )
    try:
        with _signals_held():  # submitting forks the processes
            futures = [
                pool.submit(_write_file_in_worker, generator, spec, file, root, build_ahead)
                for file in files
            ]
        pending: set[Future[dict[str, Any]]] = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(queue, bar)
            for future in done:
                future.result()  # the first failure stops the run
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    _drain(queue, bar)
    return [future.result() for future in futures]


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool and its processes after a failure or an interrupt (Ctrl-C, SIGTERM).

    An interrupt between the pool starting its processes and starting its manager thread
    leaves a pool that ``shutdown`` cannot join (RuntimeError): its processes are then ended
    directly, so the interrupt, not that error, is what the caller sees.
    """
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    except RuntimeError:
        for process in multiprocessing.active_children():
            process.kill()
            process.join(timeout=10)


def _tables(
    generator: TableGenerator,
    spec: DatasetSpec,
    files: list[FilePlan],
    entries: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Each table's directory, rows, files, row groups, schema and encodings (of Parquet
    files), by name."""
    tables = {}
    for table in generator.tables(spec):
        mine = [
            entry for file, entry in zip(files, entries, strict=True) if file.table == table.name
        ]
        described: dict[str, Any] = {
            "directory": table.directory,
            "rows": sum(entry["rows"] for entry in mine),
            "files": [entry["path"] for entry in mine],
        }
        if spec.file_format == "parquet":
            described["row_groups"] = sum(entry["row_groups"] for entry in mine)
            described["row_group_rows"] = table.layout.row_group_rows
        described["schema"] = {field.name: str(field.type) for field in table.schema}
        if spec.file_format == "parquet":
            described["encodings"] = dict(table.encodings)  # checked against every footer
        tables[table.name] = described
    return tables


def _manifest(
    generator: TableGenerator,
    spec: DatasetSpec,
    files: list[FilePlan],
    entries: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """The manifest. A dataset of one table also has its schema, row-group size and encodings
    at the top level, as before datasets of several tables existed; ``tables`` has them for
    every table of every dataset."""
    partitioning = None
    if spec.partition_by is not None:
        partitioning = {"flavor": "hive", "columns": [spec.partition_by]}
    tables = _tables(generator, spec, files, entries)
    single = next(iter(tables.values())) if len(tables) == 1 else None
    files_format: dict[str, Any]
    if spec.file_format == "csv":
        files_format = {"file_format": "csv", **CSV_FORMAT}
    else:
        files_format = {
            "file_format": "parquet",
            "compression": COMPRESSION,
            "row_groups": sum(entry["row_groups"] for entry in entries),
            "store_schema": False,
        }
    if single is not None and spec.file_format == "parquet":
        files_format["row_group_rows"] = single["row_group_rows"]
        files_format["encodings"] = single["encodings"]
    return {
        "generator": "bakeoff-datagen",
        "generator_version": GENERATOR_VERSION,
        "seed": spec.seed,
        "parameters": spec.to_dict(),
        **({"schema": single["schema"]} if single is not None else {}),
        "partitioning": partitioning,
        "format": files_format,
        "rows": sum(entry["rows"] for entry in entries),
        "files": entries,
        "tables": tables,
        "table_metadata": generator.metadata(spec),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pyarrow": pa.__version__,
        },
    }


def find_complete(path: Path, spec: DatasetSpec, url: str | None = None) -> Dataset | None:
    """The dataset at ``path`` (or in object storage at ``url``) if it is complete, of this
    spec and generator version."""
    try:
        dataset = Dataset.load(path, url)
        manifest = dataset.manifest
        if (
            manifest.get("generator_version") != GENERATOR_VERSION
            or manifest.get("parameters") != spec.to_dict()
        ):
            return None
        if url is not None:
            sizes = {name: size for name, (size, _) in storage.listing(url).items()}
        else:
            sizes = {e["path"]: (path / e["path"]).stat().st_size for e in manifest["files"]}
        if any(sizes.get(e["path"]) != int(e["bytes"]) for e in manifest["files"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dataset


# A generator's staging (tmp), replaced (old) and upload staging (upload) directories.
_STAGING = re.compile(r"\.(tmp|old|upload)-(?P<name>.+)-(?P<pid>\d+)")


def _remove_leftovers(data_dir: Path, name: str) -> None:
    """Delete the staging and replaced directories of ``name`` (the caller holds its lock),
    and those of any dataset whose generator is known to be dead (killed with -9: nothing of
    it ran to remove them). Whose a directory is, its owner record says (:func:`claim`), so a
    pid reused since, or a generator on another machine sharing the disk, is no mistake; one
    without a record is judged by the pid in its name."""
    for path in data_dir.iterdir():
        found = _STAGING.fullmatch(path.name)
        if found is None or not path.is_dir():
            continue
        if found["name"] == name or abandoned(path, int(found["pid"])):
            shutil.rmtree(path, ignore_errors=True)


def _staging(path: Path) -> Path:
    """Make the staging directory ``path``, recording that it is this process's."""
    path.mkdir()
    claim(path)
    return path


def _publish(staging: Path, final: Path) -> None:
    """Move the finished ``staging`` directory to ``final``, replacing what is there."""
    if final.exists():
        retired = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, retired)
        os.rename(staging, final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, final)


@contextmanager
def _locked(lock: FileLock, name: str, announce: bool) -> Iterator[None]:
    """Hold ``lock``, saying that we wait when another generator holds it."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if announce:
            print(f"waiting for another generator of {name} ...", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def show_progress(progress: bool | None) -> bool:
    """The default: a bar only for a person watching a terminal, never in CI."""
    if progress is not None:
        return progress
    return sys.stderr.isatty() and not os.environ.get("CI")


def materialize_remote(
    generator: TableGenerator,
    spec: DatasetSpec,
    root: str,
    local_dir: Path,
    *,
    jobs: int,
    force: bool = False,
    progress: bool = False,
) -> Materialized:
    """:func:`materialize` for a data root in object storage (``s3://bucket/prefix``).

    The dataset is generated into a local staging directory exactly as on disk, then uploaded:
    an old manifest is removed first, then every part file, then the new manifest, so a
    dataset in the bucket is complete whenever its manifest is there. The lock (on this
    machine) serialises generators here; the staging copy is removed once uploaded.
    """
    started = time.perf_counter()
    home, url = storage.dataset_location(root, spec.name, local_dir)
    if not force and (existing := find_complete(home, spec, url)) is not None:
        return Materialized(existing, False, time.perf_counter() - started)
    home.parent.mkdir(parents=True, exist_ok=True)
    with _locked(FileLock(home.parent / f".{spec.name}.lock"), spec.name, progress):
        if not force and (existing := find_complete(home, spec, url)) is not None:
            return Materialized(existing, False, time.perf_counter() - started)
        started = time.perf_counter()
        _remove_leftovers(home.parent, spec.name)
        staging = _staging(home.parent / f".upload-{spec.name}-{os.getpid()}")
        try:
            local = materialize(generator, spec, staging, jobs=jobs, force=True, progress=progress)
            storage.delete_prefix(url, first=MANIFEST_NAME)
            files = [entry["path"] for entry in local.dataset.manifest["files"]]
            storage.upload(local.dataset.path, url, files, last=MANIFEST_NAME)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)  # stamps and references of the old dataset
    return Materialized(Dataset.load(home, url), True, time.perf_counter() - started)


def materialize(
    generator: TableGenerator,
    spec: DatasetSpec,
    data_dir: Path,
    *,
    jobs: int,
    force: bool = False,
    progress: bool = False,
) -> Materialized:
    """Reuse the complete dataset of an already validated ``spec``, or generate it."""
    started = time.perf_counter()
    final = data_dir / spec.name
    if not force and (existing := find_complete(final, spec)) is not None:
        return Materialized(existing, False, time.perf_counter() - started)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _locked(FileLock(data_dir / f".{spec.name}.lock"), spec.name, progress):
        if not force and (existing := find_complete(final, spec)) is not None:
            return Materialized(existing, False, time.perf_counter() - started)
        started = time.perf_counter()  # time the generation, not a wait for another one
        _remove_leftovers(data_dir, spec.name)
        staging = _staging(data_dir / f".tmp-{spec.name}-{os.getpid()}")
        try:
            files = generator.plan(spec)
            with tqdm(
                total=sum(file.rows for file in files),
                desc=spec.name,
                unit="rows",
                unit_scale=True,
                disable=not progress,
                file=sys.stderr,
            ) as bar:
                entries = _write_all(generator, spec, files, staging, jobs, bar)
            manifest = _manifest(generator, spec, files, entries, time.perf_counter() - started)
            (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
            (staging / OWNER_FILE).unlink()  # not part of the dataset; the name still says whose
            _publish(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Materialized(Dataset.load(final), True, time.perf_counter() - started)
