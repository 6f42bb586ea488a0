"""Polars answers the join questions with ``LazyFrame.join``; the planner picks the build side."""

from __future__ import annotations

from functools import partial
from typing import Any

from workloads.join import JOINS, Join


def join(question: Join, engine: Any, dataset: Any) -> Any:
    right = engine.scan(dataset, question.right).select(question.on, *question.right_columns)
    return engine.scan(dataset, "x").join(
        right.rename(question.right_columns), on=question.on, how=question.how
    )


QUERIES = {name: partial(join, question) for name, question in JOINS.items()}
