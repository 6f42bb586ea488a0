"""Dask answers the ml questions with dask.dataframe reductions, and with dask-ml.

Dataframe versions: ``DataFrame.cov()`` (ddof 1) for the covariances, one ``sum()`` over the
products for the moments, Lloyd's iterations over the input persisted once, each one
``map_partitions`` of numpy sums (a partition is a pandas frame), and grouped sums for the
regression. Library versions: dask-ml's ``PCA``, ``LinearRegression`` and ``KMeans`` on the
features as a dask array, persisted inside the timed region, as dask-ml's guide recommends for
estimators that read their input more than once (Spark's caching, likewise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.lazy import lazy_import
from workloads.ml import (
    KMEANS,
    KMEANS_LIB,
    OLS,
    OLS_LIB,
    PCA,
    PCA_LIB,
    REGRESSION,
)
from workloads.ml.common import (
    CLUSTERS,
    FEATURES,
    MOMENTS,
    TARGET,
    initial_centres,
    kmeans_table,
    lloyd,
    ols_from_moments,
    ols_table,
    pca_from_covariance,
    pca_table,
)

dask = lazy_import("dask")
da = lazy_import("dask.array")
dd = lazy_import("dask.dataframe")
cluster = lazy_import("dask_ml.cluster")
decomposition = lazy_import("dask_ml.decomposition")
linear_model = lazy_import("dask_ml.linear_model")


def pca(engine: Any, dataset: Any) -> Any:
    cov = engine.scan(dataset)[list(FEATURES)].cov().compute()
    return pca_from_covariance(cov.loc[list(FEATURES), list(FEATURES)].to_numpy())


def ols(engine: Any, dataset: Any) -> Any:
    """The moments as one Gram matrix of [1, X, y]: a matrix product of the chunks, reduced as
    a tree. (153 product columns assigned to the DataFrame, the SQL engines' form, took 6.6x
    as long: dask-expr plans every assigned column.)"""
    values = engine.scan(dataset)[[*FEATURES, TARGET]].to_dask_array(lengths=True)
    ones = da.ones((values.shape[0], 1), chunks=(values.chunks[0], 1))
    design = da.hstack([ones, values])
    gram = (design.T @ design).compute()
    position = {name: i for i, name in enumerate((None, *FEATURES, TARGET))}
    return ols_from_moments({name: gram[position[a], position[b]] for name, a, b in MOMENTS})


def _cluster_sums(part: pd.DataFrame, centres: np.ndarray) -> pd.DataFrame:
    """One partition's share of a Lloyd iteration: each row's first nearest centre (squared
    distance over the features), then per centre the row count and the features' sums."""
    x = part.to_numpy(dtype=np.float64)
    distances = np.stack([((x - centre) ** 2).sum(axis=1) for centre in centres], axis=1)
    nearest = distances.argmin(axis=1)  # the first on a tie
    sums = {
        name: np.bincount(nearest, weights=x[:, i], minlength=len(centres))
        for i, name in enumerate(FEATURES)
    }
    counts = np.bincount(nearest, minlength=len(centres))
    return pd.DataFrame({"cluster": np.arange(len(centres)), "count": counts, **sums})


def kmeans(engine: Any, dataset: Any) -> Any:
    """Lloyd's iterations over the features persisted once on the workers (as Dask's docs
    advise for data read many times), each one ``map_partitions`` of numpy work on a pandas
    partition, Dask's own idiom, and one tree reduction of the 8 x 17 partial sums."""
    features = engine.scan(dataset)[list(FEATURES)].persist()
    meta = _cluster_sums(features._meta, np.zeros((CLUSTERS, len(FEATURES))))

    def step(centres: np.ndarray) -> pa.Table:
        partial = features.map_partitions(_cluster_sums, centres, meta=meta)
        totals = partial.groupby("cluster").sum().compute()
        totals = totals[totals["count"] > 0]
        means = totals[list(FEATURES)].div(totals["count"], axis=0)
        answer = means.assign(count=totals["count"]).reset_index()
        return pa.Table.from_pandas(answer, preserve_index=False)

    try:
        return lloyd(step, initial_centres(dataset))
    finally:
        engine.release(features)  # no later sample may find the input in memory


def regression(engine: Any, dataset: Any) -> Any:
    """regr_slope, regr_intercept and regr_r2 from grouped sums over the complete pairs."""
    keys = ["id2", "id4"]
    frame = engine.scan(dataset)[[*keys, "v1", "v2"]]
    both = frame["v1"].notnull() & frame["v2"].notnull()
    x, y = frame["v1"].where(both).astype("float64"), frame["v2"].where(both).astype("float64")
    pairs = frame[keys].assign(x=x, y=y, xx=x * x, yy=y * y, xy=x * y)
    sums = (
        pairs.groupby(keys, dropna=False)
        .agg(n=("x", "count"), **{c: (c, "sum") for c in ("x", "y", "xx", "yy", "xy")})
        .reset_index()
    )
    n = sums["n"]
    sxx = sums["xx"] - sums["x"] ** 2 / n
    syy = sums["yy"] - sums["y"] ** 2 / n
    sxy = sums["xy"] - sums["x"] * sums["y"] / n
    defined = sxx > 0
    slope = (sxy / sxx).where(defined)
    r2 = (sxy**2 / (sxx * syy)).where(syy > 0, 1.0).where(defined)
    return sums[keys].assign(slope=slope, intercept=(sums["y"] - slope * sums["x"]) / n, r2=r2)


def _array(engine: Any, dataset: Any, columns: list[str]) -> Any:
    """The columns as a dask array with known chunk sizes, persisted for the estimator."""
    return engine.scan(dataset)[columns].to_dask_array(lengths=True).persist()


def pca_lib(engine: Any, dataset: Any) -> Any:
    """svd_solver="full": the exact decomposition (a tall-skinny QR), not a randomized one."""
    model = decomposition.PCA(n_components=len(FEATURES), svd_solver="full")
    model.fit(_array(engine, dataset, list(FEATURES)))
    return pca_table(model.components_, model.explained_variance_ratio_)


def ols_lib(engine: Any, dataset: Any) -> Any:
    """solver="newton": unpenalized (dask-ml's default, admm, adds an l2 penalty with C=1),
    and exact for least squares in one step (the Hessian is X'X)."""
    data = _array(engine, dataset, [*FEATURES, TARGET])
    model = linear_model.LinearRegression(solver="newton", fit_intercept=True)
    model.fit(data[:, : len(FEATURES)], data[:, len(FEATURES)])
    return ols_table(model.intercept_, model.coef_)


def kmeans_lib(engine: Any, dataset: Any) -> Any:
    """dask-ml's KMeans from the manifest's initial centres, 10 iterations, tol=0."""
    model = cluster.KMeans(
        n_clusters=CLUSTERS, init=initial_centres(dataset), max_iter=10, tol=0.0, random_state=0
    )
    features = _array(engine, dataset, list(FEATURES))  # held until the labels are counted
    model.fit(features)
    sizes = da.bincount(model.labels_, minlength=CLUSTERS).compute()
    del features
    centres = np.asarray(model.cluster_centers_)
    return kmeans_table(centres, sizes)


QUERIES = {
    PCA.name: pca,
    OLS.name: ols,
    KMEANS.name: kmeans,
    REGRESSION.name: regression,
    PCA_LIB.name: pca_lib,
    OLS_LIB.name: ols_lib,
    KMEANS_LIB.name: kmeans_lib,
}
