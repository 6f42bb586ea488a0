"""The ``window`` table: time series in groups, for window functions and as-of questions.

N rows of

======  ==========================================================  =============
column  values                                                      type
======  ==========================================================  =============
g       group key 1 … G, uniform, G = max(1, N // 1000)             int64
ts      uniform microseconds within the year 2024 (naive, UTC)      timestamp[us]
id      1 … N, each once, in a seeded order                         int64
x       lognormal(0, 1): positive; exactly ``null_pct``% null       float64
y       standard normal                                             float64
======  ==========================================================  =============

A group holds about 1000 rows spread over 3.2e13 microseconds, so two rows of one group share
a timestamp with probability about 1.6e-8 per group: ties happen, rarely, as in real data
(``id`` breaks them). The ids are a seeded :class:`~datagen.permutation.Permutation` of the
row positions, so they are unique without any chunk knowing another's, and not sorted (no
row-group statistics hand an engine the order for free). Every column is plain-encoded: g has
N/1000 distinct values, which a dictionary would serve at 1e7 rows and not at 1e10.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array, exact_nulls
from datagen.dataset import DatasetSpec
from datagen.permutation import Permutation
from datagen.table import CHUNK_STREAM, PLAN_STREAM, Encoding, RowsTable, Span, rng

NAME = "window"
ROWS_PER_GROUP = 1000
YEAR_START_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 10**6
YEAR_US = 366 * 86_400 * 10**6  # 2024 is a leap year
TIMESTAMP = pa.timestamp("us")
SCHEMA = pa.schema(
    {"g": pa.int64(), "ts": TIMESTAMP, "id": pa.int64(), "x": pa.float64(), "y": pa.float64()}
)


def groups(rows: int) -> int:
    return max(1, rows // ROWS_PER_GROUP)


@lru_cache(maxsize=4)
def _ids(rows: int, seed: int) -> Permutation:
    return Permutation(rows, rng(seed, PLAN_STREAM))


class WindowTable(RowsTable):
    """The ``window`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME
    refused = ("k", "sorted", "partition_by")

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        return SCHEMA

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        return dict.fromkeys(self.schema(spec).names, "plain")

    def build_chunk(self, spec: DatasetSpec, chunk: Span) -> pa.Table:
        draw = rng(spec.seed, CHUNK_STREAM, chunk.index)
        rows = chunk.rows
        group = draw.integers(1, groups(spec.rows) + 1, rows, dtype=np.int64)
        ts = draw.integers(0, YEAR_US, rows, dtype=np.int64)
        ts += YEAR_START_US
        ids = _ids(spec.rows, spec.seed)(np.arange(chunk.offset, chunk.offset + rows))
        ids += 1
        x = draw.lognormal(0.0, 1.0, rows)
        y = draw.standard_normal(rows)
        nulls = exact_nulls(draw, rows, chunk.offset, spec.null_pct)
        arrays = [
            arrow_array(group),
            arrow_array(ts, type=TIMESTAMP),
            arrow_array(ids),
            arrow_array(x, nulls),
            arrow_array(y),
        ]
        return pa.Table.from_arrays(arrays, schema=SCHEMA)


TABLE = WindowTable()
