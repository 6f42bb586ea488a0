"""DuckDB answers the ml questions in SQL (workloads/ml/sql.py); it ships no ML library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from workloads.ml import no_library
from workloads.ml.sql import POINTS, POINTS_SQL, sql_queries


def fetch(statement: Any) -> pa.Table:
    return statement.fetch()


@contextmanager
def hold(engine: Any, dataset: Any) -> Iterator[Callable[[str], Any]]:
    """The features in a temporary table of the connection (memory, spilled past its limit)."""
    engine.sql(dataset, POINTS_SQL).create(POINTS, temporary=True)
    try:
        yield engine.statement
    finally:
        engine.connection.execute(f"DROP TABLE IF EXISTS {POINTS}")


QUERIES = sql_queries(fetch, hold)

UNSUPPORTED = no_library("DuckDB", "SQL")
