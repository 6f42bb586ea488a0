"""chDB answers the groupby questions in ClickHouse SQL: the canonical statements where they
mean the same in ClickHouse, which is all but q6.

ClickHouse's ``median`` is ``quantile(0.5)``, an estimate from a reservoir sample, and its
``medianExact`` takes the upper of the two middle values of an even count. SQL's median is the
mean of those two; ``quantileExactInclusive(0.5)`` interpolates between them at the midpoint
(R-7), which is exactly that. ``stddev`` is ClickHouse's alias of ``stddevSamp`` (ddof 1) and
``power``/``corr`` are SQL's, so the rest runs as written; NULL keys form one group, and an
aggregate over only NULLs is NULL, as in SQL.
"""

from __future__ import annotations

from dataclasses import replace

from workloads import canonical_sql_queries
from workloads.groupby import WORKLOADS
from workloads.spec import Workload

# Canonical SQL -> ClickHouse SQL, per question: (what the canonical statement says, instead).
DIALECT = {"groupby_q6": ("median(v3)", "quantileExactInclusive(0.5)(v3)")}


def clickhouse(workload: Workload) -> Workload:
    """The question with its statement in ClickHouse's dialect where DIALECT says so."""
    if workload.name not in DIALECT:
        return workload
    canonical, dialect = DIALECT[workload.name]
    if canonical not in workload.sql:  # the canonical statement changed: look again
        raise ValueError(f"{workload.name}: {canonical!r} is not in {workload.sql!r}")
    return replace(workload, sql=workload.sql.replace(canonical, dialect))


QUERIES = canonical_sql_queries(tuple(clickhouse(workload) for workload in WORKLOADS))
