"""DataFusion answers the ml questions in SQL (workloads/ml/sql.py), as DuckDB does: its dialect
has ``covar_samp``, ``least``, ``regr_slope``, ``regr_intercept`` and ``regr_r2``. Each
statement's few rows come back as Arrow (a complete execution); the numpy-finished answer is
then a DataFusion DataFrame, which the adapter collects. DataFusion ships no ML library.

m4 is the canonical statement but for one edge case of ``regr_r2``: where v2 is constant and v1
varies, SQL (and PostgreSQL, DuckDB, Spark) define r2 = 1, and DataFusion 55 answers NULL. The
statement says the standard's case explicitly, over the same complete (v1, v2) pairs
(``regr_syy``, ``regr_sxx``), and otherwise takes ``regr_r2`` as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from workloads.ml import REGRESSION, REGRESSION_SQL, no_library
from workloads.ml.sql import POINTS, POINTS_SQL, sql_queries

R2_CANONICAL = "regr_r2(v2, v1) AS r2"
R2_STANDARD = (
    "CASE WHEN regr_syy(v2, v1) = 0 AND regr_sxx(v2, v1) > 0 THEN 1.0 "
    "ELSE regr_r2(v2, v1) END AS r2"
)
REGRESSION_STATEMENT = REGRESSION_SQL.replace(R2_CANONICAL, R2_STANDARD)
if REGRESSION_STATEMENT == REGRESSION_SQL:  # the canonical m4 changed: revisit the edge case
    raise RuntimeError(f"ml_m4's canonical SQL no longer has {R2_CANONICAL!r}")


def fetch(frame: Any) -> pa.Table:
    return frame.to_arrow_table()


def regression(engine: Any, dataset: Any) -> Any:
    return engine.sql(dataset, REGRESSION_STATEMENT)


@contextmanager
def hold(engine: Any, dataset: Any) -> Iterator[Callable[[str], Any]]:
    """The features cached as a memory table (``DataFrame.cache``), registered by name."""
    engine.context.register_table(POINTS, engine.sql(dataset, POINTS_SQL).cache())
    try:
        yield engine.context.sql
    finally:
        engine.context.deregister_table(POINTS)


QUERIES = {**sql_queries(fetch, hold), REGRESSION.name: regression}

UNSUPPORTED = no_library("DataFusion", "SQL")
