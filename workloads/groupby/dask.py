"""Dask answers the groupby questions with ``groupby(..., dropna=False).agg`` on dask.dataframe.

Each question's aggregations come from its spec; ``dropna=False`` keeps the NULL-key group,
as the SQL question does.
"""

from __future__ import annotations

from functools import partial

from workloads.groupby import WORKLOADS
from workloads.spec import Workload


def aggregate(workload: Workload, engine, dataset):
    keys, aggregations = list(workload.keys), dict(workload.aggregations)
    frame = engine.scan(dataset)[[*keys, *aggregations]]
    return frame.groupby(keys, dropna=False).agg(aggregations).reset_index()


QUERIES = {workload.name: partial(aggregate, workload) for workload in WORKLOADS}
