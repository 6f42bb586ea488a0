"""The basic groupby questions of db-benchmark (q1-q5), on the G1-compatible ``groupby`` table.

SQL semantics decide the edge cases: NULL keys form one group, and a sum over only NULLs is
NULL. The pandas references follow them (``dropna=False``, ``min_count=1``).
"""

from __future__ import annotations

import pandas as pd

from workloads.spec import Workload


def _groupby(frame: pd.DataFrame, keys: list[str], aggs: dict[str, str]) -> pd.DataFrame:
    """Group like SQL: NULL keys kept as a group, sums of only NULLs stay NULL."""
    grouped = frame.groupby(keys, dropna=False, observed=True, sort=False)
    columns = {}
    for column, how in aggs.items():
        if how == "sum":
            columns[column] = grouped[column].sum(min_count=1)
        elif how == "mean":
            columns[column] = grouped[column].mean()
        else:
            raise ValueError(f"unknown aggregation {how!r}")
    return pd.DataFrame(columns).reset_index()


def _spec(
    number: int, question: str, sql: str, keys: tuple[str, ...], aggs: dict[str, str]
) -> Workload:
    return Workload(
        name=f"groupby_q{number}",
        family="groupby",
        table="groupby",
        question=question,
        sql=sql,
        columns=(*keys, *aggs),
        keys=keys,
        input_columns=(*keys, *aggs),
        reference=lambda frame: _groupby(frame, list(keys), aggs),
        aggregations=tuple(aggs.items()),
    )


WORKLOADS: tuple[Workload, ...] = (
    _spec(
        1,
        "sum v1 by id1 (few large groups)",
        "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1",
        ("id1",),
        {"v1": "sum"},
    ),
    _spec(
        2,
        "sum v1 by id1, id2 (K^2 groups)",
        "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
        ("id1", "id2"),
        {"v1": "sum"},
    ),
    _spec(
        3,
        "sum v1 and mean v3 by id3 (N/K groups, string key)",
        "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
        ("id3",),
        {"v1": "sum", "v3": "mean"},
    ),
    _spec(
        4,
        "mean v1, v2, v3 by id4 (few groups, integer key)",
        "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
        ("id4",),
        {"v1": "mean", "v2": "mean", "v3": "mean"},
    ),
    _spec(
        5,
        "sum v1, v2, v3 by id6 (N/K groups, integer key)",
        "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
        ("id6",),
        {"v1": "sum", "v2": "sum", "v3": "sum"},
    ),
)
