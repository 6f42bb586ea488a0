"""Dask answers the join questions with ``merge`` of two dask dataframes.

No ``broadcast=`` hint: dask-expr's planner broadcasts a right table of one partition (small
and medium) and otherwise chooses between a broadcast and a hash join by partition counts.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from workloads.join import JOINS, Join


def merge(question: Join, engine: Any, dataset: Any) -> Any:
    right = engine.scan(dataset, question.right)[[question.on, *question.right_columns]]
    return engine.scan(dataset, "x").merge(
        right.rename(columns=question.right_columns), on=question.on, how=question.how
    )


QUERIES = {name: partial(merge, question) for name, question in JOINS.items()}
