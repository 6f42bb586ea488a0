"""The contract between the dataset writer and one synthetic table.

A table module plans a dataset as a list of files, each a sequence of chunks, and builds any
chunk on demand as an Arrow table. Everything about Parquet, parallelism, atomic publishing and
the manifest lives in :mod:`datagen.writer`, so adding a table (say, db-benchmark's join data)
means one more module implementing :class:`TableGenerator` and one entry in ``datagen.TABLES``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa

from datagen.dataset import DatasetSpec

# The layout rule, the same at every scale and on every machine (so the bytes stay the
# spec's): at least MIN_ROW_GROUPS row groups per dataset, so that readers which parallelize
# over row groups (DuckDB, Vaex, Spark's splits, Dask's partitions) have work for every core,
# and at most MAX_ROW_GROUP_ROWS rows in one, so a chunk's arrays stay around 50 MB.
MAX_ROW_GROUP_ROWS = 1_000_000
MIN_ROW_GROUPS = 16
COMPRESSION = "snappy"

Encoding = Literal["dictionary", "plain"]


def row_group_rows(rows: int) -> int:
    """Rows per row group of a dataset of ``rows`` rows: min(1e6, ceil(rows / 16))."""
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
class FilePlan:
    """One Parquet part file: where it goes and the chunks that fill it, in order."""

    path: str  # relative to the dataset directory, with '/' separators
    rows: int
    chunks: tuple[Any, ...]  # table-specific chunk descriptions, each built by ``build_chunk``


class TableGenerator(Protocol):
    """What the writer needs from a table."""

    name: str

    def validate(self, spec: DatasetSpec) -> None:
        """Raise ``InputError`` for a spec this table cannot generate (generic checks are done)."""

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        """The columns readers see, the hive partition column included, as plain Arrow types."""

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        """Every file of the dataset, in a stable order, with chunks of at most a row group."""

    def build_chunk(self, spec: DatasetSpec, chunk: Any) -> pa.Table:
        """The rows of one chunk, as stored in the file (without the partition column)."""

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        """Every stored column's Parquet encoding, the same at every scale: dictionary for
        columns of a bounded number of distinct values, plain for the rest."""


def layout(generator: TableGenerator, spec: DatasetSpec) -> Layout:
    """The layout of ``spec``'s files: the shared row-group rule and the table's encodings."""
    return Layout(row_group_rows=row_group_rows(spec.rows), encodings=generator.encodings(spec))
