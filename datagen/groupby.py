"""The ``groupby`` table: db-benchmark's G1 data, column for column.

Each of N rows is drawn independently, every column uniformly with replacement (K groups,
N/K meaning ``max(1, N // K)``):

============  =========================================  =======
column        values                                     type
============  =========================================  =======
id1, id2      K strings ``id001`` … (``id%03d``)          string
id3           N/K strings ``id0000000001`` … (``id%010d``)  string
id4, id5      integers 1 … K                             int32
id6           integers 1 … N/K                           int32
v1, v2        integers 1 … 5 and 1 … 15                  int64
v3            0 … 100 with 6 decimals                    float64
============  =========================================  =======

Id integers are int32 (db-benchmark's data.table data holds 32-bit integers; it halves what
engines hold). The summed values v1 and v2 are int64: polars sums an Int32 column into Int32
and would silently overflow on large groups, and no engine should be judged on that.

``null_pct`` p makes p% of the *distinct* values of each id column, chosen from the seed,
null wherever they occur (so the null group is one group, as in db-benchmark), and exactly
p% of the rows of each of v1, v2 and v3 null.

Sorting and hive partitioning never need a global sort. Rows are iid, so the number of rows
taking each value of a key column is multinomial, and the rows that take one value are again
iid with that column held fixed. The plan draws those counts from the seed: a partition is a
stream of rows with its column fixed; a sorted stream is split on id1, then id2, … until each
piece fits in half a chunk, consecutive small pieces are merged into chunks, and each chunk is
drawn and sorted on its own and written in key order. Memory stays bounded by one chunk plus
the vocabularies, whatever N is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen.columns import (
    SIX_DECIMAL_STEPS,
    arrow_array,
    exact_nulls,
    share,
    six_decimals,
    validity,
)
from datagen.dataset import DatasetSpec
from datagen.table import (
    CHUNK_STREAM,
    MAX_ROW_GROUP_ROWS,
    NULLS_STREAM,
    PLAN_STREAM,
    Encoding,
    FilePlan,
    SubTable,
    rng,
    row_group_rows,
    split_rows,
)
from shared.errors import InputError

NAME = "groupby"
# The directory name of a null partition value, which Spark, pyarrow and polars read as null.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# K-valued string ids up to this size reach the Parquet writer as Arrow dictionaries with
# int16 indices (written without hashing); larger ones are hashed by the writer instead.
DICTIONARY_MAX_VALUES = 1 << 15
V1_MAX = 5
V2_MAX = 15
V3_STEPS = SIX_DECIMAL_STEPS  # v3 = an integer in [0, V3_STEPS] / 1e6: exactly 6 decimals
INT32_MAX = 2**31 - 1  # the most distinct values an int32 id column (id4, id5, id6) holds


@dataclass(frozen=True)
class IdColumn:
    name: str
    digits: int | None  # zero-padded digits of a string label; None for an integer column
    per_group: bool  # N/K distinct values (id3, id6) rather than K

    @property
    def arrow_type(self) -> pa.DataType:
        return pa.int32() if self.digits is None else pa.string()

    def size(self, rows: int, k: int) -> int:
        return max(1, rows // k) if self.per_group else k


ID_COLUMNS = (
    IdColumn("id1", 3, per_group=False),
    IdColumn("id2", 3, per_group=False),
    IdColumn("id3", 10, per_group=True),
    IdColumn("id4", None, per_group=False),
    IdColumn("id5", None, per_group=False),
    IdColumn("id6", None, per_group=True),
)
KEYS = tuple(column.name for column in ID_COLUMNS)  # the sort order of ``sorted``
VALUE_COLUMNS = ("v1", "v2", "v3")
# Hive partitioning makes a directory per value, so only the K-valued columns qualify.
PARTITION_COLUMNS = ("id1", "id2", "id4", "id5")


def _index_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest signed integer type holding 0 … size - 1 (int16 keeps dictionaries cheap)."""
    if size <= 1 << 15:
        return np.int16
    return np.int32 if size <= 1 << 31 else np.int64


def _label_bytes(numbers: np.ndarray, digits: int) -> np.ndarray:
    """Rows of ``id`` + each number zero-padded to ``digits`` (none may need more)."""
    out = np.empty((numbers.size, 2 + digits), dtype=np.uint8)
    out[:, 0], out[:, 1] = ord("i"), ord("d")
    rest = numbers.astype(np.int64)
    for position in range(digits + 1, 1, -1):
        rest, out[:, position] = np.divmod(rest, 10)
    out[:, 2:] += ord("0")
    return out


def id_labels(count: int, digits: int) -> pa.StringArray:
    """``id`` + 1 … ``count`` padded like ``sprintf("id%0<digits>d")``, without a per-value loop.

    Numbers wider than ``digits`` keep all their digits, as printf does, so the labels of more
    than 999 groups have different lengths and string order differs from numeric order.
    """
    data: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    low = 1
    while low <= count:
        width = max(digits, len(str(low)))
        high = min(count, 10**width - 1)
        data.append(_label_bytes(np.arange(low, high + 1), width).ravel())
        lengths.append(np.full(high - low + 1, 2 + width, dtype=np.int64))
        low = high + 1
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lengths), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{count:,} labels do not fit one Arrow string array")
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(np.concatenate(data))
    )


@lru_cache(maxsize=4)
def _offsets_table(width: int) -> np.ndarray:
    return np.arange(0, (MAX_ROW_GROUP_ROWS + 1) * width, width, dtype=np.int32)


def _fixed_offsets(rows: int, width: int) -> pa.Buffer:
    """Offsets of ``rows`` strings of ``width`` bytes: a slice of one cached table."""
    table = _offsets_table(width)
    if rows < len(table):
        return pa.py_buffer(table[: rows + 1])
    return pa.py_buffer(np.arange(0, (rows + 1) * width, width, dtype=np.int32))


class Vocabulary:
    """One id column's distinct values for one spec: which are null, their order, their labels.

    Rows carry category codes: 0 … ``categories - 1`` for the non-null values in sort order
    (string order for labels, numeric for integers) and ``categories`` for null, so sorting
    codes sorts rows with nulls last, and a null value is null wherever it is drawn.
    """

    def __init__(self, column: IdColumn, size: int, null_values: np.ndarray) -> None:
        self.column = column
        self.size = size
        self.nulls = len(null_values)
        self.categories = size - self.nulls
        self.code_dtype = _index_dtype(size)
        self.fixed_width = column.digits is not None and size < 10**column.digits
        self.dictionary = (
            column.digits is not None and not column.per_group and size <= DICTIONARY_MAX_VALUES
        )
        kept = np.ones(size, dtype=bool)
        kept[null_values] = False
        order = np.flatnonzero(kept)  # the value behind each category, in sort order
        if column.digits is not None and not self.fixed_width:
            order = order[pc.array_sort_indices(self._all_labels.take(order)).to_numpy()]
        self.order = order
        self.to_category: np.ndarray | None = None  # value -> category; None means the same
        if self.nulls or not np.array_equal(order, np.arange(size)):
            self.to_category = np.full(size, self.categories, dtype=self.code_dtype)
            self.to_category[order] = np.arange(self.categories, dtype=self.code_dtype)

    @property
    def probabilities(self) -> np.ndarray:
        """Chance that a row falls in each category (the null category last, if any)."""
        weights = np.full(self.categories + (self.nulls > 0), 1 / self.size)
        if self.nulls:
            weights[-1] = self.nulls / self.size
        return weights

    @cached_property
    def _all_labels(self) -> pa.StringArray:
        assert self.column.digits is not None
        return id_labels(self.size, self.column.digits)

    @cached_property
    def labels(self) -> pa.Array:
        """The label of each non-null category, in category order."""
        if self.column.digits is None:
            return arrow_array((self.order + 1).astype(np.int32))
        if self.to_category is None:
            return self._all_labels
        return self._all_labels.take(arrow_array(self.order))

    @cached_property
    def _int_labels(self) -> np.ndarray:
        return np.append(self.order + 1, 0).astype(np.int32)  # + a placeholder for null

    @cached_property
    def _fixed_labels(self) -> np.ndarray:
        assert self.column.digits is not None
        width = 2 + self.column.digits
        table = np.zeros((self.categories + 1, width), dtype=np.uint8)  # + a null placeholder
        table[: self.categories] = _label_bytes(self.order + 1, self.column.digits)
        return table.view(np.dtype((np.void, width))).ravel()

    def hive_label(self, code: int) -> str:
        return HIVE_NULL if code == self.categories else str(self.labels[code].as_py())

    def draw(self, draw: np.random.Generator, rows: int) -> np.ndarray:
        """Category codes of ``rows`` values drawn uniformly from the column's domain."""
        values = draw.integers(0, self.size, rows, dtype=self.code_dtype)
        return values if self.to_category is None else self.to_category[values]

    def render(self, codes: np.ndarray) -> pa.Array:
        """The column for ``codes``: strings (as an Arrow dictionary when small) or int32."""
        rows = len(codes)
        if self.categories == 0:
            return pa.nulls(rows, self.column.arrow_type)
        codes = codes.astype(self.code_dtype, copy=False)
        mask = codes == self.categories if self.nulls else None
        if self.column.digits is None:
            if self.to_category is None:
                return arrow_array(np.add(codes, 1, dtype=np.int32))
            return arrow_array(self._int_labels.take(codes), mask)
        if self.dictionary:
            indices = codes if mask is None else np.where(mask, 0, codes).astype(self.code_dtype)
            return pa.DictionaryArray.from_arrays(
                arrow_array(indices, mask), self.labels, safe=False
            )
        if self.fixed_width:
            width = 2 + self.column.digits
            data = self._fixed_labels.take(codes).view(np.uint8)
            bitmap, null_count = validity(mask)
            return pa.StringArray.from_buffers(
                rows, _fixed_offsets(rows, width), pa.py_buffer(data), bitmap, null_count
            )
        return self.labels.take(arrow_array(codes, mask))


@lru_cache(maxsize=4)
def _vocabularies(rows: int, k: int, null_pct: float, seed: int) -> dict[str, Vocabulary]:
    vocabularies = {}
    for index, column in enumerate(ID_COLUMNS):
        size = column.size(rows, k)
        nulls = rng(seed, NULLS_STREAM, index).choice(
            size, share(size, null_pct), replace=False, shuffle=False
        )
        vocabularies[column.name] = Vocabulary(column, size, nulls)
    return vocabularies


def vocabularies(spec: DatasetSpec) -> dict[str, Vocabulary]:
    """Each id column's vocabulary, cached per process (workers build theirs once)."""
    return _vocabularies(spec.rows, spec.k, spec.null_pct, spec.seed)


@dataclass(frozen=True, eq=False)
class Run:
    """Consecutive categories of one sort key, with how many rows take each of them."""

    column: str
    first: int  # category code of counts[0]
    counts: np.ndarray


@dataclass(frozen=True, eq=False)
class Chunk:
    """Rows drawn together: one row group, or part of one, in the dataset's write order."""

    index: int  # position in write order; seeds the chunk's random stream
    offset: int  # rows before it in write order; places the exact share of value nulls
    rows: int
    fixed: tuple[tuple[str, int], ...] = ()  # key columns held at one category code
    run: Run | None = None  # sorted chunks: the key the rows are laid out on, then sorted by


@dataclass(frozen=True)
class _Piece:
    rows: int
    fixed: tuple[tuple[str, int], ...]
    run: Run | None


def _streams(
    spec: DatasetSpec, vocab: dict[str, Vocabulary], draw: np.random.Generator
) -> Iterator[tuple[str, tuple[tuple[str, int], ...], int]]:
    """(directory prefix, fixed columns, rows) of each hive partition, or of the whole table."""
    column = spec.partition_by
    if column is None:
        yield "", (), spec.rows
        return
    counts = draw.multinomial(spec.rows, vocab[column].probabilities)
    for code, rows in enumerate(counts.tolist()):
        if rows:
            yield f"{column}={vocab[column].hive_label(code)}/", ((column, code),), rows


def _unsorted_files(
    fixed: tuple[tuple[str, int], ...], rows: int, per_file: int, per_chunk: int
) -> Iterator[list[_Piece]]:
    for sizes in split_rows(rows, per_file, per_chunk):
        yield [_Piece(size, fixed, None) for size in sizes]


def _sorted_pieces(
    vocab: dict[str, Vocabulary],
    draw: np.random.Generator,
    levels: tuple[str, ...],
    fixed: tuple[tuple[str, int], ...],
    rows: int,
    limit: int,
) -> Iterator[_Piece]:
    """Split ``rows`` on ``levels[0]`` into pieces of at most ``limit`` rows, in key order.

    A category with more than half the limit is split on the next level; runs of smaller
    categories whose first rows fall in the same half-limit window are merged, so a piece
    holds fewer than ``limit`` rows and all the drawing happens in vectorised counts.
    """
    column = levels[0]
    counts = draw.multinomial(rows, vocab[column].probabilities)
    half = max(1, limit // 2)
    big = counts > half
    starts = np.cumsum(counts) - counts
    window = starts // half
    cut = np.ones(len(counts), dtype=bool)
    cut[1:] = big[1:] | big[:-1] | (window[1:] != window[:-1])
    bounds = [*np.flatnonzero(cut).tolist(), len(counts)]
    for low, high in itertools.pairwise(bounds):
        total = int(counts[low:high].sum())
        if total == 0:
            continue
        if not big[low]:
            yield _Piece(total, fixed, Run(column, low, counts[low:high].copy()))
        elif len(levels) > 1:
            within = (*fixed, (column, low))
            yield from _sorted_pieces(vocab, draw, levels[1:], within, total, limit)
        else:  # every key equal: any split of these rows is sorted
            for at in range(0, total, limit):
                size = min(limit, total - at)
                yield _Piece(size, fixed, Run(column, low, np.array([size])))


def _pack(pieces: Iterator[_Piece], per_file: int) -> Iterator[list[_Piece]]:
    """Consecutive pieces into files of at most ``per_file`` rows (each piece fits one)."""
    batch: list[_Piece] = []
    rows = 0
    for piece in pieces:
        if batch and rows + piece.rows > per_file:
            yield batch
            batch, rows = [], 0
        batch.append(piece)
        rows += piece.rows
    if batch:
        yield batch


def plan(spec: DatasetSpec) -> list[FilePlan]:
    """Every part file and its chunks; all counts come from the seed, so the plan is the spec's."""
    vocab = vocabularies(spec)
    draw = rng(spec.seed, PLAN_STREAM)
    levels = tuple(key for key in KEYS if key != spec.partition_by)
    per_chunk = row_group_rows(spec.rows)  # a chunk is at most one row group
    limit = min(max(1, per_chunk // 2), spec.rows_per_file)  # sorting halves sort faster
    files: list[FilePlan] = []
    index = offset = 0
    for directory, fixed, rows in _streams(spec, vocab, draw):
        if spec.sorted:
            pieces = _sorted_pieces(vocab, draw, levels, fixed, rows, limit)
            batches = _pack(pieces, spec.rows_per_file)
        else:
            batches = _unsorted_files(fixed, rows, spec.rows_per_file, per_chunk)
        for number, batch in enumerate(batches):
            chunks = []
            for piece in batch:
                chunks.append(Chunk(index, offset, piece.rows, piece.fixed, piece.run))
                index += 1
                offset += piece.rows
            path = f"{directory}part-{number:05d}.parquet"
            files.append(FilePlan(path, sum(c.rows for c in chunks), tuple(chunks), NAME))
    return files


def sort_codes(codes: dict[str, np.ndarray], keys: list[str], radices: list[int]) -> None:
    """Sort the rows of ``codes`` by ``keys`` (codes below ``radices``) in place.

    The keys fold into one int64 whenever their radices allow, which sorts several times
    faster than ``np.lexsort``; the lexsort remains for vocabularies too large to fold.
    """
    if math.prod(radices) < 1 << 63:
        composite = codes[keys[0]].astype(np.int64)
        for key, radix in zip(keys[1:], radices[1:], strict=True):
            composite *= radix
            composite += codes[key]
        composite.sort()
        for key, radix in zip(keys[:0:-1], radices[:0:-1], strict=True):
            composite, digit = np.divmod(composite, radix)
            codes[key] = digit.astype(codes[key].dtype)
        codes[keys[0]] = composite.astype(codes[keys[0]].dtype)
    else:
        order = np.lexsort([codes[key] for key in reversed(keys)])
        for key in keys:
            codes[key] = codes[key][order]


def _value_columns(
    draw: np.random.Generator, rows: int, offset: int, null_pct: float
) -> dict[str, pa.Array]:
    values = {
        "v1": np.add(draw.integers(0, V1_MAX, rows, dtype=np.uint16), 1, dtype=np.int64),
        "v2": np.add(draw.integers(0, V2_MAX, rows, dtype=np.uint16), 1, dtype=np.int64),
        "v3": six_decimals(draw, rows),
    }
    # exactly null_pct% of each column's rows over the dataset
    return {
        name: arrow_array(array, exact_nulls(draw, rows, offset, null_pct))
        for name, array in values.items()
    }


def build_chunk(spec: DatasetSpec, chunk: Chunk) -> pa.Table:
    """The rows of ``chunk``, columns as stored (the hive partition column left out)."""
    vocab = vocabularies(spec)
    draw = rng(spec.seed, CHUNK_STREAM, chunk.index)
    fixed = dict(chunk.fixed)
    run = chunk.run
    codes: dict[str, np.ndarray] = {}
    for key in KEYS:
        if key == spec.partition_by:
            continue
        column = vocab[key]
        if key in fixed:
            codes[key] = np.full(chunk.rows, fixed[key], dtype=column.code_dtype)
        elif run is not None and key == run.column:
            categories = np.arange(run.first, run.first + len(run.counts), dtype=column.code_dtype)
            codes[key] = np.repeat(categories, run.counts)
        else:
            codes[key] = column.draw(draw, chunk.rows)
    if run is not None:
        keys = [key for key in KEYS[KEYS.index(run.column) :] if key in codes and key not in fixed]
        sort_codes(codes, keys, [vocab[key].categories + 1 for key in keys])
    columns = {key: vocab[key].render(key_codes) for key, key_codes in codes.items()}
    columns.update(_value_columns(draw, chunk.rows, chunk.offset, spec.null_pct))
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


class GroupByTable:
    """The ``groupby`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME
    takes: tuple[str, ...] = ()

    def validate(self, spec: DatasetSpec) -> None:
        if spec.k > spec.rows:
            raise InputError(f"k ({spec.k}) must not exceed rows ({spec.rows})")
        per_group = max(1, spec.rows // spec.k)
        if max(spec.k, per_group) > INT32_MAX:
            raise InputError(
                f"the groupby ids id4, id5 (K values) and id6 (N/K) are int32, at most "
                f"{INT32_MAX:,}, not K = {spec.k:,} and N/K = {per_group:,}: "
                + ("use a smaller --k" if spec.k > INT32_MAX else "use fewer rows or a larger --k")
            )
        if spec.partition_by is not None and spec.partition_by not in PARTITION_COLUMNS:
            raise InputError(
                f"cannot partition {self.name} by {spec.partition_by!r}; "
                f"choose one of {', '.join(PARTITION_COLUMNS)}"
            )

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        ids = [(column.name, column.arrow_type) for column in ID_COLUMNS]
        values = [("v1", pa.int64()), ("v2", pa.int64()), ("v3", pa.float64())]
        return pa.schema(ids + values)

    def tables(self, spec: DatasetSpec) -> list[SubTable]:
        return [SubTable(self.name, spec.rows, self.schema(spec), self.encodings(spec))]

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        return {}

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        return plan(spec)

    def build_chunk(self, spec: DatasetSpec, chunk: Chunk) -> pa.Table:
        return build_chunk(spec, chunk)

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        """Dictionary for the K-valued ids and v1, v2 (5 and 15 values), plain for the
        N/K-valued ids id3, id6 and for v3, at every scale."""
        stored = [column for column in ID_COLUMNS if column.name != spec.partition_by]
        ids: dict[str, Encoding] = {
            column.name: "plain" if column.per_group else "dictionary" for column in stored
        }
        return {**ids, "v1": "dictionary", "v2": "dictionary", "v3": "plain"}


TABLE = GroupByTable()
