"""chDB answers the window questions with their canonical SQL: ClickHouse has SQL's window
functions (``row_number``, ``lag``/``lead`` returning NULL past the partition's edge for a
Nullable column, ``ROWS`` frames) and ``NULLS LAST``."""

from workloads import canonical_sql_queries
from workloads.window import WORKLOADS

QUERIES = canonical_sql_queries(WORKLOADS)
