"""Spark as its users would time the questions on one machine: ``local[cores]``, 60 % of memory
for the driver, adaptive execution, shuffle partitions sized to the input (two per core at
least, one per 128 MiB), Spark SQL over ``spark.read.parquet``, each answer written to the
``noop`` sink (Spark's own benchmarks' sink). k-means and the pyspark.ml estimators read their
input once into ``cache()``, as Spark's guides advise.

    python benchmarks/peers/spark_peer.py DATA --workload window_w1 --repeat 3
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import questions as q
from pyspark.ml.feature import PCA, VectorAssembler
from pyspark.ml.regression import LinearRegression
from pyspark.sql import DataFrame, SparkSession
from timing import Question, main

CORES = len(os.sched_getaffinity(0))


def start() -> SparkSession:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    session = (
        SparkSession.builder.master(f"local[{CORES}]")
        .config("spark.driver.memory", f"{int(memory * 0.6) // 2**20}m")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.local.dir", tempfile.mkdtemp(prefix="spark-peer-"))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def views(spark: SparkSession, data: Path, *tables: str) -> None:
    """The tables as temporary views, and shuffle partitions sized to the files read."""
    size = sum(f.stat().st_size for f in data.rglob("*.parquet"))
    per_core = 2 * CORES
    partitions = max(per_core, math.ceil(math.ceil(size / 2**27) / per_core) * per_core)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    for name in tables or ("x",):
        spark.read.parquet(str(data / name) if tables else str(data)).createOrReplaceTempView(name)


def noop(frame: DataFrame) -> DataFrame:
    frame.write.format("noop").mode("overwrite").save()
    return frame


def statement(sql: str, *tables: str) -> Question:
    def answer(spark: SparkSession, data: Path) -> DataFrame:
        views(spark, data, *tables)
        return noop(spark.sql(sql))

    return answer


def aggregate(spark: SparkSession, data: Path, sql: str) -> list:
    views(spark, data)
    return list(spark.sql(sql).collect()[0])


def kmeans(spark: SparkSession, data: Path) -> np.ndarray:
    views(spark, data)
    points = spark.table("x").select(*q.FEATURES).cache()
    points.createOrReplaceTempView("points")
    centres = q.initial_centres(data)
    for _ in range(q.ITERATIONS):
        rows = spark.sql(q.lloyd_sql(centres, "points")).collect()
        centres, _counts = q.next_centres(centres, [list(row) for row in rows])
    points.unpersist()
    return centres


def assembled(spark: SparkSession, data: Path, *columns: str) -> DataFrame:
    views(spark, data)
    assembler = VectorAssembler(inputCols=q.FEATURES, outputCol="features")
    return assembler.transform(spark.table("x")).select("features", *columns).cache()


def pca_lib(spark: SparkSession, data: Path) -> np.ndarray:
    training = assembled(spark, data)
    model = PCA(k=16, inputCol="features").fit(training)
    training.unpersist()
    return model.pc.toArray().T


def ols_lib(spark: SparkSession, data: Path) -> np.ndarray:
    training = assembled(spark, data, "y")
    model = LinearRegression(labelCol="y", solver="normal", regParam=0.0).fit(training)
    training.unpersist()
    return np.array([model.intercept, *model.coefficients.toArray()])


QUESTIONS: dict[str, Question] = {
    **{name: statement(q.join_sql(name), "x", q.JOINS[name][0]) for name in q.JOINS},
    **{name: statement(sql) for name, sql in q.WINDOW_SQL.items()},
    "ml_m1": lambda spark, data: q.pca(q.symmetric(aggregate(spark, data, q.COVARIANCE_SQL))),
    "ml_m2": lambda spark, data: q.ols(aggregate(spark, data, q.MOMENTS_SQL)),
    "ml_m3": kmeans,
    "ml_m4": statement(q.REGRESSION_SQL),
    "ml_m1_lib": pca_lib,
    "ml_m2_lib": ols_lib,
}


def rows(_: SparkSession, result: Any) -> int:
    return result.count() if isinstance(result, DataFrame) else len(result)


if __name__ == "__main__":
    main(start, QUESTIONS, rows, stop=lambda spark: spark.stop())
