"""The ml questions in SQL, for the engines that answer in SQL (DuckDB, Spark, DataFusion, chDB,
Sail).

Both run the same statements (workloads/ml/__init__.py): the covariances with ``covar_samp``,
the moments with ``sum``, each Lloyd iteration as one statement with the centres as DOUBLE
literals, and the regression with ``regr_slope``/``regr_intercept``/``regr_r2``. An engine
gives two functions: ``fetch`` (a statement's few rows as Arrow, an engine action inside the
timed region) and ``hold`` (for k-means: the features read from Parquet once into the engine's
own memory as the table ``POINTS``, as an iterative algorithm is written on every engine, and a
function that runs a statement over it, dropped when the iterations end). The answer finished
in numpy from the fetched aggregates is returned as an Arrow table, which the adapters keep as
it is: nothing of it is left to compute, and copying a few rows back into the engine (a Spark
DataFrame written to ``noop``) would time the harness, not the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa

from workloads import canonical_sql_queries
from workloads.ml import KMEANS, OLS, PCA, REGRESSION, covariance_sql, lloyd_sql, moments_sql
from workloads.ml.common import (
    FEATURES,
    PAIRS,
    covariance_matrix,
    initial_centres,
    lloyd,
    ols_from_moments,
    pca_from_covariance,
)
from workloads.spec import TABLE_ALIAS

Fetch = Callable[[Any], pa.Table]
Hold = Callable[[Any, Any], AbstractContextManager[Callable[[str], Any]]]

POINTS = "bakeoff_points"
POINTS_SQL = f"SELECT {', '.join(FEATURES)} FROM {TABLE_ALIAS}"


def pca(fetch: Fetch, engine: Any, dataset: Any) -> pa.Table:
    row = fetch(engine.sql(dataset, covariance_sql())).to_pylist()[0]
    cov = covariance_matrix({(a, b): row[f"{a}_{b}"] for a, b in PAIRS})
    return pca_from_covariance(cov)


def ols(fetch: Fetch, engine: Any, dataset: Any) -> pa.Table:
    return ols_from_moments(fetch(engine.sql(dataset, moments_sql())).to_pylist()[0])


def kmeans(fetch: Fetch, hold: Hold, engine: Any, dataset: Any) -> pa.Table:
    with hold(engine, dataset) as run:
        centres = lloyd(
            lambda centres: fetch(run(lloyd_sql(centres, POINTS))), initial_centres(dataset)
        )
    return centres


def sql_queries(fetch: Fetch, hold: Hold) -> dict[str, Callable[[Any, Any], Any]]:
    """QUERIES for a SQL engine: m4 is its canonical statement, m1-m3 finish in numpy."""

    def bind(function: Callable[..., Any]) -> Callable[[Any, Any], Any]:
        return lambda engine, dataset: function(fetch, engine, dataset)

    def kmeans_query(engine: Any, dataset: Any) -> Any:
        return kmeans(fetch, hold, engine, dataset)

    return {
        PCA.name: bind(pca),
        OLS.name: bind(ols),
        KMEANS.name: kmeans_query,
        **canonical_sql_queries((REGRESSION,)),
    }
