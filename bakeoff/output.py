"""Where a write workload (the etl family) writes, and how what it wrote is read back and checked.

Before every run the harness makes a fresh output location under the scratch directory
(untimed; the engine's writer creates the directory itself), and for an append (e4) writes the
partitions already in place with pyarrow from the reference answer and records the SHA-256 of
every file. The timed run ends when the engine's writer has closed its files. Then, untimed,
the directory is read back with pyarrow (none of the engines under test): every data file
(names starting with ``_`` or ``.`` are the writers' markers and checksums, as in Hive and
Spark) must sit at the layout's depth, in a directory ``date=YYYY-MM-DD`` when partitioned, be
snappy-compressed, and hold only rows of its own partition; an append must leave every file
it found byte for byte as it was, and add files only to the new partition. A problem found is
a wrong answer; the rows are then compared value by value with the reference like any result.
The files, bytes and row groups written are recorded beside the time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workloads.spec import Workload

CODEC = "SNAPPY"
PRIOR_FILE = "part-prior-0.parquet"  # the name the harness gives the partitions already in place
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_names = itertools.count()


class OutputProblem(Exception):
    """The output breaks the layout (a file out of place, a rewritten partition): wrong."""


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _without_views(table: pa.Table) -> pa.Table:
    """String views read as strings: a Parquet string column is the same whichever Arrow type
    the writer's embedded schema names (DataFusion's is ``Utf8View``), and pyarrow cannot
    concatenate a view with the plain strings of another writer's files (an append's)."""
    fields = [
        field.with_type(pa.string()) if pa.types.is_string_view(field.type) else field
        for field in table.schema
    ]
    return table.cast(pa.schema(fields, table.schema.metadata))


@dataclass
class Output:
    """One run's output directory, and what was in it before the run."""

    path: Path
    workload: Workload
    prior: dict[str, str] = field(default_factory=dict)  # relative path -> SHA-256

    @classmethod
    def fresh(cls, scratch_dir: Path, workload: Workload) -> Output:
        """A location that does not exist yet, under ``scratch_dir/output``. Untimed."""
        parent = scratch_dir / "output"
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / f"{workload.name}-{os.getpid()}-{next(_names)}"
        shutil.rmtree(path, ignore_errors=True)
        return cls(path, workload)

    @property
    def location(self) -> str:
        return str(self.path)

    def place_prior(self, answer: pa.Table) -> None:
        """An append's starting point: every partition of ``answer`` but the last, written with
        pyarrow (one snappy file per partition, ``date=ISO/part-prior-0.parquet``); the
        SHA-256 of every file is kept to prove the run rewrote none. Untimed."""
        (column,) = self.workload.partition_by
        days = sorted(set(answer.column(column).to_pylist()))
        for day in days[:-1]:
            part = answer.filter(pc.equal(answer.column(column), pa.scalar(day, pa.date32())))
            directory = self.path / f"{column}={day.isoformat()}"
            directory.mkdir(parents=True)
            pq.write_table(part.drop_columns([column]), directory / PRIOR_FILE, compression=CODEC)
        self.prior = {str(p.relative_to(self.path)): _sha256(p) for p in self._data_files()}

    def _data_files(self) -> list[Path]:
        """Every file a reader takes for data (not ``_SUCCESS``, ``.crc``, ``_metadata``)."""
        if not self.path.is_dir():
            raise OutputProblem(f"the writer left no directory at {self.path}")
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file()
            and not any(part.startswith(("_", ".")) for part in path.relative_to(self.path).parts)
        )

    def _partition_value(self, relative: Path) -> dt.date | None:
        """The partition a data file's directory names, checked against the layout."""
        if not self.workload.partition_by:
            if len(relative.parts) != 1:
                raise OutputProblem(f"{relative}: an unpartitioned output has no directories")
            return None
        (column,) = self.workload.partition_by
        name, _, value = relative.parts[0].partition("=") if len(relative.parts) == 2 else ("",) * 3
        if name != column or not _ISO_DAY.fullmatch(value):
            raise OutputProblem(f"{relative}: not in a hive partition {column}=YYYY-MM-DD")
        return dt.date.fromisoformat(value)

    def read(self) -> tuple[pa.Table, dict[str, Any]]:
        """The rows written, partition column parsed from the path, and what was written
        (files, bytes, row groups, partitions); OutputProblem if the layout is wrong."""
        tables, stats = [], {"files": 0, "bytes": 0, "row_groups": 0, "partitions": 0}
        days: set[dt.date] = set()
        for path in self._data_files():
            relative = path.relative_to(self.path)
            day = self._partition_value(relative)
            parquet = pq.ParquetFile(path)
            codecs = {
                parquet.metadata.row_group(g).column(c).compression
                for g in range(parquet.metadata.num_row_groups)
                for c in range(parquet.metadata.num_columns)
            }
            if codecs - {CODEC}:
                raise OutputProblem(f"{relative}: compressed with {sorted(codecs)}, not snappy")
            table = _without_views(parquet.read())
            stats["files"] += 1
            stats["bytes"] += path.stat().st_size
            stats["row_groups"] += parquet.metadata.num_row_groups
            if day is not None:
                table = self._with_partition(table, day, relative)
                days.add(day)
            tables.append(table)
        stats["partitions"] = len(days)
        self._check_prior()
        if not tables:
            raise OutputProblem("the writer wrote no data file")
        return pa.concat_tables(tables, promote_options="permissive"), stats

    def _with_partition(self, table: pa.Table, day: dt.date, relative: Path) -> pa.Table:
        """The file's rows with the partition column its directory names; a file that keeps
        the column must hold only that value (a row in the wrong partition is wrong)."""
        (column,) = self.workload.partition_by
        value = pa.scalar(day, pa.date32())
        if column in table.column_names:
            kept = table.column(column).cast(pa.date32())
            if kept.null_count or not pc.all(pc.equal(kept, value)).as_py():
                raise OutputProblem(f"{relative}: holds rows of another {column} than {day}")
            table = table.drop_columns([column])
        return table.append_column(column, pa.array([day] * table.num_rows, pa.date32()))

    def _check_prior(self) -> None:
        """Every file in place before an append is still there, unchanged; no partition that
        existed got a new file (the append adds exactly the new day)."""
        if not self.prior:
            return
        before = {str(Path(name).parent) for name in self.prior}
        for name, digest in self.prior.items():
            path = self.path / name
            if not path.is_file() or _sha256(path) != digest:
                raise OutputProblem(f"{name}, in place before the append, was rewritten or removed")
        for path in self._data_files():
            name = str(path.relative_to(self.path))
            if name not in self.prior and str(Path(name).parent) in before:
                raise OutputProblem(f"{name}: the append wrote into an earlier partition")

    def remove(self) -> None:
        """Delete the output (untimed, before the next sample)."""
        shutil.rmtree(self.path, ignore_errors=True)
