"""DuckDB answers the ml questions in SQL (workloads/ml/sql.py); it ships no ML library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from workloads.ml import no_library
from workloads.ml.sql import POINTS, POINTS_SQL, sql_queries


def fetch(relation: Any) -> pa.Table:
    return relation.to_arrow_table()


@contextmanager
def hold(engine: Any, dataset: Any) -> Iterator[Callable[[str], Any]]:
    """The features in a temporary table of the connection (memory, spilled past its limit)."""
    engine.sql(dataset, f"CREATE OR REPLACE TEMP TABLE {POINTS} AS {POINTS_SQL}")
    try:
        yield engine.connection.sql
    finally:
        engine.connection.execute(f"DROP TABLE IF EXISTS {POINTS}")


QUERIES = sql_queries(fetch, hold)

UNSUPPORTED = no_library("DuckDB", "SQL")
