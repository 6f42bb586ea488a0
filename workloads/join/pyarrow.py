"""pyarrow answers the join questions with Acero's ``hashjoin`` node on two scans.

Acero builds its hash table on the right input, the smaller table in every question here (x
is the probe side, as db-benchmark's many-to-one joins are meant). The right table is read with
its columns renamed as the question names them, so nothing collides and no suffix is needed;
the key is kept from x (``left_output``), which is USING's single key column.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared.lazy import lazy_import
from workloads.join import JOINS, X_COLUMNS, Join

acero = lazy_import("pyarrow.acero")

JOIN_TYPES = {"inner": "inner", "left": "left outer"}


def join(question: Join, engine: Any, dataset: Any) -> Any:
    renamed = question.right_columns
    columns = [question.on, *renamed]
    right = engine.read(dataset, columns, question.right, [question.on, *renamed.values()])
    options = acero.HashJoinNodeOptions(
        JOIN_TYPES[question.how],
        left_keys=question.on,
        right_keys=question.on,
        left_output=list(X_COLUMNS),
        right_output=list(renamed.values()),
    )
    return acero.Declaration(
        "hashjoin", options, inputs=[engine.read(dataset, list(X_COLUMNS), "x"), right]
    )


QUERIES = {name: partial(join, question) for name, question in JOINS.items()}
