"""Polars answers the groupby questions with lazy ``group_by().agg()`` expressions."""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import

pl = lazy_import("polars")


def q1(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id1").agg(pl.col("v1").sum())


def q2(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id1", "id2").agg(pl.col("v1").sum())


def q3(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id3").agg(pl.col("v1").sum(), pl.col("v3").mean())


def q4(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id4").agg(pl.col("v1", "v2", "v3").mean())


def q5(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id6").agg(pl.col("v1", "v2", "v3").sum())


def q6(engine: Any, dataset: Any) -> Any:
    """``median`` is exact; ``std`` is the sample deviation (ddof=1), as SQL's stddev."""
    v3 = pl.col("v3")
    return (
        engine.scan(dataset)
        .group_by("id4", "id5")
        .agg(v3.median().alias("median_v3"), v3.std().alias("sd_v3"))
    )


def q7(engine: Any, dataset: Any) -> Any:
    range_v1_v2 = (pl.col("v1").max() - pl.col("v2").min()).alias("range_v1_v2")
    return engine.scan(dataset).group_by("id3").agg(range_v1_v2)


def q8(engine: Any, dataset: Any) -> Any:
    """``top_k`` in the aggregation, then one row per value, as Polars' own docs do it."""
    return (
        engine.scan(dataset)
        .drop_nulls("v3")
        .group_by("id6")
        .agg(pl.col("v3").top_k(2))
        .explode("v3")
    )


def q9(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).group_by("id2", "id4").agg((pl.corr("v1", "v2") ** 2).alias("r2"))


def q10(engine: Any, dataset: Any) -> Any:
    return (
        engine.scan(dataset)
        .group_by("id1", "id2", "id3", "id4", "id5", "id6")
        .agg(pl.col("v3").sum(), pl.len().alias("count"))
    )


QUERIES = {
    f"groupby_q{number}": query
    for number, query in enumerate((q1, q2, q3, q4, q5, q6, q7, q8, q9, q10), start=1)
}
