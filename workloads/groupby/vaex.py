"""Vaex answers the groupby questions with ``groupby(by, agg={...})`` and ``vaex.agg``.

Aggregation questions take their aggregators from the spec; the others combine aggregators
arithmetically (``vaex.agg.max("v1") - vaex.agg.min("v2")``), which Vaex evaluates per group
in the same pass.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared.lazy import lazy_import
from workloads.groupby import WORKLOADS
from workloads.spec import Workload

vaex = lazy_import("vaex")


def _aggregator(column: str, how: str) -> Any:
    """The spec's aggregation as a Vaex aggregator; count(*) is ``count()`` of no column."""
    return vaex.agg.count() if how == "count" else getattr(vaex.agg, how)(column)


def aggregate(workload: Workload, engine: Any, dataset: Any) -> Any:
    agg = {column: _aggregator(column, how) for column, how in workload.aggregations}
    return engine.scan(dataset).groupby(by=list(workload.keys), agg=agg)


def q7(engine: Any, dataset: Any) -> Any:
    range_v1_v2 = vaex.agg.max("v1") - vaex.agg.min("v2")
    return engine.scan(dataset).groupby(by=["id3"], agg={"range_v1_v2": range_v1_v2})


def q9(engine: Any, dataset: Any) -> Any:
    """Pearson's r from per-group moments over the rows where both v1 and v2 are present.

    vaex.agg has no correlation aggregator; its ``mean`` and ``var`` (population, consistent
    with the covariance below) restricted by a selection compute the same thing. A constant
    v1 or v2 has no correlation: missing (NULL), not the inf a zero division gives.
    """
    both = "~(ismissing(v1) | ismissing(v2))"

    def mean(expression: str) -> Any:
        return vaex.agg.mean(expression, selection=both)

    moments = engine.scan(dataset).groupby(
        by=["id2", "id4"],
        agg={
            "cov_xy": mean("v1 * v2") - mean("v1") * mean("v2"),
            "var_x": vaex.agg.var("v1", selection=both),
            "var_y": vaex.agg.var("v2", selection=both),
        },
    )
    cov_xy, var_x, var_y = moments["cov_xy"], moments["var_x"], moments["var_y"]
    defined = (var_x > 0) & (var_y > 0)
    moments["r2"] = moments.func.where(defined, cov_xy**2 / (var_x * var_y), None)
    return engine.in_memory(moments, ["id2", "id4", "r2"])


QUERIES = {
    **{
        workload.name: partial(aggregate, workload)
        for workload in WORKLOADS
        if workload.aggregations
    },
    "groupby_q7": q7,
    "groupby_q9": q9,
}

UNSUPPORTED = {
    "groupby_q6": "Vaex has no exact median: vaex.agg has no median aggregator "
    "(vaexio/vaex#304), and DataFrame.median_approx estimates one from a histogram, which is "
    "a different question",
    "groupby_q8": "Vaex has no per-group top-k: no window functions, row numbers, "
    "groupby().head(n) (vaexio/vaex#823) or n-largest aggregator; vaex.agg.first with an "
    "order expression gives only the largest",
}
