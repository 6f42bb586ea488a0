"""Spark answers the ml questions in Spark SQL (workloads/ml/sql.py), and with pyspark.ml.

The library versions follow pyspark.ml's own guide: the features assembled into one vector
column (``VectorAssembler``) and the training frame cached, both inside the timed region, then
``PCA(k=16)``, ``LinearRegression(solver="normal", regParam=0)`` and
``KMeans(k=8, maxIter=10, tol=0)``. pyspark.ml's KMeans takes no initial centres (only
``initMode`` "k-means||" or "random"), so it starts from its own, seeded, and its clusters are
numbered by the nearest of the manifest's initial centres; on blobs 10 sigma apart any correct
k-means finds the same clusters, which the check against the true centres confirms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from bakeoff.lazy import lazy_import
from workloads.ml import KMEANS_LIB, OLS_LIB, PCA_LIB
from workloads.ml.common import (
    CLUSTERS,
    FEATURES,
    TARGET,
    initial_centres,
    ols_table,
    pca_table,
    relabelled,
)
from workloads.ml.sql import sql_queries

feature = lazy_import("pyspark.ml.feature")
regression = lazy_import("pyspark.ml.regression")
clustering = lazy_import("pyspark.ml.clustering")

VECTOR = "features"
SEED = 0


def fetch(frame: Any) -> pa.Table:
    return frame.toArrow()


def wrap(engine: Any, table: pa.Table) -> Any:
    return engine.session.createDataFrame(table)


@contextmanager
def _training(engine: Any, dataset: Any, *columns: str) -> Iterator[Any]:
    """The features assembled into one vector column, the training frame cached while the
    fit (and whatever reads its summary) runs."""
    assembler = feature.VectorAssembler(inputCols=list(FEATURES), outputCol=VECTOR)
    training = assembler.transform(engine.scan(dataset)).select(VECTOR, *columns).cache()
    try:
        yield training
    finally:
        training.unpersist()


def pca_lib(engine: Any, dataset: Any) -> Any:
    with _training(engine, dataset) as training:
        model = feature.PCA(k=len(FEATURES), inputCol=VECTOR).fit(training)
    components = model.pc.toArray().T  # pc holds one component per column
    return wrap(engine, pca_table(components, model.explainedVariance.toArray()))


def ols_lib(engine: Any, dataset: Any) -> Any:
    estimator = regression.LinearRegression(
        featuresCol=VECTOR,
        labelCol=TARGET,
        solver="normal",
        regParam=0.0,
        elasticNetParam=0.0,
        fitIntercept=True,
    )
    with _training(engine, dataset, TARGET) as training:
        model = estimator.fit(training)
    return wrap(engine, ols_table(model.intercept, model.coefficients.toArray()))


def kmeans_lib(engine: Any, dataset: Any) -> Any:
    estimator = clustering.KMeans(
        featuresCol=VECTOR, k=CLUSTERS, maxIter=10, tol=0.0, seed=SEED, initMode="k-means||"
    )
    with _training(engine, dataset) as training:
        model = estimator.fit(training)
        sizes = model.summary.clusterSizes
    centres = np.array([centre.tolist() for centre in model.clusterCenters()])
    table = relabelled(centres, sizes, initial_centres(dataset))
    return wrap(engine, table)


LIBRARY: dict[str, Callable[[Any, Any], Any]] = {
    PCA_LIB.name: pca_lib,
    OLS_LIB.name: ols_lib,
    KMEANS_LIB.name: kmeans_lib,
}
QUERIES = {**sql_queries(fetch, wrap), **LIBRARY}
