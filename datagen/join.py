"""The ``join`` table: db-benchmark's join data, a left table and three right tables.

For N rows, db-benchmark's ``_data/join-datagen.R`` draws three levels of integer keys,
n = N/1e6, N/1e3 and N keys a side. Each level draws 1.1 n distinct integers: 0.9 n of them
are on both sides, 0.1 n on the left only and 0.1 n on the right only, so 90% of each side's
keys match and the rest never do. The tables (``x`` left, ``small``, ``medium``, ``big``
right), each in a directory of its own:

========  ==========  ==================================================================
table     rows        columns
========  ==========  ==================================================================
x         N           id1, id2 drawn from the left keys of levels 1, 2; id3 every left
                      key of level 3 once; id4, id5, id6 = ``"id" + id1`` … ; v1
small     n1          id1 every right key of level 1 once; id4; v2
medium    n2          id1 drawn from level 1; id2 every right key of level 2 once; id4, id5;
                      v2
big       N           id1, id2 drawn from levels 1, 2; id3 every right key of level 3 once;
                      id4, id5, id6; v2
========  ==========  ==================================================================

Keys are int32 (as db-benchmark's R integers, and as the groupby table's ids), labels strings
without padding, v1 and v2 ``round(runif(n, max = 100), 6)``. Every join of x with a right
table on its unique key (small.id1, medium.id2, big.id3) is many-to-one. Drawn keys are
uniform over a side's n keys; db-benchmark's ``sample_all`` also forces every key to appear,
which uniform draws of N >= 1000 n rows do with overwhelming probability.

Level sizes are ``max(MIN_KEYS, N // 10**k)``: 10 keys (and so 10 rows in small and medium,
one key on each side only) for any N below 1e7, db-benchmark's sizes from 1e7 rows on; N runs
from 100 to 1.95e9 (1.1 N keys must fit int32). A table of fewer than 16 rows has one row per
row group (the shared layout rule).

Key values never come from a permutation held in memory. Positions 0 … 1.1 n - 1 of a level
are split into shared ``[0, s)``, left-only ``[s, n)`` and right-only ``[n, n + o)``, and a
seeded :class:`~datagen.permutation.Permutation` of the positions gives each its key (+1), so
the classes are interleaved over the key range (no min/max statistics tell them apart). A
unique column's row r takes side index ``order(r)``, a second seeded permutation, so the
non-matching rows are spread over the whole table. Levels 1 and 2 (at most N/1e3 keys a
side, like the groupby table's vocabularies) are tabulated once per process for the drawn
columns; level 3 is computed chunk by chunk, so memory stays at a chunk or two for any N.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array, id_strings, six_decimals
from datagen.dataset import DatasetSpec
from datagen.permutation import Permutation
from datagen.table import (
    CHUNK_STREAM,
    PLAN_STREAM,
    Encoding,
    FilePlan,
    Span,
    SubTable,
    plan_spans,
    refuse_options,
    rng,
)
from shared.errors import InputError

NAME = "join"
MIN_KEYS = 10  # the floor of every key level: small and medium have at least 10 rows
LEVEL_DIVISORS = (10**6, 10**3, 1)  # level k has N / divisor keys a side
MIN_ROWS = 100
MAX_ROWS = 1_950_000_000  # 1.1 N keys must fit int32
LEFT, RIGHT = SIDES = (0, 1)


@dataclass(frozen=True)
class Shape:
    """One table's key levels (id1 … id3 and their labels id4 … id6) and value column."""

    side: int
    levels: tuple[int, ...]
    unique: int  # the level whose keys the table holds once each: its join key
    value: str


SHAPES = {
    "x": Shape(LEFT, (1, 2, 3), unique=3, value="v1"),
    "small": Shape(RIGHT, (1,), unique=1, value="v2"),
    "medium": Shape(RIGHT, (1, 2), unique=2, value="v2"),
    "big": Shape(RIGHT, (1, 2, 3), unique=3, value="v2"),
}


class KeyLevel:
    """One level's keys: ``keys`` a side, ``only`` of them (10%, half up) on one side only."""

    def __init__(self, level: int, keys: int, seed: int) -> None:
        self.level = level  # 1, 2 or 3
        self.keys = keys
        self.only = (keys + 5) // 10
        self.shared = keys - self.only
        self._key_of = Permutation(keys + self.only, rng(seed, PLAN_STREAM, level))
        self._orders = [Permutation(keys, rng(seed, PLAN_STREAM, level, side)) for side in SIDES]
        self._tables: dict[int, np.ndarray] = {}
        self._labels: dict[int, pa.StringArray] = {}

    def key(self, side: int, index: np.ndarray) -> np.ndarray:
        """The int32 keys of ``side``'s indices (each in 0 … keys - 1)."""
        position = (
            index if side == LEFT else np.where(index < self.shared, index, index + self.only)
        )
        return (self._key_of(position) + 1).astype(np.int32)

    def unique(self, side: int, rows: np.ndarray) -> np.ndarray:
        """Keys of rows 0 … keys - 1 of a table holding each of ``side``'s keys once."""
        return self.key(side, self._orders[side](rows))

    def table(self, side: int) -> np.ndarray:
        """Every key of ``side``, by index: the lookup table of drawn columns (levels 1, 2)."""
        if side not in self._tables:
            self._tables[side] = self.key(side, np.arange(self.keys))
        return self._tables[side]

    def labels(self, side: int) -> pa.StringArray:
        if side not in self._labels:
            self._labels[side] = id_strings(self.table(side))
        return self._labels[side]


def level_keys(rows: int, level: int) -> int:
    divisor = LEVEL_DIVISORS[level - 1]
    return rows if divisor == 1 else max(MIN_KEYS, rows // divisor)


@lru_cache(maxsize=4)
def key_levels(rows: int, seed: int) -> tuple[KeyLevel, KeyLevel, KeyLevel]:
    """The three key levels of a dataset, cached per process (workers build theirs once)."""
    one, two, three = (KeyLevel(level, level_keys(rows, level), seed) for level in (1, 2, 3))
    return one, two, three


def _strings(values: np.ndarray, labels: pa.StringArray, dictionary: bool) -> pa.Array:
    """Labels of drawn indices: an Arrow dictionary (no hashing by the writer) or plain."""
    indices = arrow_array(values.astype(np.int32))
    if dictionary:
        return pa.DictionaryArray.from_arrays(indices, labels, safe=False)
    return labels.take(indices)


def _drawn(
    draw: np.random.Generator, level: KeyLevel, side: int, rows: int, number: int
) -> dict[str, pa.Array]:
    """id<number> and its label column id<number + 3>, drawn uniformly from ``side``'s keys.

    Level-1 keys (N/1e6 of them) are stored dictionary-encoded, level-2 keys plain.
    """
    index = draw.integers(0, level.keys, rows, dtype=np.int32)
    keys = level.table(side).take(index)
    return {
        f"id{number}": arrow_array(keys),
        f"id{number + 3}": _strings(index, level.labels(side), dictionary=level.level == 1),
    }


def _unique(level: KeyLevel, side: int, span: Span, number: int) -> dict[str, pa.Array]:
    """id<number> holding each of ``side``'s keys once over the table, and its labels."""
    keys = level.unique(side, np.arange(span.offset, span.offset + span.rows))
    return {f"id{number}": arrow_array(keys), f"id{number + 3}": id_strings(keys)}


def build_chunk(spec: DatasetSpec, span: Span) -> pa.Table:
    """The rows of ``span``, columns in db-benchmark's order: id1 … id6, then the value."""
    shape = SHAPES[span.table]
    keys = key_levels(spec.rows, spec.seed)
    draw = rng(spec.seed, CHUNK_STREAM, span.index)
    columns: dict[str, pa.Array] = {}
    for number in shape.levels:
        if number == shape.unique:
            columns.update(_unique(keys[number - 1], shape.side, span, number))
        else:
            columns.update(_drawn(draw, keys[number - 1], shape.side, span.rows, number))
    names = sorted(columns)
    arrays = [columns[name] for name in names] + [arrow_array(six_decimals(draw, span.rows))]
    return pa.Table.from_arrays(arrays, names=[*names, shape.value])


def _subtable(name: str, rows: int) -> SubTable:
    """Drawn level-1 keys (at most 1.1 N/1e6 values) and their labels are dictionary-encoded;
    every other column, unique or of N/1e3 values, is plain."""
    shape = SHAPES[name]
    ids = [(f"id{number}", pa.int32()) for number in shape.levels]
    ids += [(f"id{number + 3}", pa.string()) for number in shape.levels]
    schema = pa.schema([*ids, (shape.value, pa.float64())])
    dictionary = {"id1", "id4"} if shape.unique != 1 else set()
    encodings: dict[str, Encoding] = {
        field: "dictionary" if field in dictionary else "plain" for field in schema.names
    }
    return SubTable(name, rows, schema, encodings, directory=name)


class JoinTable:
    """The ``join`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME
    takes: tuple[str, ...] = ()

    def validate(self, spec: DatasetSpec) -> None:
        refuse_options(spec, self.name, ("k", "null_pct", "sorted", "partition_by"))
        if not MIN_ROWS <= spec.rows <= MAX_ROWS:
            raise InputError(
                f"the {self.name} table needs {MIN_ROWS:,} to {MAX_ROWS:,} rows, not {spec.rows:,}"
            )

    def tables(self, spec: DatasetSpec) -> list[SubTable]:
        one, two, _ = key_levels(spec.rows, spec.seed)
        sizes = {"x": spec.rows, "small": one.keys, "medium": two.keys, "big": spec.rows}
        return [_subtable(name, sizes[name]) for name in SHAPES]

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        return plan_spans(self.tables(spec), spec.rows_per_file)

    def build_chunk(self, spec: DatasetSpec, chunk: Span) -> pa.Table:
        return build_chunk(spec, chunk)

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        """Each level's key counts, so readers know how many matches to expect."""
        return {
            f"level{level.level}": {
                "keys_per_side": level.keys,
                "shared": level.shared,
                "one_side_only": level.only,
                "key_range": [1, level.keys + level.only],
            }
            for level in key_levels(spec.rows, spec.seed)
        }


TABLE = JoinTable()
