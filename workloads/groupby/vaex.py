"""Vaex answers the groupby questions with ``groupby(by, agg={...})`` and ``vaex.agg``.

Each question's aggregations come from its spec, as ``vaex.agg.<function>(column)``.
"""

from __future__ import annotations

from functools import partial

from bakeoff.lazy import lazy_import
from workloads.groupby import WORKLOADS
from workloads.spec import Workload

vaex = lazy_import("vaex")


def aggregate(workload: Workload, engine, dataset):
    agg = {column: getattr(vaex.agg, how)(column) for column, how in workload.aggregations}
    return engine.scan(dataset).groupby(by=list(workload.keys), agg=agg)


QUERIES = {workload.name: partial(aggregate, workload) for workload in WORKLOADS}
