"""DataFusion answers the join questions with their canonical SQL; its planner picks the join
(a partitioned or a collect-left hash join, by the right side's size)."""

from workloads import canonical_sql_queries
from workloads.join import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
