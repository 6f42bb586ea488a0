"""Spark answers the window questions in Spark SQL, with the canonical statements."""

from workloads import canonical_sql_queries
from workloads.window import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
