"""chDB answers the join questions with their canonical SQL. The adapter sets
``join_use_nulls = 1``, so a LEFT JOIN fills unmatched rows with NULL as SQL does (ClickHouse's
default is the column type's default value); ClickHouse's planner picks the join algorithm."""

from workloads import canonical_sql_queries
from workloads.join import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
