"""Polars as its users would time the questions: ``POLARS_MAX_THREADS`` = cores, lazy
``scan_parquet``, expressions, ``collect(engine="streaming")`` (Polars 2's default engine).
k-means collects the points once (``read_parquet``), then runs its ten iterations in memory.

    python benchmarks/peers/polars_peer.py DATA --workload window_w3 --repeat 3
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", str(len(os.sched_getaffinity(0))))

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import questions as q
from timing import Question, files, main

ENGINE = "streaming"


def scan(data: Path, table: str | None = None) -> pl.LazyFrame:
    return pl.scan_parquet(files(data, table))


def join(name: str) -> Question:
    right, on, how = q.JOINS[name]
    columns = q.renamed(right, on)

    def answer(_: Any, data: Path) -> pl.DataFrame:
        other = scan(data, right).select(on, *columns).rename(columns)
        return scan(data, "x").join(other, on=on, how=how).collect(engine=ENGINE)

    return answer


def over(expression: pl.Expr) -> pl.Expr:
    return expression.over("g", order_by=["ts", "id"])


x = pl.col("x")
WINDOW = {
    "window_w1": [over(pl.int_range(1, pl.len() + 1)).alias("rn")],
    "window_w2": [over(x.shift(1)).alias("lag_x"), over(x.shift(-1)).alias("lead_x")],
    "window_w3": [over(x.rolling_mean(10, min_samples=1)).alias("avg_x")],
    "window_w4": [over(x.cum_sum().forward_fill()).alias("sum_x")],
}


def window(name: str) -> Question:
    return lambda _, data: scan(data).select("g", "id", *WINDOW[name]).collect(engine=ENGINE)


def top_three(_: Any, data: Path) -> pl.DataFrame:
    return (
        scan(data)
        .select("g", "id", "x")
        .sort(["g", "x", "id"], descending=[False, True, False], nulls_last=True)
        .group_by("g", maintain_order=True)
        .head(3)
        .with_columns(rn=pl.int_range(1, pl.len() + 1).over("g"))
        .collect(engine=ENGINE)
    )


def pca(_: Any, data: Path) -> np.ndarray:
    row = (
        scan(data)
        .select(pl.cov(a, b).alias(f"{a}_{b}") for a, b in q.PAIRS)
        .collect(engine=ENGINE)
        .row(0)
    )
    return q.pca(q.symmetric(list(row)))


def moment(i: int, j: int) -> pl.Expr:
    a, b = q.DESIGN[i], q.DESIGN[j]
    if a == "1":
        return pl.len().cast(pl.Float64) if b == "1" else pl.col(b).sum()
    return (pl.col(a) * pl.col(b)).sum()


def ols(_: Any, data: Path) -> np.ndarray:
    moments = [moment(i, j).alias(f"m{n}") for n, (i, j) in enumerate(q.MOMENT_PAIRS)]
    return q.ols(list(scan(data).select(moments).collect(engine=ENGINE).row(0)))


def kmeans(_: Any, data: Path) -> np.ndarray:
    points = pl.read_parquet(files(data), columns=q.FEATURES)
    centres = q.initial_centres(data)
    for _iteration in range(q.ITERATIONS):
        distances = [
            pl.sum_horizontal(
                (pl.col(f) - c) ** 2 for f, c in zip(q.FEATURES, row, strict=True)
            ).alias(f"d{k}")
            for k, row in enumerate(centres)
        ]
        nearest = pl.min_horizontal(f"d{k}" for k in range(q.K))
        cluster = pl.when(pl.col("d0") == nearest).then(0)
        for k in range(1, q.K):
            cluster = cluster.when(pl.col(f"d{k}") == nearest).then(k)
        step = (
            points.lazy()
            .with_columns(distances)
            .group_by(cluster.alias("c"))
            .agg(pl.len(), pl.col(q.FEATURES).mean())
            .collect(engine=ENGINE)
        )
        centres, _counts = q.next_centres(centres, step.rows())
    return centres


def regression(_: Any, data: Path) -> pl.DataFrame:
    both = pl.col("v1").is_not_null() & pl.col("v2").is_not_null()
    v1, v2 = pl.col("v1").filter(both).cast(pl.Float64), pl.col("v2").filter(both).cast(pl.Float64)
    slope = pl.cov(v1, v2) / v1.var()
    defined = v1.var() > 0
    return (
        scan(data)
        .group_by("id2", "id4")
        .agg(
            slope=pl.when(defined).then(slope),
            intercept=pl.when(defined).then(v2.mean() - slope * v1.mean()),
            r2=pl.when(defined & (v2.var() > 0)).then(pl.corr(v1, v2) ** 2).when(defined).then(1.0),
        )
        .collect(engine=ENGINE)
    )


QUESTIONS: dict[str, Question] = {
    **{name: join(name) for name in q.JOINS},
    **{name: window(name) for name in WINDOW},
    "window_w5": top_three,
    "ml_m1": pca,
    "ml_m2": ols,
    "ml_m3": kmeans,
    "ml_m4": regression,
}

if __name__ == "__main__":
    main(lambda: None, QUESTIONS, lambda _, result: len(result))
