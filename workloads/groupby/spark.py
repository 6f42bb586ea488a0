"""Spark answers the groupby questions in Spark SQL, with the canonical statements."""

from workloads import canonical_sql_queries
from workloads.groupby import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
