"""The contract between the dataset writer and one synthetic table.

A table module plans a dataset as a list of files, each a sequence of chunks, and builds any
chunk on demand as an Arrow table. Everything about Parquet, parallelism, atomic publishing and
the manifest lives in :mod:`datagen.writer`, so adding a table (say, db-benchmark's join data)
means one more module implementing :class:`TableGenerator` and one entry in ``datagen.TABLES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from datagen.dataset import DatasetSpec

# Rows per Parquet row group, and so the most rows a chunk holds: large enough that readers
# never see thousands of tiny row groups, small enough that a chunk's arrays stay around 50 MB.
ROW_GROUP_ROWS = 1_000_000

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

    def dictionary_columns(self, spec: DatasetSpec) -> list[str]:
        """Columns worth dictionary-encoding in Parquet (few distinct values)."""
