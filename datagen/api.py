"""Synthetic, seeded Parquet datasets that every engine reads identically (the package's
public functions; ``datagen`` re-exports them).

``ensure_dataset(spec)`` returns the finished dataset of ``spec``, generating it only if no
complete copy exists. The bytes depend on the spec alone (not on the number of processes),
so every engine environment that asks for the same spec reads the same files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pyarrow as pa

from datagen import blobs, budget, events, groupby, join, ml, storage, window
from datagen.dataset import FILE_FORMATS, Dataset, DatasetSpec, check_rows
from datagen.table import OPTIONAL, FilePlan, TableGenerator, refuse_options
from datagen.writer import Materialized, materialize, materialize_remote, show_progress
from shared.errors import InputError

__all__ = ["TABLES", "build_chunk", "ensure_dataset", "generate", "plan_files", "validate"]

# Every table by name; a new table is one more module implementing ``TableGenerator``.
TABLES: Mapping[str, TableGenerator] = MappingProxyType(
    {module.TABLE.name: module.TABLE for module in (groupby, join, window, ml, blobs, events)}
)


# At most half of a chunk's rows can repeat one of its earlier rows.
MAX_DUP_PCT = 50


def _require_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum}, not {value}")


def _require_writable(data_dir: Path) -> None:
    """Fail unless ``data_dir`` is, or can be created as, a directory we may write into."""
    existing = data_dir
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot write to {data_dir}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {data_dir}: {existing} is not writable")


def validate(spec: DatasetSpec, data_dir: Path | str | None = None) -> TableGenerator:
    """Check ``spec`` (and ``data_dir``, or for object storage the local directory that keeps
    what belongs beside it) before anything is written; the spec's table."""
    generator = TABLES.get(spec.table)
    if generator is None:
        raise InputError(f"unknown table {spec.table!r}; choose one of {', '.join(TABLES)}")
    _require_int("rows", spec.rows, 1)
    check_rows(spec.rows)  # what the generator can represent
    _require_int("k", spec.k, 1)
    _require_int("rows_per_file", spec.rows_per_file, 1)
    _require_int("seed", spec.seed, 0)
    pct = spec.null_pct
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct < 100:
        raise InputError(f"null_pct must be a percentage in [0, 100), not {pct!r}")
    if not isinstance(spec.sorted, bool):
        raise InputError(f"sorted must be true or false, not {spec.sorted!r}")
    if spec.partition_by is not None and not isinstance(spec.partition_by, str):
        raise InputError(f"partition_by must be a column name, not {spec.partition_by!r}")
    dup = spec.dup_pct
    if isinstance(dup, bool) or not isinstance(dup, int | float) or not 0 <= dup <= MAX_DUP_PCT:
        raise InputError(f"dup_pct must be a percentage in [0, {MAX_DUP_PCT}], not {dup!r}")
    if spec.file_format not in FILE_FORMATS:
        raise InputError(
            f"format must be one of {', '.join(FILE_FORMATS)}, not {spec.file_format!r}"
        )
    refuse_options(spec, spec.table, [o for o in OPTIONAL if o not in generator.takes])
    generator.validate(spec)
    if data_dir is not None:
        _require_writable(storage.data_dir() if storage.is_remote(data_dir) else Path(data_dir))
    return generator


def _resolve_jobs(jobs: int | None) -> int:
    if jobs is None:
        return os.cpu_count() or 1
    _require_int("jobs", jobs, 1)
    return jobs


def generate(
    spec: DatasetSpec,
    data_dir: Path | str | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> Materialized:
    """:func:`ensure_dataset`, also telling whether the dataset was generated and how fast."""
    root = storage.resolve_root(data_dir)
    generator = validate(spec, root)
    # memory and disk, before the lock or the staging directory exists
    workers = budget.affordable_jobs(generator, spec, root, jobs=_resolve_jobs(jobs), force=force)
    if isinstance(root, str):
        return materialize_remote(
            generator,
            spec,
            root,
            storage.data_dir(),
            jobs=workers,
            force=force,
            progress=show_progress(progress),
        )
    return materialize(
        generator, spec, root, jobs=workers, force=force, progress=show_progress(progress)
    )


def ensure_dataset(
    spec: DatasetSpec,
    data_dir: Path | str | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> Dataset:
    """The complete dataset of ``spec`` under ``data_dir``, generated only when missing.

    ``data_dir`` may be ``s3://bucket/prefix`` (:mod:`datagen.storage`). ``jobs`` processes
    write files in parallel (default: all cores); ``force`` regenerates a dataset that exists;
    ``progress`` defaults to a bar on a terminal outside CI. Raises ``InputError`` for a bad
    spec or an unwritable ``data_dir`` before writing anything.
    """
    return generate(spec, data_dir, jobs=jobs, force=force, progress=progress).dataset


def plan_files(spec: DatasetSpec) -> list[FilePlan]:
    """The files ``spec`` produces and the chunks that fill them, without generating anything."""
    return validate(spec).plan(spec)


def build_chunk(spec: DatasetSpec, chunk: Any) -> pa.Table:
    """The rows of one planned chunk, in memory, exactly as they would be written."""
    return TABLES[spec.table].build_chunk(spec, chunk)
