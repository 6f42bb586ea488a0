"""A workload is one question, defined once: what it reads, what it asks, how it is checked.

Every engine answers the same :class:`Workload`; the canonical SQL states the question without
ambiguity, and ``reference`` answers it independently with pandas (none of the engines under
test), so that a wrong answer is caught rather than timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# The canonical SQL reads the dataset as this table name.
TABLE_ALIAS = "x"


@dataclass(frozen=True)
class Workload:
    name: str  # "<family>_<id>", e.g. "groupby_q1"
    family: str  # "groupby", later "join", "window", "ml"
    table: str  # which generated table the question reads
    question: str  # one plain sentence for people
    sql: str  # the canonical statement, over ``x`` (or the dataset's own table names)
    columns: tuple[str, ...]  # the result's columns, in order
    keys: tuple[str, ...]  # the columns that identify a result row (ties: all columns)
    input_columns: tuple[str, ...]  # what the reference reads; empty: every column
    # The independent answer: given the input as a pandas DataFrame, or, when ``reads`` names
    # tables of a dataset of several, a dict of one DataFrame per table.
    reference: Callable[[Any], pd.DataFrame]
    rel_tol: float = 1e-9  # sums and floats within this relative tolerance
    # For aggregation questions: (result column, function) pairs, function one of
    # "sum", "mean" and "count". Dataframe engines whose idiomatic API takes a mapping of
    # aggregations build their call from it; questions that do not fit one write their own.
    aggregations: tuple[tuple[str, str], ...] = ()
    reads: tuple[str, ...] = ()  # tables of a dataset of several (join: x, small, ...)
    # A check beyond the comparison with the reference (true coefficients, an inertia
    # recomputed independently): given the result, the dataset and the reference answer's
    # table, a problem or None. Untimed.
    check: Callable[[pa.Table, Any, pa.Table], str | None] | None = None
    # The share of the suite's scale this question runs at under asv and `bakeoff bench`
    # (`bakeoff run` always takes --rows as given); see suite_rows.
    suite_share: float = 1.0
    # A write workload (etl): the engine writes its result as Parquet into a fresh directory
    # the harness names, hive-partitioned by ``partition_by``; the harness reads it back
    # (bakeoff.output). ``appends``: the reference's partitions but the last are in place
    # before the run (written untimed by the harness), and the run must add only the last.
    writes: bool = False
    partition_by: tuple[str, ...] = ()
    appends: bool = False
    file_format: str = "parquet"  # the input files' format (etl_e5 reads CSV)

    def suite_rows(self, rows: int) -> int:
        """The rows this question reads when the suite runs at ``rows``."""
        return max(1, round(rows * self.suite_share))

    @property
    def sum_columns(self) -> tuple[str, ...]:
        """Result columns that are sums (an empty sum: see :mod:`bakeoff.validation`)."""
        return tuple(column for column, how in self.aggregations if how == "sum")

    def __post_init__(self) -> None:
        if not self.name.startswith(f"{self.family}_"):
            raise ValueError(f"workload {self.name!r} must be named {self.family}_<id>")
        missing = set(self.keys) - set(self.columns)
        if missing:
            raise ValueError(f"{self.name}: keys {sorted(missing)} are not result columns")
