"""DataFusion answers the window questions with their canonical SQL, as DataFusion users would."""

from workloads import canonical_sql_queries
from workloads.window import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
