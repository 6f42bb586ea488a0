"""Digests of results, and the checks that make a wrong answer a failure instead of a timing.

A digest is small enough to store and compare: the row count, the column names, the sum of
each numeric column and, when the result has at most ``FULL_RESULT_MAX_ROWS`` rows, the whole
result sorted by its keys. Engines may order rows and columns as they like; values must agree.

Two representation differences are not wrong answers. A float NaN in a result means "no
value" (pandas-based engines cannot say NULL), so it is read as NULL. And a sum over only NULL
values is NULL in SQL but 0 in the dataframe libraries: for the columns a workload declares as
sums, 0 is accepted where the reference has NULL, as db-benchmark's checks (which skip NULLs)
accept it too.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from workloads.spec import Workload

FULL_RESULT_MAX_ROWS = 10_000


@dataclass(frozen=True)
class Digest:
    rows: int
    columns: list[str]
    sums: dict[str, float | int | None]
    sorted_rows: list[list[Any]] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digest:
        return cls(**data)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary and view types as their plain value type, so every engine compares alike."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _plain(column.cast(kind.value_type))
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return column.cast(pa.string())
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)
    return column


def _sort_key(row: list[Any]) -> tuple:
    return tuple((value is None, value) for value in row)


def digest_table(table: pa.Table, workload: Workload) -> Digest:
    """Digest an engine's result; columns are taken in the workload's order when present."""
    names = (
        list(workload.columns)
        if set(table.column_names) == set(workload.columns)
        else table.column_names
    )
    columns = {name: _plain(table.column(name)) for name in names}
    sums: dict[str, float | int | None] = {}
    for name, column in columns.items():
        if (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_decimal(column.type)
        ):
            total = pc.sum(column).as_py()
            sums[name] = float(total) if pa.types.is_decimal(column.type) else total
    sorted_rows = None
    if table.num_rows <= FULL_RESULT_MAX_ROWS:
        rows = (
            [list(row) for row in zip(*(col.to_pylist() for col in columns.values()), strict=True)]
            if columns
            else []
        )
        key_positions = [names.index(key) for key in workload.keys if key in names]
        sorted_rows = sorted(rows, key=lambda row: _sort_key([row[i] for i in key_positions]))
    return Digest(rows=table.num_rows, columns=names, sums=sums, sorted_rows=sorted_rows)


def _close(actual: Any, expected: Any, rel_tol: float) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return math.isclose(actual, expected, rel_tol=rel_tol, abs_tol=1e-12)


def compare(
    actual: Digest, expected: Digest, *, rel_tol: float, sum_columns: Collection[str] = ()
) -> str | None:
    """``None`` when the answer is right, else a one-line description of the first failed check.

    In ``sum_columns`` an engine's 0 matches a reference NULL (the sum over only NULLs).
    """
    if sorted(actual.columns) != sorted(expected.columns):
        return f"columns {actual.columns} differ from the expected {expected.columns}"
    if actual.rows != expected.rows:
        return f"{actual.rows} rows, expected {expected.rows}"

    def agrees(name: str, got: Any, want: Any) -> bool:
        empty_sum = want is None and got == 0 and name in sum_columns
        return empty_sum or _close(got, want, rel_tol)

    for name, want in expected.sums.items():
        got = actual.sums.get(name)
        if not agrees(name, got, want):
            return f"sum of {name} is {got!r}, expected {want!r} (relative tolerance {rel_tol:g})"
    if actual.sorted_rows is not None and expected.sorted_rows is not None:
        for position, (got_row, want_row) in enumerate(
            zip(actual.sorted_rows, expected.sorted_rows, strict=True)
        ):
            for name, got, want in zip(expected.columns, got_row, want_row, strict=True):
                if not agrees(name, got, want):
                    return (
                        f"row {position} (sorted by key) column {name} is {got!r}, "
                        f"expected {want!r}"
                    )
    return None
