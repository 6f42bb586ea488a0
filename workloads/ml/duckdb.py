"""DuckDB answers the ml questions in SQL (workloads/ml/sql.py); it ships no ML library."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from workloads.ml import no_library
from workloads.ml.sql import sql_queries


def fetch(relation: Any) -> pa.Table:
    return relation.to_arrow_table()


def wrap(engine: Any, table: pa.Table) -> Any:
    return engine.connection.from_arrow(table)


QUERIES = sql_queries(fetch, wrap)

UNSUPPORTED = no_library("DuckDB", "SQL")
