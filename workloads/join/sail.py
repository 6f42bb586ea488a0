"""Sail answers the join questions in Spark SQL, as Spark does (workloads/join/spark.py), with
x's columns named one by one instead of ``x.*``.

After ``JOIN … USING (key)`` Sail's ``x.*`` leaves the key out, and ``x.key`` does not resolve
(Spark keeps the key in ``x.*``: it is one of x's columns), so the canonical statement would
lose the key column. The statement here names x's columns, the key by its unqualified name,
which ``USING`` gives the value of x's key (in a LEFT JOIN too: x is the left side); it asks
the same question and plans the same join."""

from __future__ import annotations

from functools import partial
from typing import Any

from workloads.join import JOINS, X_COLUMNS, Join

X_STAR = "x.*"


def statement(join: Join) -> str:
    """The canonical statement with x's columns named (the key unqualified)."""
    named = ", ".join(column if column == join.on else f"x.{column}" for column in X_COLUMNS)
    return join.sql.replace(X_STAR, named, 1)


def run(sql: str, engine: Any, dataset: Any) -> Any:
    return engine.sql(dataset, sql)


QUERIES = {name: partial(run, statement(join)) for name, join in JOINS.items()}
