"""chDB answers the ml questions in SQL (workloads/ml/sql.py): ClickHouse knows the shared
statements' functions (``covar_samp`` is its alias of ``covarSamp``, ``least``, ``regr_slope``,
``regr_intercept``, ``regr_r2``). Each statement's few rows come back as an ``ArrowTable``, a
complete execution; the numpy-finished answer is then the result. chDB ships no ML library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from workloads.ml import no_library
from workloads.ml.sql import POINTS, POINTS_SQL, sql_queries


def fetch(statement: Any) -> pa.Table:
    return statement.arrow()


@contextmanager
def hold(engine: Any, dataset: Any) -> Iterator[Callable[[str], Any]]:
    """The features in a ``Memory`` table of the session."""
    points = engine.sql(dataset, POINTS_SQL)
    engine.session.query(f"CREATE OR REPLACE TABLE {POINTS} ENGINE = Memory AS {points.sql}")
    try:
        yield engine.statement
    finally:
        engine.session.query(f"DROP TABLE IF EXISTS {POINTS}")


QUERIES = sql_queries(fetch, hold)

UNSUPPORTED = no_library(
    "chDB (ClickHouse)",
    "SQL",
    "stochasticLinearRegression is a gradient-descent fit with its own learning rate, "
    "not the least-squares answer",
)
