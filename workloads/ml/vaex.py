"""Vaex answers the ml questions with its statistics and expressions, and with vaex-ml.

Dataframe versions: ``df.cov`` (the population covariance, scaled by n / (n - 1) for ddof 1),
the moments from one ``cov`` and ``mean`` of the features and y, a Lloyd iteration as virtual
columns (squared distances, the first nearest centre) binned by cluster with ``count``/``mean`` and
``binby``, and grouped sums for the regression. Library versions: ``vaex.ml.PCA`` and
``vaex.ml.cluster.KMeans`` from the manifest's initial centres (it stops early once the
inertia changes by less than 1e-3, which on these blobs is at the same fixed point).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from shared.lazy import lazy_import
from workloads.ml import KMEANS, KMEANS_LIB, OLS, OLS_LIB, PCA, PCA_LIB, REGRESSION
from workloads.ml.common import (
    CLUSTERS,
    FEATURES,
    MOMENTS,
    TARGET,
    initial_centres,
    kmeans_table,
    lloyd,
    ols_from_moments,
    pca_from_covariance,
    pca_table,
)

vaex = lazy_import("vaex")
vaex_ml = lazy_import("vaex.ml")
vaex_cluster = lazy_import("vaex.ml.cluster")


def pca(engine: Any, dataset: Any) -> Any:
    frame = engine.scan(dataset)
    rows = len(frame)
    cov = np.asarray(frame.cov(list(FEATURES))) * rows / (rows - 1)
    return pca_from_covariance(cov)


def ols(engine: Any, dataset: Any) -> Any:
    """The moments X'X and X'y from one pass of ``cov`` and ``mean`` over the features and y
    (both delayed, then executed together): Vaex computes
    the raw means and second moments (E[ab]) in its C kernel, and n (E[ab]) is the sum.

    Not one ``sum`` per moment: 169 expressions cost Vaex about a minute even on 10^4 rows.
    """
    frame = engine.scan(dataset)
    columns = [*FEATURES, TARGET]
    rows = len(frame)
    delayed_cov, delayed_means = frame.cov(columns, delay=True), frame.mean(columns, delay=True)
    frame.execute()  # both in one pass over the data
    cov, means = np.asarray(delayed_cov.get()), np.asarray(delayed_means.get())
    raw = rows * (cov + np.outer(means, means))
    index = {name: i for i, name in enumerate(columns)}
    sums = {"n": float(rows)}
    for name, a, b in MOMENTS:
        if name != "n":
            sums[name] = float(rows * means[index[b]] if a is None else raw[index[a], index[b]])
    return ols_from_moments(sums)


def _distance(centre: np.ndarray) -> str:
    """sum of (x - c)^2 as one expression (Vaex's parser reads ``x - -1.5`` as a call)."""
    terms = []
    for name, value in zip(FEATURES, centre, strict=True):
        difference = f"({name} - {value!r})" if value >= 0 else f"({name} + {-value!r})"
        terms.append(f"{difference} * {difference}")
    return " + ".join(terms)


def _step(points: Any, centres: np.ndarray) -> pa.Table:
    """One Lloyd iteration over the points in memory: distances, their minimum and the first
    centre at it as virtual columns, the cluster materialized, then counts and means binned by
    cluster in one pass. (A running minimum nests each step twice, and Vaex expands virtual
    columns: exponential.)"""
    frame = points.copy()
    names = [f"d{k}" for k in range(len(centres))]
    for name, centre in zip(names, centres, strict=True):
        frame.add_virtual_column(name, _distance(centre))
    smallest = names[0]
    for name in names[1:]:
        smallest = f"minimum({smallest}, {name})"
    frame.add_virtual_column("smallest", smallest)
    first = str(len(names) - 1)
    for k in range(len(names) - 2, -1, -1):
        first = f"where({names[k]} == smallest, {k}, {first})"
    frame.add_virtual_column("cluster", first)
    # Vaex evaluates a virtual column once per aggregator that bins by it: the 17 aggregators
    # below would expand the distances 17 times per chunk. ``materialize`` computes it once, as
    # Vaex's docs advise for an expensive expression used more than once.
    frame = frame.materialize("cluster")
    binned = {"binby": "cluster", "limits": [-0.5, CLUSTERS - 0.5], "shape": CLUSTERS}
    counts = frame.count(delay=True, **binned)
    means = frame.mean(list(FEATURES), delay=True, **binned)
    frame.execute()
    sizes = counts.get().astype(np.int64)
    present = np.flatnonzero(sizes)
    table = kmeans_table(np.asarray(means.get()).T[present], sizes[present])
    return table.set_column(0, "cluster", pa.array(present.astype(np.int64)))


def kmeans(engine: Any, dataset: Any) -> Any:
    """The features read from Parquet once, into an in-memory DataFrame, then ten passes."""
    points = engine.in_memory(engine.scan(dataset), list(FEATURES))
    return lloyd(lambda centres: _step(points, centres), initial_centres(dataset))


def regression(engine: Any, dataset: Any) -> Any:
    """regr_slope, regr_intercept and regr_r2 from grouped sums over the complete pairs."""
    both = "~(ismissing(v1) | ismissing(v2))"

    def total(expression: str) -> Any:
        return vaex.agg.sum(expression, selection=both)

    sums = engine.scan(dataset).groupby(
        by=["id2", "id4"],
        agg={
            "n": vaex.agg.count(selection=both),
            "x": total("v1 * 1.0"),
            "y": total("v2 * 1.0"),
            "xx": total("v1 * 1.0 * v1"),
            "yy": total("v2 * 1.0 * v2"),
            "xy": total("v1 * 1.0 * v2"),
        },
    )
    n = sums["n"]
    sums["sxx"] = sums["xx"] - sums["x"] ** 2 / n
    sums["syy"] = sums["yy"] - sums["y"] ** 2 / n
    sums["sxy"] = sums["xy"] - sums["x"] * sums["y"] / n
    defined = sums["sxx"] > 0
    sums["slope"] = sums.func.where(defined, sums["sxy"] / sums["sxx"], None)
    sums["intercept"] = sums.func.where(defined, (sums["y"] - sums["slope"] * sums["x"]) / n, None)
    r2 = sums.func.where(sums["syy"] > 0, sums["sxy"] ** 2 / (sums["sxx"] * sums["syy"]), 1.0)
    sums["r2"] = sums.func.where(defined, r2, None)
    return engine.in_memory(sums, ["id2", "id4", "slope", "intercept", "r2"])


def pca_lib(engine: Any, dataset: Any) -> Any:
    model = vaex_ml.PCA(features=list(FEATURES), n_components=len(FEATURES))
    model.fit(engine.scan(dataset))
    components = np.array(model.eigen_vectors_).T  # one eigenvector per column
    return pca_table(components, model.explained_variance_ratio_)


def kmeans_lib(engine: Any, dataset: Any) -> Any:
    """vaex.ml's KMeans on the features read from Parquet once (it passes over its frame once
    per iteration, as the dataframe version does)."""
    frame = engine.in_memory(engine.scan(dataset), list(FEATURES))
    model = vaex_cluster.KMeans(
        features=list(FEATURES),
        n_clusters=CLUSTERS,
        init=initial_centres(dataset).tolist(),
        max_iter=10,
        n_init=1,
    )
    model.fit(frame)
    labelled = model.transform(frame)
    sizes = labelled.count(
        binby=model.prediction_label, limits=[-0.5, CLUSTERS - 0.5], shape=CLUSTERS
    )
    return kmeans_table(np.array(model.cluster_centers), sizes.astype(np.int64))


QUERIES = {
    PCA.name: pca,
    OLS.name: ols,
    KMEANS.name: kmeans,
    REGRESSION.name: regression,
    PCA_LIB.name: pca_lib,
    KMEANS_LIB.name: kmeans_lib,
}

UNSUPPORTED = {
    OLS_LIB.name: "vaex-ml has no linear regression computed by Vaex: "
    "vaex.ml.linear_model.LinearRegression (not exported by vaex.ml) either bins every "
    "feature and y into a 64^17-cell histogram or copies the rows into numpy for "
    "scikit-learn, and vaex.ml.sklearn.Predictor fits scikit-learn in memory too",
}
