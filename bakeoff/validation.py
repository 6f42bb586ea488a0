"""The checks that make a wrong answer a failure instead of a timing.

An engine's result is compared with the reference result itself (computed independently, see
:mod:`bakeoff.reference`): both are normalized, sorted by the workload's keys (then by every
other column, so ties sort alike) and compared column by column, value by value, within the
workload's tolerance. Sums and counts alone would let a value attached to the wrong key pass.

Results larger than ``FULL_COMPARE_MAX_ROWS`` are compared by their :class:`Digest` instead:
row count, column sums and *keyed checksums*, the sum over rows of each value times a weight
drawn from a hash of the row's key. A keyed checksum cannot cancel out: moving a value to
another key changes its weight, and so the checksum, unless two keys' weights happen to agree
to the tolerance (a chance of about 1e-9 per value). Every record carries the digest, so runs
without a reference can still be compared with each other.

Two representation differences are not wrong answers. A float NaN in a result means "no
value" (pandas-based engines cannot say NULL), so it is read as NULL. And a sum over only NULL
values is NULL in SQL but 0 in the dataframe libraries: for the columns a workload declares as
sums, 0 is accepted where the reference has NULL, as db-benchmark's checks (which skip NULLs)
accept it too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workloads.spec import Workload

# Up to this many result rows the whole result is compared value by value.
FULL_COMPARE_MAX_ROWS = 10_000_000
# The absolute floor of every float comparison: values this close to zero are equal.
ABS_TOL = 1e-12

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Digest:
    """A small, storable fingerprint of a result; enough to compare results of any size."""

    rows: int
    columns: list[str]
    sums: dict[str, float | int | None]
    # column -> [sum of value x key weight, sum of |that|, exact checksum of whole numbers]
    keyed: dict[str, list[float | int | None]]
    nulls: dict[str, int] = field(default_factory=dict)  # NULLs (and NaNs) per column

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digest:
        return cls(**data)


# -- normalizing -----------------------------------------------------------------------------
def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary and view types as their plain value type, NaN as NULL, one chunk."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _plain(column.cast(kind.value_type))
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return _plain(column.cast(pa.string()))
    if pa.types.is_decimal(kind):
        return _plain(column.cast(pa.float64()))
    if pa.types.is_timestamp(kind) and kind.unit != "us":  # pandas' ns, Spark's us, ...
        return _plain(column.cast(pa.timestamp("us", kind.tz)))
    if pa.types.is_floating(kind) and pc.any(pc.is_nan(column)).as_py():
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)
    return contiguous(column)


def contiguous(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array of a column's values; a column of one chunk is that chunk, not a copy (Arrow's
    ``combine_chunks`` copies even one chunk: 1.1 s for a 9M-row join result's 11 columns)."""
    if isinstance(column, pa.Array):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def normalize(table: pa.Table, workload: Workload) -> pa.Table:
    """The result in the workload's column order, plain types, sorted by its keys.

    Rows are sorted by the keys first and then by every other column, so two correct results
    line up row for row even where the keys do not identify a row on their own.
    """
    names = (
        list(workload.columns)
        if set(table.column_names) == set(workload.columns)
        else table.column_names
    )
    plain = pa.table({name: _plain(table.column(name)) for name in names})
    keys = [key for key in workload.keys if key in names]
    order = keys + [name for name in names if name not in keys]
    if not order or plain.num_rows == 0:
        return plain
    return take_rows(plain, row_order(plain, order, keys=len(keys)))


def take_rows(table: pa.Table, indices: pa.Array) -> pa.Table:
    """``table.take(indices)``, a column per thread: Arrow takes a table's columns one after
    another."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        columns = list(pool.map(lambda column: _take(column, indices), table.columns))
    return pa.Table.from_arrays(columns, names=table.column_names)


# A string column whose first rows hold at most this share of distinct values is taken through
# its dictionary.
_FEW_DISTINCT_SHARE = 0.5
_DISTINCT_SAMPLE_ROWS = 65_536


def _take(column: pa.ChunkedArray | pa.Array, indices: pa.Array) -> pa.Array:
    """Taking strings in a random order is bound by memory latency (0.84 s for a 9M-row column
    here). Where the values repeat (keys such as id4), encoding them and taking the small
    integer codes, then decoding from a dictionary that stays in cache, takes 0.35 s; a column of
    distinct strings would pay 3 s to encode, so the first rows decide."""
    column = contiguous(column)
    if not (pa.types.is_string(column.type) or pa.types.is_binary(column.type)):
        return column.take(indices)
    sample = column.slice(0, _DISTINCT_SAMPLE_ROWS)
    if pc.count_distinct(sample, mode="all").as_py() > _FEW_DISTINCT_SHARE * len(sample):
        return column.take(indices)
    return pc.dictionary_encode(column).take(indices).cast(column.type)


# -- sorting -----------------------------------------------------------------------------------
# A code that a 64-bit composite of ranks can hold: past it, the composite so far is re-ranked.
_CODE_LIMIT = 1 << 64
# An integer column whose values span at most this many times its rows is ranked by its offset
# from the minimum, with no sort.
_OFFSET_SPAN_PER_ROW = 4


def _order_codes(column: pa.Array) -> tuple[np.ndarray, int] | None:
    """Per row, a code that sorts as the column's values do (ascending, NULL last), and how
    many codes there are; ``None`` where only a sort of the rows would rank the column (floats,
    integers and times spread wide), which Arrow's own sort does better.

    Strings are ranked through their dictionary (a sort of the distinct values, not of the
    rows: Arrow compares a row's strings byte by byte at every step of its sort)."""
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        encoded = pc.dictionary_encode(column)
        count = len(encoded.dictionary)
        rank = np.empty(count + 1, dtype=np.uint64)  # and a last slot for NULL
        rank[pc.sort_indices(encoded.dictionary).to_numpy()] = np.arange(count, dtype=np.uint64)
        codes = rank[pc.fill_null(encoded.indices, count).to_numpy()]
    else:
        if pa.types.is_date32(kind) or pa.types.is_boolean(kind):
            column = column.cast(pa.int32())
        if not pa.types.is_integer(column.type):
            return None
        low, high = (value.as_py() for value in pc.min_max(column).values())
        span = 0 if low is None else high - low + 1
        if span > _OFFSET_SPAN_PER_ROW * len(column) + 1:
            return None
        values = pc.fill_null(column.cast(pa.int64()), low or 0).to_numpy()
        codes, count = (values - (low or 0)).astype(np.uint64), span
    if nulls is not None:
        codes[nulls] = count
        count += 1
    return codes, max(count, 1)


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    distinct, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.uint64), len(distinct)


def _sorted_order(codes: np.ndarray, size: int) -> tuple[np.ndarray, bool]:
    """The indices that sort ``codes`` (each below ``size``), and whether they are distinct.
    Distinct codes of a small range are placed by one scatter, a quarter of a sort's time."""
    if size <= _OFFSET_SPAN_PER_ROW * len(codes) + 1:
        slots = np.full(size, -1, dtype=np.int64)
        slots[codes] = np.arange(len(codes))
        order = slots[slots >= 0]
        if len(order) == len(codes):
            return order, True
    order = np.argsort(codes)
    ranked = codes[order]
    return order, not np.any(ranked[1:] == ranked[:-1])


def _arrow_order(columns: list[pa.Array]) -> pa.Array:
    table = pa.Table.from_arrays(columns, names=[str(i) for i in range(len(columns))])
    return pc.sort_indices(table, [(name, "ascending", "at_end") for name in table.column_names])


def row_order(table: pa.Table, names: list[str], *, keys: int = 0) -> pa.Array:
    """The indices that sort ``table`` by ``names`` (ascending, NULL last), as
    ``pyarrow.compute.sort_indices`` does, faster where a result's first ``keys`` columns are
    strings or integers.

    Those key columns become rank codes, combined into one 64-bit mixed-radix number that one
    integer sort orders. When the keys tell every row apart (the usual result: one row per
    key), the other columns cannot change the order and are not looked at; otherwise Arrow
    sorts by that number and then by the other columns, which it compares only on ties."""
    columns = [contiguous(table.column(name)) for name in names]
    ranked = [_order_codes(column) for column in columns[:keys]]
    if not keys or any(codes is None for codes in ranked):
        return _arrow_order(columns)
    composite, size = np.zeros(table.num_rows, dtype=np.uint64), 1
    for codes, count in ranked:
        if size * count >= _CODE_LIMIT:
            composite, size = _dense(composite)
        composite = composite * np.uint64(count) + codes
        size *= count
    order, distinct = _sorted_order(composite, size)
    if distinct or keys == len(names):  # rows still tied are equal in every column
        return pa.array(order)
    return _arrow_order([pa.array(composite), *columns[keys:]])


# -- keyed checksums ---------------------------------------------------------------------------
def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijective scramble of uint64 values (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _string_hashes(column: pa.Array) -> np.ndarray:
    """A hash of each string's bytes, vectorized: position-weighted bytes, summed per string."""
    column = pc.fill_null(column, "")
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets)
    position = np.arange(len(data), dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], lengths)
    with np.errstate(over="ignore"):
        parts = (data.astype(np.uint64) + np.uint64(1)) * _mix(position.astype(np.uint64))
    sums = np.zeros(len(column), dtype=np.uint64)
    nonempty = lengths > 0
    if len(data):
        sums[nonempty] = np.add.reduceat(parts, (offsets[:-1] - offsets[0])[nonempty])
    return _mix(sums ^ lengths.astype(np.uint64))


def _column_hashes(column: pa.Array) -> np.ndarray:
    if pa.types.is_string(column.type):  # each distinct string hashed once
        encoded = pc.dictionary_encode(column)
        distinct = np.append(_string_hashes(encoded.dictionary), np.uint64(0))  # NULL: below
        hashes = distinct[pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy()]
    elif pa.types.is_floating(column.type):
        hashes = _mix(pc.fill_null(column, 0.0).to_numpy(zero_copy_only=False).view(np.uint64))
    elif pa.types.is_date32(column.type):  # days since the epoch (etl's partition column)
        return _column_hashes(column.cast(pa.int32()))
    elif pa.types.is_temporal(column.type) or pa.types.is_boolean(column.type):
        return _column_hashes(column.cast(pa.int64()))
    else:
        hashes = _mix(pc.fill_null(column.cast(pa.int64()), 0).to_numpy().view(np.uint64))
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    hashes[nulls] = np.uint64(0x5BD1E995)  # NULL is one key value of its own
    return hashes


def key_hashes(table: pa.Table, keys: list[str]) -> np.ndarray:
    """A 64-bit hash per row of the row's key values."""
    combined = np.full(table.num_rows, 0x2545F4914F6CDD1D, dtype=np.uint64)
    for key in keys:
        with np.errstate(over="ignore"):
            hashes = _column_hashes(contiguous(table.column(key)))
            combined = _mix(combined * np.uint64(31) + hashes)
    return combined


def _exact_checksum(values: np.ndarray, hashes: np.ndarray) -> int | None:
    """For whole numbers (as ints or floats), the sum of value x key hash modulo 2**64: exact,
    so one value moved between rows always shows, however many rows there are."""
    if not np.all(np.abs(values) < 2**53) or not np.array_equal(values, np.round(values)):
        return None
    with np.errstate(over="ignore"):
        return int((values.astype(np.int64).view(np.uint64) * hashes).sum(dtype=np.uint64))


def digest_table(table: pa.Table, workload: Workload, *, normalized: bool = False) -> Digest:
    """Digest a result (an engine's or the reference's) for storing and comparing;
    ``normalized``: the table is already as :func:`normalize` leaves it."""
    if not normalized:
        table = normalize(table, workload)
    keys = [key for key in workload.keys if key in table.column_names]
    hashes = key_hashes(table, keys)
    weights = 1.0 + (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # in [1, 2)
    sums: dict[str, float | int | None] = {}
    keyed: dict[str, list[float | int | None]] = {}
    nulls = {name: table.column(name).null_count for name in table.column_names}
    for name in table.column_names:
        column = table.column(name)
        if not _is_numeric(column.type):
            continue
        sums[name] = pc.sum(column).as_py()
        if name in keys:
            continue
        values = pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        weighted = values * weights
        exact = _exact_checksum(values, hashes)
        keyed[name] = [float(weighted.sum()), float(np.abs(weighted).sum()), exact]
    return Digest(
        rows=table.num_rows, columns=table.column_names, sums=sums, keyed=keyed, nulls=nulls
    )


# -- comparing ---------------------------------------------------------------------------------
def _close(actual: Any, expected: Any, rel_tol: float) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=rel_tol, abs_tol=ABS_TOL)


def _empty_sum(name: str, got: Any, want: Any, sum_columns: Collection[str]) -> bool:
    return want is None and got == 0 and name in sum_columns


def compare_digests(
    actual: Digest, expected: Digest, *, rel_tol: float, sum_columns: Collection[str] = ()
) -> str | None:
    """``None`` when the digests agree, else a one-line description of the first difference."""
    if sorted(actual.columns) != sorted(expected.columns):
        return f"columns {actual.columns} differ from the expected {expected.columns}"
    if actual.rows != expected.rows:
        return f"{actual.rows} rows, expected {expected.rows}"
    for name, want in expected.nulls.items():
        got = actual.nulls.get(name)
        if got != want and not (name in sum_columns and got is not None and got < want):
            return f"{got} NULLs in {name}, expected {want}"
    for name, want in expected.sums.items():
        got = actual.sums.get(name)
        if not (_empty_sum(name, got, want, sum_columns) or _close(got, want, rel_tol)):
            return f"sum of {name} is {got!r}, expected {want!r} (relative tolerance {rel_tol:g})"
    for name, (want, scale, want_exact) in expected.keyed.items():
        got, _, got_exact = actual.keyed.get(name, [math.nan, 0.0, None])
        if want_exact is not None and got_exact is not None:  # whole numbers on both sides
            agrees = got_exact == want_exact
        else:  # relative to the sum of magnitudes, so a checksum near 0 is not held to 1e-9 of 0
            agrees = abs(got - want) <= rel_tol * max(scale, 1.0) + ABS_TOL
        if not agrees:
            return (
                f"keyed checksum of {name} is {got!r}, expected {want!r}: values are attached "
                f"to the wrong keys"
            )
    return None


def _mismatches(got: pa.Array, want: pa.Array, rel_tol: float, empty_sum_ok: bool) -> pa.Array:
    """A boolean array, true in the rows where ``got`` and ``want`` disagree (Arrow kernels
    only: no copy to Python or NumPy)."""
    numeric = _is_numeric(got.type) and _is_numeric(want.type)
    if numeric and pa.types.is_integer(got.type) and pa.types.is_integer(want.type):
        equal = pc.equal(got.cast(pa.int64()), want.cast(pa.int64()))
    elif numeric:  # as numpy.isclose: |a - b| <= ABS_TOL + rel_tol * |b|
        a, b = got.cast(pa.float64()), want.cast(pa.float64())
        bound = pc.add(pc.multiply(pc.abs(b), rel_tol), ABS_TOL)
        equal = pc.less_equal(pc.abs(pc.subtract(a, b)), bound)
    else:
        if got.type != want.type:
            got, want = got.cast(pa.string()), want.cast(pa.string())
        equal = pc.equal(got, want)
    got_null, want_null = got.is_null(), want.is_null()
    ok = pc.or_(pc.and_(got_null, want_null), pc.fill_null(equal, False))
    if empty_sum_ok and numeric:  # an empty sum: 0 where the reference has NULL
        zero = pc.fill_null(pc.equal(got.cast(pa.float64()), 0.0), False)
        ok = pc.or_(ok, pc.and_(want_null, zero))
    return pc.invert(ok)


def compare_tables(
    actual: pa.Table, expected: pa.Table, workload: Workload, *, normalized: bool = False
) -> str | None:
    """``None`` when two results agree value by value, else where they first differ.
    ``normalized``: both are already as :func:`normalize` leaves them (sorting 1e7 rows of
    ten columns takes seconds; a run sorts its result once). A column identical to the
    reference's (the usual case for keys and counts) is passed by one buffer comparison."""
    got, want = (
        (actual, expected)
        if normalized
        else (normalize(actual, workload), normalize(expected, workload))
    )
    if sorted(got.column_names) != sorted(want.column_names):
        return f"columns {got.column_names} differ from the expected {want.column_names}"
    if got.num_rows != want.num_rows:
        return f"{got.num_rows} rows, expected {want.num_rows}"
    for name in want.column_names:
        got_column = contiguous(got.column(name))
        want_column = contiguous(want.column(name))
        if got_column.equals(want_column):
            continue
        bad = _mismatches(got_column, want_column, workload.rel_tol, name in workload.sum_columns)
        count = pc.sum(bad).as_py() or 0
        if count:
            row = pc.index(bad, True).as_py()
            key = {k: want.column(k)[row].as_py() for k in workload.keys if k in want.column_names}
            return (
                f"{count} of {want.num_rows} values of {name} differ; the first, at key "
                f"{key} (row {row} sorted by key), is {got_column[row].as_py()!r}, "
                f"expected {want_column[row].as_py()!r}"
            )
    return None


def compare(
    actual: pa.Table, expected: pa.Table | Digest, workload: Workload, *, normalized: bool = False
) -> str | None:
    """Compare an engine's result with the reference: value by value when the reference result
    is at hand and at most ``FULL_COMPARE_MAX_ROWS`` rows, else by digests. ``normalized``:
    both tables are already as :func:`normalize` leaves them."""
    if isinstance(expected, pa.Table) and expected.num_rows <= FULL_COMPARE_MAX_ROWS:
        return compare_tables(actual, expected, workload, normalized=normalized)
    want = (
        expected
        if isinstance(expected, Digest)
        else digest_table(expected, workload, normalized=normalized)
    )
    return compare_digests(
        digest_table(actual, workload, normalized=normalized),
        want,
        rel_tol=workload.rel_tol,
        sum_columns=workload.sum_columns,
    )
