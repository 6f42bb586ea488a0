"""pyarrow answers the ml questions with Acero plans: sums of products (a projection, then one
scalar ``sum`` aggregate) for the covariances and the OLS moments, one projection of the squared
distances and a ``group_by`` on the first nearest centre per Lloyd iteration, and grouped
integer moments for the regression (shared with groupby q9). numpy only finishes the few
hundred numbers that come back (workloads/ml/common.py). pyarrow ships no ML library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.lazy import lazy_import
from workloads.groupby.pyarrow import aggregate, as_float, chain, pair_moments, project
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

pa = lazy_import("pyarrow")
acero = lazy_import("pyarrow.acero")
pc = lazy_import("pyarrow.compute")


def _product(a: str | None, b: str | None) -> Any:
    """The expression a * b of two float64 columns, or one of them (the other None)."""
    factors = [pc.field(c) for c in (a, b) if c]
    return factors[0] if len(factors) == 1 else pc.multiply(*factors)


def _sums(
    engine: Any, dataset: Any, columns: list[str], products: dict[str, Any]
) -> dict[str, Any]:
    """One pass: the sum of each named product over the rows, and the row count ``n``."""
    plan = chain(
        engine.read(dataset, columns),
        project(**products),
        aggregate(
            [],
            ([], "count_all", None, "n"),
            *((name, "sum", None, name) for name in products),
        ),
    )
    return plan.to_table(use_threads=True).to_pylist()[0]


def pca(engine: Any, dataset: Any) -> Any:
    """The sample covariance (ddof 1) from sums of products: (Σab - ΣaΣb/n) / (n - 1)."""
    products = {f"s_{a}": _product(a, None) for a in FEATURES}
    products.update({f"s_{a}_{b}": _product(a, b) for a, b in PAIRS})
    sums = _sums(engine, dataset, list(FEATURES), products)
    n = sums["n"]
    cov = covariance_matrix(
        {
            (a, b): (sums[f"s_{a}_{b}"] - sums[f"s_{a}"] * sums[f"s_{b}"] / n) / (n - 1)
            for a, b in PAIRS
        }
    )
    return pca_from_covariance(cov)


def ols(engine: Any, dataset: Any) -> Any:
    products = {name: _product(a, b) for name, a, b in MOMENTS if a or b}
    sums = _sums(engine, dataset, [*FEATURES, TARGET], products)
    return ols_from_moments(sums)


def _first_nearest(count: int) -> Any:
    """The first of the distance columns d0.. at their minimum."""
    distances = [pc.field(f"d{k}") for k in range(count)]
    smallest = pc.min_element_wise(*distances)
    nearest = pa.scalar(count - 1, pa.int64())
    for k in reversed(range(count - 1)):
        nearest = pc.if_else(pc.equal(distances[k], smallest), pa.scalar(k, pa.int64()), nearest)
    return nearest


def _step(points: Any, centres: np.ndarray) -> Any:
    """One Lloyd iteration over the points in memory: the first nearest centre of each row,
    then the clusters' means."""
    features = {name: pc.field(name) for name in FEATURES}
    distances = {f"d{k}": squared_distance(pc.field, c) for k, c in enumerate(centres)}
    return chain(
        acero.Declaration("table_source", acero.TableSourceNodeOptions(points)),
        project(**features, **distances),
        project(**features, cluster=_first_nearest(len(centres))),
        aggregate(
            ["cluster"],
            ([], "hash_count_all", None, "count"),
            *((name, "hash_mean", None, name) for name in FEATURES),
        ),
    ).to_table(use_threads=True)


def kmeans(engine: Any, dataset: Any) -> Any:
    """The features read from Parquet once, into an Arrow table, then ten passes over it."""
    points = engine.read(dataset, list(FEATURES)).to_table(use_threads=True)
    return lloyd(lambda centres: _step(points, centres), initial_centres(dataset))


def regression(engine: Any, dataset: Any) -> Any:
    """regr_slope, regr_intercept and regr_r2 from the grouped moments of the complete pairs:
    slope = sxy / sxx, intercept = (Σy - slope Σx) / n, r2 = sxy² / (sxx syy) (1 where only y
    is constant), NULL where x does not vary."""
    keys = ["id2", "id4"]
    sxx, syy, sxy = (as_float(name) for name in ("sxx", "syy", "sxy"))
    slope = pc.divide(sxy, sxx)
    intercept = pc.divide(
        pc.subtract(as_float("sy"), pc.multiply(slope, as_float("sx"))),
        as_float("n"),
    )
    r2 = pc.if_else(
        pc.greater(pc.field("syy"), 0),
        pc.divide(pc.multiply(sxy, sxy), pc.multiply(sxx, syy)),
        1.0,
    )
    defined = pc.greater(pc.field("sxx"), 0)
    none = pa.scalar(None, pa.float64())
    return chain(
        pair_moments(engine.read(dataset, [*keys, "v1", "v2"]), keys, "v1", "v2"),
        project(
            **{key: pc.field(key) for key in keys},
            slope=pc.if_else(defined, slope, none),
            intercept=pc.if_else(defined, intercept, none),
            r2=pc.if_else(defined, r2, none),
        ),
    )


QUERIES = {PCA.name: pca, OLS.name: ols, KMEANS.name: kmeans, REGRESSION.name: regression}

UNSUPPORTED = no_library("pyarrow", "compute")
