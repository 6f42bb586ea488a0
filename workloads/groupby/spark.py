"""Spark answers the groupby questions in Spark SQL, with the canonical statements."""

from __future__ import annotations

from functools import partial

from workloads.groupby import WORKLOADS


def run_sql(statement: str, engine, dataset):
    return engine.sql(dataset, statement)


QUERIES = {workload.name: partial(run_sql, workload.sql) for workload in WORKLOADS}
