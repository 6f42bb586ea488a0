"""Daft answers the join questions with ``DataFrame.join``; its planner picks broadcast or hash.

The right table is read with only its key and its other columns, renamed as the result names
them (``medium_id1``), so the join's output is exactly the question's columns.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared.lazy import lazy_import
from workloads.join import JOINS, Join

daft = lazy_import("daft")


def join(question: Join, engine: Any, dataset: Any) -> Any:
    right = engine.scan(dataset, question.right).select(
        question.on,
        *(daft.col(column).alias(name) for column, name in question.right_columns.items()),
    )
    return engine.scan(dataset, "x").join(right, on=question.on, how=question.how)


QUERIES = {name: partial(join, question) for name, question in JOINS.items()}
