"""Polars answers the window questions with expressions ``over("g", order_by=["ts", "id"])``.

``over`` with ``order_by`` evaluates the expression on each group in that order and puts the
values back on their rows, so nothing is sorted as a whole. The NULL cases follow SQL with
Polars' own operators: ``rolling_mean(min_samples=1)`` skips NULLs and is NULL for a window of
only NULLs, as ``avg`` is; ``cum_sum`` leaves a NULL where ``x`` is NULL, and ``forward_fill``
turns that into SQL's running sum (the sum so far, NULL only before the group's first value).
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.window import MOVING_ROWS, TOP

pl = lazy_import("polars")


def _in_window(expression: Any) -> Any:
    """The expression per group g, in order of ts then id."""
    return expression.over("g", order_by=["ts", "id"])


def w1(engine: Any, dataset: Any) -> Any:
    rn = _in_window(pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("rn")
    return engine.scan(dataset).select("g", "id", rn)


def w2(engine: Any, dataset: Any) -> Any:
    x = pl.col("x")
    return engine.scan(dataset).select(
        "g",
        "id",
        _in_window(x.shift(1)).alias("lag_x"),
        _in_window(x.shift(-1)).alias("lead_x"),
    )


def w3(engine: Any, dataset: Any) -> Any:
    average = pl.col("x").rolling_mean(window_size=MOVING_ROWS, min_samples=1)
    return engine.scan(dataset).select("g", "id", _in_window(average).alias("avg_x"))


def w4(engine: Any, dataset: Any) -> Any:
    running = pl.col("x").cum_sum().forward_fill()
    return engine.scan(dataset).select("g", "id", _in_window(running).alias("sum_x"))


def w5(engine: Any, dataset: Any) -> Any:
    """``top_k_by`` per group (NULL x last; ``reverse`` makes the id tie-break ascending)."""
    return (
        engine.scan(dataset)
        .group_by("g")
        .agg(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).head(TOP).alias("rn"),
            pl.col("id", "x").top_k_by(["x", "id"], k=TOP, reverse=[False, True]),
        )
        .explode("rn", "id", "x")
    )


QUERIES = {f"window_w{number}": query for number, query in enumerate((w1, w2, w3, w4, w5), 1)}
