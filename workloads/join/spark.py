"""Spark answers the join questions with their canonical SQL; its own planner picks the join."""

from workloads import canonical_sql_queries
from workloads.join import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
