"""DataFusion answers the groupby questions with their canonical SQL, as DataFusion users
would: its dialect has every function they use (``median``, ``stddev``, ``corr``, ``power``)."""

from workloads import canonical_sql_queries
from workloads.groupby import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
