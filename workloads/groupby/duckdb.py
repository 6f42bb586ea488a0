"""DuckDB answers the groupby questions with their canonical SQL, as DuckDB users would."""

from workloads import canonical_sql_queries
from workloads.groupby import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
