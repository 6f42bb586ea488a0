"""Vaex answers the join questions with ``DataFrame.join`` (``how="inner"`` or ``"left"``).

Vaex's join hashes the right table and looks up every key of x eagerly, but it returns x with
the right table's columns attached lazily (a take through the lookup): nothing of the result
is gathered until someone reads it. The answer is therefore every column evaluated in one
parallel pass (``evaluate``) into an in-memory DataFrame, as the adapter expects of a Vaex
result; ``materialize`` would only fill Vaex's shared column cache on a later read.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from workloads.join import JOINS, Join


def join(question: Join, engine: Any, dataset: Any) -> Any:
    right = engine.scan(dataset, question.right)[[question.on, *question.right_columns]]
    for column, name in question.right_columns.items():
        right.rename(column, name)
    joined = engine.scan(dataset, "x").join(right, on=question.on, how=question.how)
    return engine.in_memory(joined, list(question.columns))


QUERIES = {name: partial(join, question) for name, question in JOINS.items()}
