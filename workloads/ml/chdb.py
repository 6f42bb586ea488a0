"""chDB answers the ml questions in SQL (workloads/ml/sql.py): ClickHouse knows the shared
statements' functions (``covar_samp`` is its alias of ``covarSamp``, ``least``, ``regr_slope``,
``regr_intercept``, ``regr_r2``). Each statement's few rows come back as an ``ArrowTable``, a
complete execution; the numpy-finished answer is then the result. chDB ships no ML library."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from workloads.ml import no_library
from workloads.ml.sql import sql_queries


def fetch(statement: Any) -> pa.Table:
    return statement.arrow()


def wrap(engine: Any, table: pa.Table) -> pa.Table:
    return table


QUERIES = sql_queries(fetch, wrap)

UNSUPPORTED = no_library(
    "chDB (ClickHouse)",
    "SQL",
    "stochasticLinearRegression is a gradient-descent fit with its own learning rate, "
    "not the least-squares answer",
)
