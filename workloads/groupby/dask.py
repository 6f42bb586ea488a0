"""Dask answers the groupby questions with ``groupby(..., dropna=False)`` on dask.dataframe.

Aggregation questions become one named ``agg`` built from their spec; the others use the same
grouped aggregations where they can, and Dask's documented shuffle where they cannot.
``dropna=False`` keeps the NULL-key group, as the SQL question does.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from workloads.groupby import WORKLOADS
from workloads.spec import Workload

# The spec's aggregation functions as Dask's. count(*) is ``size``: the rows of the group,
# NULLs included, whichever column it is given.
FUNCTIONS = {"sum": "sum", "mean": "mean", "count": "size"}


def _aggregate(frame: Any, keys: list[str], **named: tuple[str, str]) -> Any:
    """One pass of named aggregations (result=(column, function)), keys back as columns."""
    return frame.groupby(keys, dropna=False).agg(**named).reset_index()


def aggregate(workload: Workload, engine: Any, dataset: Any) -> Any:
    keys = list(workload.keys)
    frame = engine.scan(dataset)[list(workload.input_columns)]
    first_value = next(column for column in workload.input_columns if column not in keys)
    named = {
        result: (first_value if how == "count" else result, FUNCTIONS[how])
        for result, how in workload.aggregations
    }
    return _aggregate(frame, keys, **named)


def q6(engine: Any, dataset: Any) -> Any:
    """Dask's groupby ``median`` is exact (it shuffles); ``std`` has ddof=1, as SQL's stddev."""
    frame = engine.scan(dataset)[["id4", "id5", "v3"]]
    return _aggregate(frame, ["id4", "id5"], median_v3=("v3", "median"), sd_v3=("v3", "std"))


def q7(engine: Any, dataset: Any) -> Any:
    frame = engine.scan(dataset)[["id3", "v1", "v2"]]
    extremes = _aggregate(frame, ["id3"], v1=("v1", "max"), v2=("v2", "min"))
    return extremes.assign(range_v1_v2=extremes["v1"] - extremes["v2"])[["id3", "range_v1_v2"]]


def _largest_two(part: Any) -> Any:
    return part.sort_values("v3", ascending=False).groupby("id6", dropna=False).head(2)


def q8(engine: Any, dataset: Any) -> Any:
    """Top-k is not a reduction: ``shuffle`` puts each id6 whole in one partition, where pandas
    keeps each group's two largest in one vectorized step (``groupby().apply`` shuffles the
    same way, then calls Python once per group)."""
    frame = engine.scan(dataset)[["id6", "v3"]].dropna(subset=["v3"])
    return frame.shuffle("id6").map_partitions(_largest_two)


def q9(engine: Any, dataset: Any) -> Any:
    """Pearson's r from grouped sums over the rows where both v1 and v2 are present.

    Not ``groupby().corr()``: in dask 2026.8 it raises on a single-partition frame, and it
    counts each column's values apart rather than the complete pairs, which is not SQL's corr
    once values are NULL. A constant v1 or v2 has no correlation (NULL).
    """
    keys = ["id2", "id4"]
    frame = engine.scan(dataset)[[*keys, "v1", "v2"]]
    both = frame["v1"].notnull() & frame["v2"].notnull()
    x, y = frame["v1"].where(both), frame["v2"].where(both)
    pairs = frame[keys].assign(x=x, y=y, xx=x * x, yy=y * y, xy=x * y)
    sums = _aggregate(
        pairs,
        keys,
        n=("x", "count"),
        **{column: (column, "sum") for column in ("x", "y", "xx", "yy", "xy")},
    )
    var_x = sums["xx"] - sums["x"] ** 2 / sums["n"]
    var_y = sums["yy"] - sums["y"] ** 2 / sums["n"]
    cov = sums["xy"] - sums["x"] * sums["y"] / sums["n"]
    r2 = (cov**2 / (var_x * var_y)).where((var_x > 0) & (var_y > 0))
    return sums[keys].assign(r2=r2)


QUERIES = {
    **{
        workload.name: partial(aggregate, workload)
        for workload in WORKLOADS
        if workload.aggregations
    },
    "groupby_q6": q6,
    "groupby_q7": q7,
    "groupby_q8": q8,
    "groupby_q9": q9,
}
