"""Daft answers the ml questions with DataFrame aggregations: sums of products for the
covariances and the moments, one ``groupby`` per Lloyd iteration, and grouped moments for the
regression; the few hundred numbers that come back are finished in numpy
(workloads/ml/common.py). Daft has no covariance aggregate, so the covariance comes from the
same one pass of moments as OLS (the features have mean 0, so nothing cancels). Daft ships no
ML library.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from shared.lazy import lazy_import
from workloads.ml import KMEANS, OLS, PCA, REGRESSION, no_library
from workloads.ml.common import (
    FEATURES,
    MOMENTS,
    PAIRS,
    TARGET,
    covariance_matrix,
    initial_centres,
    lloyd,
    ols_from_moments,
    pca_from_covariance,
    squared_distance,
)

daft = lazy_import("daft")
functions = lazy_import("daft.functions")


def _float(expression: Any) -> Any:
    return expression.cast(daft.DataType.float64())


def _moment(name: str, a: str | None, b: str | None) -> Any:
    """sum(a * b) over the rows; ``n`` (both None) counts them."""
    if a is None and b is None:
        return _float(daft.lit(1).count("all")).alias(name)
    product = daft.col(a) if b is None else daft.col(b) if a is None else daft.col(a) * daft.col(b)
    return product.sum().alias(name)


def _moments(
    engine: Any, dataset: Any, terms: tuple[tuple[str, str | None, str | None], ...]
) -> dict[str, float]:
    """One pass over the rows: the sums ``terms`` names, as a dict."""
    return engine.scan(dataset).agg(*(_moment(*term) for term in terms)).to_pylist()[0]


def pca(engine: Any, dataset: Any) -> Any:
    """Sample covariance (ddof 1) from sums: (s_ab - s_a s_b / n) / (n - 1)."""
    sums = _moments(engine, dataset, tuple(t for t in MOMENTS if TARGET not in t[1:]))
    n = sums["n"]
    cov = covariance_matrix(
        {
            (a, b): (sums[f"s_{a}_{b}"] - sums[f"s_{a}"] * sums[f"s_{b}"] / n) / (n - 1)
            for a, b in PAIRS
        }
    )
    return pca_from_covariance(cov)


def ols(engine: Any, dataset: Any) -> Any:
    return ols_from_moments(_moments(engine, dataset, MOMENTS))


def _first_nearest(count: int) -> Any:
    """The first of the distance columns d0.. at their minimum."""
    distances = [daft.col(f"d{k}") for k in range(count)]
    smallest = functions.columns_min(*distances)
    nearest = functions.when(distances[0] == smallest, 0)
    for k in range(1, count):
        nearest = nearest.when(distances[k] == smallest, k)
    return nearest.otherwise(None).alias("cluster")


def _step(points: Any, centres: np.ndarray) -> pa.Table:
    """One Lloyd iteration over the points in memory: the first nearest centre of each row,
    then the clusters' means."""
    distances = [squared_distance(daft.col, c).alias(f"d{k}") for k, c in enumerate(centres)]
    return (
        points.select(*FEATURES, *distances)
        .select(*FEATURES, _first_nearest(len(centres)))
        .groupby("cluster")
        .agg(
            daft.lit(1).count("all").alias("count"),
            *(daft.col(name).mean() for name in FEATURES),
        )
        .to_arrow()
    )


def kmeans(engine: Any, dataset: Any) -> Any:
    """The features read from Parquet once (``collect`` keeps them in the DataFrame), then ten
    passes over them."""
    points = engine.scan(dataset).select(*FEATURES).collect()
    return lloyd(lambda centres: _step(points, centres), initial_centres(dataset))


def regression(engine: Any, dataset: Any) -> Any:
    """regr_slope, regr_intercept and regr_r2 from grouped moments of the complete pairs."""
    col = daft.col
    both = col("v1").not_null() & col("v2").not_null()
    x = functions.when(both, _float(col("v1"))).otherwise(None)
    y = functions.when(both, _float(col("v2"))).otherwise(None)
    n = col("n")
    sxx = col("xx") - col("x") * col("x") / n
    syy = col("yy") - col("y") * col("y") / n
    sxy = col("xy") - col("x") * col("y") / n
    slope = sxy / sxx
    defined = sxx > 0
    return (
        engine.scan(dataset)
        .groupby("id2", "id4")
        .agg(
            _float(x.count()).alias("n"),
            x.sum().alias("x"),
            y.sum().alias("y"),
            (x * x).sum().alias("xx"),
            (y * y).sum().alias("yy"),
            (x * y).sum().alias("xy"),
        )
        .select(
            "id2",
            "id4",
            functions.when(defined, slope).otherwise(None).alias("slope"),
            functions.when(defined, (col("y") - slope * col("x")) / n)
            .otherwise(None)
            .alias("intercept"),
            functions.when(defined & (syy > 0), sxy * sxy / (sxx * syy))
            .when(defined, 1.0)
            .otherwise(None)
            .alias("r2"),
        )
    )


QUERIES = {PCA.name: pca, OLS.name: ols, KMEANS.name: kmeans, REGRESSION.name: regression}

UNSUPPORTED = no_library("Daft", "dataframe")
