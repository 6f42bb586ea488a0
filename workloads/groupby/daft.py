"""Daft answers the groupby questions with ``groupby().agg()`` on its DataFrame API.

Daft's aggregations follow SQL on NULLs (a sum or mean of only NULLs is NULL, ``count("all")``
counts every row). ``median`` is exact and ``stddev(ddof=1)`` the sample deviation, as SQL's.
Daft has no correlation aggregate (``pearson_correlation`` is a row-wise function), so
q9 is r squared from grouped sums of the complete pairs, as Dask and Vaex compute it. The top
two per group (q8) is ``row_number()`` over a window, as the canonical SQL says it.
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.groupby import WORKLOADS

daft = lazy_import("daft")
functions = lazy_import("daft.functions")


def _aggregation(column: str, how: str) -> Any:
    """One of a question's declared aggregations, named after its result column."""
    if how == "count":  # SQL's count(*): every row of the group
        return daft.lit(1).count("all").cast(daft.DataType.int64()).alias(column)
    return getattr(daft.col(column), how)().alias(column)


def aggregate(keys: tuple[str, ...], aggregations: tuple[tuple[str, str], ...]) -> Any:
    """The query of a question that is one set of aggregations by keys (q1-q5, q10)."""

    def query(engine: Any, dataset: Any) -> Any:
        return (
            engine.scan(dataset)
            .groupby(*keys)
            .agg(*(_aggregation(column, how) for column, how in aggregations))
        )

    return query


def q6(engine: Any, dataset: Any) -> Any:
    v3 = daft.col("v3")
    return (
        engine.scan(dataset)
        .groupby("id4", "id5")
        .agg(v3.median().alias("median_v3"), v3.stddev(ddof=1).alias("sd_v3"))
    )


def q7(engine: Any, dataset: Any) -> Any:
    return (
        engine.scan(dataset)
        .groupby("id3")
        .agg(daft.col("v1").max().alias("max_v1"), daft.col("v2").min().alias("min_v2"))
        .select("id3", (daft.col("max_v1") - daft.col("min_v2")).alias("range_v1_v2"))
    )


def q8(engine: Any, dataset: Any) -> Any:
    window = daft.Window().partition_by("id6").order_by("v3", desc=True)
    return (
        engine.scan(dataset)
        .where(daft.col("v3").not_null())
        .select("id6", "v3", functions.row_number().over(window).alias("rank_v3"))
        .where(daft.col("rank_v3") <= 2)
        .select("id6", "v3")
    )


def q9(engine: Any, dataset: Any) -> Any:
    """r2 = sxy^2 / (sxx syy) from sums over the rows where v1 and v2 are both present; NULL
    for fewer than two pairs or a constant v1 or v2, as SQL's ``corr``."""
    col = daft.col
    both = col("v1").not_null() & col("v2").not_null()
    x = functions.when(both, col("v1").cast(daft.DataType.float64())).otherwise(None)
    y = functions.when(both, col("v2").cast(daft.DataType.float64())).otherwise(None)
    n, sx, sy = col("n"), col("x"), col("y")
    sxx = col("xx") - sx * sx / n
    syy = col("yy") - sy * sy / n
    sxy = col("xy") - sx * sy / n
    r2 = functions.when((sxx > 0) & (syy > 0), sxy * sxy / (sxx * syy)).otherwise(None)
    return (
        engine.scan(dataset)
        .groupby("id2", "id4")
        .agg(
            x.count().cast(daft.DataType.float64()).alias("n"),
            x.sum().alias("x"),
            y.sum().alias("y"),
            (x * x).sum().alias("xx"),
            (y * y).sum().alias("yy"),
            (x * y).sum().alias("xy"),
        )
        .select("id2", "id4", r2.alias("r2"))
    )


QUERIES = {
    workload.name: aggregate(workload.keys, workload.aggregations)
    for workload in WORKLOADS
    if workload.aggregations
} | {"groupby_q6": q6, "groupby_q7": q7, "groupby_q8": q8, "groupby_q9": q9}
