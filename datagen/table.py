"""The contract between the dataset writer and one synthetic table.

A table module plans a dataset as a list of files, each a sequence of chunks, and builds any
chunk on demand as an Arrow table. Everything about Parquet, parallelism, atomic publishing and
the manifest lives in :mod:`datagen.writer`, so adding a table means one more module
implementing :class:`TableGenerator` and one entry in ``datagen.TABLES``.

A dataset holds one or more tables (:class:`SubTable`): db-benchmark's join data is a left
table and three right tables, each in its own directory and each laid out by the shared rule
for its own row count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa

from datagen.dataset import DatasetSpec
from shared.errors import InputError

# The layout rule, the same at every scale and on every machine (so the bytes stay the
# spec's): at least MIN_ROW_GROUPS row groups per dataset, so that readers which parallelize
# over row groups (DuckDB, Vaex, Spark's splits, Dask's partitions) have work for every core,
# and at most MAX_ROW_GROUP_ROWS rows in one, so a chunk's arrays stay around 50 MB.
MAX_ROW_GROUP_ROWS = 1_000_000
MIN_ROW_GROUPS = 16
COMPRESSION = "snappy"

Encoding = Literal["dictionary", "plain"]


def row_group_rows(rows: int) -> int:
    """Rows per row group of a table of ``rows`` rows: min(1e6, ceil(rows / 16)).

    A table of fewer than 16 rows gets one row per row group.
    """
    return max(1, min(MAX_ROW_GROUP_ROWS, math.ceil(rows / MIN_ROW_GROUPS)))


@dataclass(frozen=True)
class Layout:
    """How one dataset's Parquet files are written; recorded in its manifest.

    Every stored column has one encoding at every scale, declared by its table: a size
    threshold would flip a column between dictionary and plain as the data grows, and with it
    the ranking of the engines (DuckDB's and Polars' string groupby are both faster on
    dictionary pages), so a scaling curve would measure the writer rather than the engines.
    """

    row_group_rows: int
    encodings: Mapping[str, Encoding]
    compression: str = COMPRESSION

    @property
    def dictionary_columns(self) -> list[str]:
        return [name for name, how in self.encodings.items() if how == "dictionary"]


# Independent random streams derived from the spec's seed (see ``rng``).
PLAN_STREAM = 0
NULLS_STREAM = 1
CHUNK_STREAM = 2


def rng(seed: int, *stream: int) -> np.random.Generator:
    """A generator for one named stream of ``seed``.

    Seeding each chunk from ``(seed, CHUNK_STREAM, chunk index)`` makes every chunk's rows a
    function of the spec alone, whichever process draws it and in whatever order.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


@dataclass(frozen=True)
class SubTable:
    """One table of a dataset: its rows, columns and encodings, and where its files go."""

    name: str
    rows: int
    schema: pa.Schema  # the columns readers see, a hive partition column included
    encodings: Mapping[str, Encoding]  # every stored column's, the same at every scale
    directory: str = ""  # relative to the dataset; "" for a dataset of one table

    @property
    def layout(self) -> Layout:
        """The shared row-group rule applied to this table's own row count."""
        return Layout(row_group_rows=row_group_rows(self.rows), encodings=self.encodings)


@dataclass(frozen=True)
class FilePlan:
    """One Parquet part file: where it goes, its table, and the chunks that fill it, in order."""

    path: str  # relative to the dataset directory, with '/' separators
    rows: int
    chunks: tuple[Any, ...]  # table-specific chunk descriptions, each built by ``build_chunk``
    table: str  # the name of its SubTable


# Spec options only some tables take: a table lists those it takes in ``takes``, and every
# other table refuses them when set (``datagen.validate``).
OPTIONAL = ("dup_pct", "file_format")
# Options whose command-line flag is not the field's name with dashes.
FLAGS = {"file_format": "--format"}


class TableGenerator(Protocol):
    """What the writer needs from a table."""

    name: str
    takes: tuple[str, ...]  # which of OPTIONAL this table takes

    def validate(self, spec: DatasetSpec) -> None:
        """Raise ``InputError`` for a spec this table cannot generate (generic checks are done)."""

    def tables(self, spec: DatasetSpec) -> list[SubTable]:
        """The dataset's tables, in a stable order: one for most, four for ``join``."""

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        """Every file of the dataset, in a stable order, with chunks of at most a row group."""

    def build_chunk(self, spec: DatasetSpec, chunk: Any) -> pa.Table:
        """The rows of one chunk, as stored in the file (without the partition column)."""

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        """What readers need beyond the rows (true coefficients, centres), JSON-serialisable;
        recorded in the manifest as ``table_metadata``."""


def layouts(generator: TableGenerator, spec: DatasetSpec) -> dict[str, Layout]:
    """The layout of each of ``spec``'s tables, by table name."""
    return {table.name: table.layout for table in generator.tables(spec)}


def refuse_options(spec: DatasetSpec, table: str, options: Iterable[str]) -> None:
    """Raise ``InputError`` naming ``table`` for any of ``options`` (DatasetSpec fields) that is
    set to other than its default: an option that means nothing for a table is an error, not
    something silently ignored (and then still part of the dataset's name)."""
    defaults = DatasetSpec(table=spec.table)
    for option in options:
        if getattr(spec, option) != getattr(defaults, option):
            flag = FLAGS.get(option, "--" + option.replace("_", "-"))
            raise InputError(f"the {table} table takes no {flag} (it is {getattr(spec, option)!r})")


def split_rows(rows: int, per_file: int, per_chunk: int) -> Iterator[list[int]]:
    """The chunk sizes of each file of ``rows`` rows cut into files of at most ``per_file``."""
    for start in range(0, rows, per_file):
        size = min(per_file, rows - start)
        yield [min(per_chunk, size - at) for at in range(0, size, per_chunk)]


@dataclass(frozen=True)
class Span:
    """A chunk of a table of independent rows: its place in the dataset and in its table."""

    table: str
    index: int  # position in the dataset's write order; seeds the chunk's random stream
    offset: int  # rows of its table before it: row positions and exact null shares
    rows: int


def plan_spans(tables: Iterable[SubTable], rows_per_file: int) -> list[FilePlan]:
    """Files of at most ``rows_per_file`` rows and chunks of one row group, table by table."""
    files: list[FilePlan] = []
    index = 0
    for table in tables:
        offset = 0
        prefix = f"{table.directory}/" if table.directory else ""
        per_chunk = table.layout.row_group_rows
        for number, sizes in enumerate(split_rows(table.rows, rows_per_file, per_chunk)):
            chunks = []
            for size in sizes:
                chunks.append(Span(table.name, index, offset, size))
                index += 1
                offset += size
            path = f"{prefix}part-{number:05d}.parquet"
            files.append(FilePlan(path, sum(sizes), tuple(chunks), table.name))
    return files


class RowsTable:
    """A dataset of one table of independent rows, cut into :class:`Span` chunks.

    A subclass names itself, lists the spec options it refuses, and gives its schema,
    encodings and rows; planning and the protocol's plumbing are shared.
    """

    name: str
    refused: tuple[str, ...] = ("k", "null_pct", "sorted", "partition_by")
    takes: tuple[str, ...] = ()

    def validate(self, spec: DatasetSpec) -> None:
        refuse_options(spec, self.name, self.refused)

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        raise NotImplementedError

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        raise NotImplementedError

    def tables(self, spec: DatasetSpec) -> list[SubTable]:
        return [SubTable(self.name, spec.rows, self.schema(spec), self.encodings(spec))]

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        return plan_spans(self.tables(spec), spec.rows_per_file)

    def build_chunk(self, spec: DatasetSpec, chunk: Span) -> pa.Table:
        raise NotImplementedError

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        return {}
