"""db-benchmark's join questions q1-q5 on the ``join`` dataset: x joined with small, medium and
big on integer and string keys, inner and left.

Every join is many-to-one (the right table holds its key once), so the result has at most one
row per row of x, and x's unique ``id3`` identifies it. The result is every column of x, then
the right table's other columns, named as db-benchmark names them: its ids prefixed with the
table's name (``medium_id1``), its value ``v2`` as is. A left join keeps the rows of x without
a match, with NULLs in the right table's columns.

Each question is a :class:`Join` (right table, key, kind); the canonical SQL, the pandas
reference and the dataframe engines' calls are all built from it, so they cannot disagree on
a column name.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.lazy import lazy_import
from workloads.spec import Workload

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
pd = lazy_import("pandas")

X_COLUMNS = ("id1", "id2", "id3", "id4", "id5", "id6", "v1")
RIGHT_TABLE_COLUMNS = {
    "small": ("id1", "id4", "v2"),
    "medium": ("id1", "id2", "id4", "id5", "v2"),
    "big": ("id1", "id2", "id3", "id4", "id5", "id6", "v2"),
}
VALUE = "v2"  # the right tables' value column, kept under its own name


@dataclass(frozen=True)
class Join:
    """x joined with ``right`` on the column ``on`` (same name on both sides)."""

    right: str  # small, medium or big
    on: str
    how: str  # "inner" or "left"

    @property
    def right_columns(self) -> dict[str, str]:
        """The right table's columns other than the key, by their name in the result."""
        return {
            column: column if column == VALUE else f"{self.right}_{column}"
            for column in RIGHT_TABLE_COLUMNS[self.right]
            if column != self.on
        }

    @property
    def columns(self) -> tuple[str, ...]:
        return (*X_COLUMNS, *self.right_columns.values())

    @property
    def sql(self) -> str:
        selected = ", ".join(
            f"{self.right}.{column} AS {name}" for column, name in self.right_columns.items()
        )
        kind = "JOIN" if self.how == "inner" else "LEFT JOIN"
        return f"SELECT x.*, {selected} FROM x {kind} {self.right} USING ({self.on})"

    def reference(self, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """pandas' merge, checked many-to-one, on the right table with its columns renamed."""
        right = frames[self.right][[self.on, *self.right_columns]]
        return frames["x"][list(X_COLUMNS)].merge(
            right.rename(columns=self.right_columns),
            on=self.on,
            how=self.how,
            validate="many_to_one",
        )


JOINS: dict[str, Join] = {
    "join_q1": Join("small", "id1", "inner"),
    "join_q2": Join("medium", "id2", "inner"),
    "join_q3": Join("medium", "id2", "left"),
    "join_q4": Join("medium", "id5", "inner"),
    "join_q5": Join("big", "id3", "inner"),
}

QUESTIONS = {
    "join_q1": "x inner join small on id1 (a small right table, integer key)",
    "join_q2": "x inner join medium on id2 (a medium right table, integer key)",
    "join_q3": "x left join medium on id2 (unmatched rows of x kept with NULLs)",
    "join_q4": "x inner join medium on id5 (a medium right table, string key)",
    "join_q5": "x inner join big on id3 (a right table as large as x, integer key)",
}


def _workload(name: str, join: Join) -> Workload:
    return Workload(
        name=name,
        family="join",
        table="join",
        question=QUESTIONS[name],
        sql=join.sql,
        columns=join.columns,
        keys=("id3",),  # unique in x, and a many-to-one join keeps each row of x at most once
        input_columns=(),
        reference=join.reference,
        reads=("x", join.right),
    )


WORKLOADS: tuple[Workload, ...] = tuple(_workload(name, join) for name, join in JOINS.items())
