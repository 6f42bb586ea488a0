"""Dask answers the window questions with Dask's documented pattern for per-group work that is
not a reduction: ``shuffle("g")`` puts each group whole in one partition, and
``map_partitions`` runs pandas' grouped window operations there, on the partition's rows in
window order (g, ts, id).

Dask's ``groupby().shift()`` and ``groupby().rolling`` cannot be given an order, and its
cumulative ``groupby().cumcount()``/``cumsum()`` need the whole frame sorted first (a second
shuffle, after a pass for the quantiles); in dask 2026.8 assigning their result back to the
frame also fails under the P2P shuffle (``KeyError: 0`` in the unpack phase). One shuffle by
``g`` serves every question.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from workloads.window import MOVING_ROWS, ORDER, TOP


def _by_group(columns: list[str], window: Callable[[Any], Any], engine: Any, dataset: Any) -> Any:
    """The window function on each partition of whole groups."""
    return engine.scan(dataset)[columns].shuffle("g").map_partitions(window)


def _ordered(part: Any) -> Any:
    """A partition's rows in window order, indexed 0..n-1 (the input's index repeats)."""
    return part.sort_values(ORDER, ignore_index=True)


def _row_number(part: Any) -> Any:
    ordered = _ordered(part)
    return ordered[["g", "id"]].assign(rn=ordered.groupby("g").cumcount() + 1)


def _lag_lead(part: Any) -> Any:
    ordered = _ordered(part)
    x = ordered.groupby("g")["x"]
    return ordered[["g", "id"]].assign(lag_x=x.shift(1), lead_x=x.shift(-1))


def _moving_average(part: Any) -> Any:
    """``rolling(min_periods=1)`` counts only non-NULL values: NULL for a window of NULLs."""
    ordered = _ordered(part)
    average = ordered.groupby("g")["x"].rolling(MOVING_ROWS, min_periods=1).mean()
    return ordered[["g", "id"]].assign(avg_x=average.droplevel("g"))


def _running_sum(part: Any) -> Any:
    """``cumsum`` leaves NaN where x is NULL; the group's forward fill makes it SQL's sum."""
    ordered = _ordered(part)
    running = ordered.groupby("g")["x"].cumsum().groupby(ordered["g"]).ffill()
    return ordered[["g", "id"]].assign(sum_x=running)


def _top_three(part: Any) -> Any:
    ranked = part.sort_values(
        ["g", "x", "id"], ascending=[True, False, True], na_position="last", ignore_index=True
    )
    top = ranked.groupby("g").head(TOP)
    return top.assign(rn=top.groupby("g").cumcount() + 1)[["g", "rn", "id", "x"]]


WINDOW = ["g", "ts", "id", "x"]
QUERIES = {
    "window_w1": partial(_by_group, ["g", "ts", "id"], _row_number),
    "window_w2": partial(_by_group, WINDOW, _lag_lead),
    "window_w3": partial(_by_group, WINDOW, _moving_average),
    "window_w4": partial(_by_group, WINDOW, _running_sum),
    "window_w5": partial(_by_group, ["g", "id", "x"], _top_three),
}
