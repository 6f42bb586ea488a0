"""DuckDB answers the window questions with SQL, as DuckDB users would.

w1-w4 are their canonical statements. w5 (top three per group) orders by one composite key,
``(x IS NOT NULL, x, -id) DESC``, the same order as ``x DESC NULLS LAST, id``: DuckDB rewrites a
``row_number() … <= n`` filter over a single sort key into a grouped ``arg_max(…, n)`` (its
top-N window optimization) and sorts every partition in full for two keys. Same rows, NULLs
and ties included; at 1e6 rows the plan is a hash aggregate instead of a window sort, about
4x faster. Polars answers the same question with its dedicated ``top_k_by``.
"""

from __future__ import annotations

from typing import Any

from workloads import canonical_sql_queries
from workloads.window import TOP, WORKLOADS

TOP_THREE = (
    "SELECT g, row_number() OVER (PARTITION BY g ORDER BY (x IS NOT NULL, x, -id) DESC) AS rn, "
    f"id, x FROM x QUALIFY rn <= {TOP}"
)


def top_three(engine: Any, dataset: Any) -> Any:
    return engine.sql(dataset, TOP_THREE)


QUERIES = {**canonical_sql_queries(WORKLOADS), "window_w5": top_three}
