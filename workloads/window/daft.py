"""Daft answers the window questions with window expressions over ``daft.Window()``.

Every window is partitioned by ``g`` and ordered by ``ts`` then ``id``. Daft's window
aggregations follow SQL on NULLs: ``mean`` over ``rows_between(-9, 0)`` skips NULLs and is NULL
for a frame of only NULLs, and ``sum`` from ``unbounded_preceding`` to ``current_row`` is NULL
until the group's first value; ``lag``/``lead`` return the neighbour's ``x`` as it is. The top
three (w5) is ``row_number()`` ordered by ``x`` descending with NULLs last, then ``id``.
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.window import MOVING_ROWS, TOP

daft = lazy_import("daft")
functions = lazy_import("daft.functions")


def _window() -> Any:
    """The rows of each group g, in order of ts then id."""
    return daft.Window().partition_by("g").order_by("ts", "id")


def _row_number(window: Any) -> Any:
    """``row_number()`` as SQL's BIGINT (Daft's is unsigned)."""
    return functions.row_number().over(window).cast(daft.DataType.int64()).alias("rn")


def w1(engine: Any, dataset: Any) -> Any:
    return engine.scan(dataset).select("g", "id", _row_number(_window()))


def w2(engine: Any, dataset: Any) -> Any:
    x = daft.col("x")
    return engine.scan(dataset).select(
        "g",
        "id",
        x.lag(1).over(_window()).alias("lag_x"),
        x.lead(1).over(_window()).alias("lead_x"),
    )


def w3(engine: Any, dataset: Any) -> Any:
    frame = _window().rows_between(-(MOVING_ROWS - 1), daft.Window.current_row)
    return engine.scan(dataset).select("g", "id", daft.col("x").mean().over(frame).alias("avg_x"))


def w4(engine: Any, dataset: Any) -> Any:
    frame = _window().rows_between(daft.Window.unbounded_preceding, daft.Window.current_row)
    return engine.scan(dataset).select("g", "id", daft.col("x").sum().over(frame).alias("sum_x"))


def w5(engine: Any, dataset: Any) -> Any:
    ranked = (
        daft.Window()
        .partition_by("g")
        .order_by("x", "id", desc=[True, False], nulls_first=[False, False])
    )
    return (
        engine.scan(dataset)
        .select("g", "id", "x", _row_number(ranked))
        .where(daft.col("rn") <= TOP)
        .select("g", "rn", "id", "x")
    )


QUERIES = {f"window_w{number}": query for number, query in enumerate((w1, w2, w3, w4, w5), 1)}
