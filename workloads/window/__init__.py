"""Window functions over the ``window`` table: row numbers, lag and lead, a moving average, a
running sum and a top three, each partitioned by ``g``.

The order inside a partition is always ``ts`` then ``id``: timestamps can tie within a group
(rarely), ``id`` is unique, so every row has exactly one place and every answer exactly one
value. w1-w4 return one row per input row, keyed by ``id``; w5 returns three rows per group.

SQL semantics decide the NULL cases (``--null-pct`` makes ``x`` NULL in some rows), and the
pandas references follow them, written from the definitions rather than from any engine's
algorithm:

- ``lag``/``lead`` return the neighbouring row's ``x`` as it is: NULL when that row's ``x`` is
  NULL, or when there is no such row in the partition.
- ``avg`` over a frame skips NULLs and is NULL for a frame of only NULLs (10 rows at most:
  the current one and the 9 before it in the partition).
- a running ``sum`` skips NULLs and is NULL until the partition's first non-NULL ``x``; a NULL
  ``x`` after that repeats the running sum so far.
- the top three by ``x DESC NULLS LAST, id``: NULL ``x`` sorts after every value, so a NULL
  row is kept only in a group with fewer than three values.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.lazy import lazy_import
from workloads.spec import Workload

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
np = lazy_import("numpy")
pd = lazy_import("pandas")

PARTITION = "PARTITION BY g ORDER BY ts, id"
ORDER = ["g", "ts", "id"]  # a group's rows in window order
MOVING_ROWS = 10  # the moving average's frame: the current row and the 9 before it
TOP = 3


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in window order."""
    return frame.sort_values(ORDER, kind="stable", ignore_index=True)


def _x(frame: pd.DataFrame) -> np.ndarray:
    """x as float64, NaN for NULL."""
    return frame["x"].to_numpy(dtype="float64", na_value=np.nan)


def _shifted(ordered: pd.DataFrame, values: np.ndarray, rows: int) -> np.ndarray:
    """The value ``rows`` rows earlier (later, if negative) in the same group, else NaN."""
    groups = ordered["g"].to_numpy()
    out = np.full(len(values), np.nan)
    position = np.arange(len(values)) - rows
    inside = (position >= 0) & (position < len(values))
    source = position[inside]
    same = groups[source] == groups[inside]
    out[np.flatnonzero(inside)[same]] = values[source[same]]
    return out


def _row_number(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = _ordered(frame)
    rn = ordered.groupby("g", sort=False).cumcount() + 1
    return ordered[["g", "id"]].assign(rn=rn.astype("int64"))


def _lag_lead(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = _ordered(frame)
    x = _x(ordered)
    return ordered[["g", "id"]].assign(
        lag_x=_shifted(ordered, x, 1), lead_x=_shifted(ordered, x, -1)
    )


def _moving_average(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum and count of the non-NULL x among the frame's rows, row by row of the frame."""
    ordered = _ordered(frame)
    x = _x(ordered)
    total, count = np.zeros(len(x)), np.zeros(len(x))
    for back in range(MOVING_ROWS):
        value = _shifted(ordered, x, back)
        present = ~np.isnan(value)
        total[present] += value[present]
        count += present
    average = np.divide(total, count, out=np.full(len(x), np.nan), where=count > 0)
    return ordered[["g", "id"]].assign(avg_x=average)


def _running_sum(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = _ordered(frame)
    x = _x(ordered)
    grouped = pd.DataFrame({"g": ordered["g"], "x": np.nan_to_num(x), "seen": ~np.isnan(x)})
    sums = grouped.groupby("g", sort=False)[["x", "seen"]].cumsum()
    return ordered[["g", "id"]].assign(sum_x=sums["x"].where(sums["seen"] > 0))


def _top_three(frame: pd.DataFrame) -> pd.DataFrame:
    """Each group's rows by x descending, NULL last, id ascending; the first three."""
    ranked = frame.assign(x=_x(frame)).sort_values(
        ["g", "x", "id"], ascending=[True, False, True], na_position="last", kind="stable"
    )
    rn = ranked.groupby("g", sort=False).cumcount() + 1
    return ranked.assign(rn=rn.astype("int64")).loc[rn <= TOP, ["g", "rn", "id", "x"]]


def _workload(
    number: int,
    question: str,
    sql: str,
    columns: tuple[str, ...],
    reference: Callable[[pd.DataFrame], pd.DataFrame],
    keys: tuple[str, ...] = ("id",),
    inputs: tuple[str, ...] = ("g", "ts", "id", "x"),
) -> Workload:
    return Workload(
        name=f"window_w{number}",
        family="window",
        table="window",
        question=question,
        sql=sql,
        columns=columns,
        keys=keys,
        input_columns=inputs,
        reference=reference,
    )


WORKLOADS: tuple[Workload, ...] = (
    _workload(
        1,
        "row number of every row within its group g, in order of ts then id",
        f"SELECT g, id, row_number() OVER ({PARTITION}) AS rn FROM x",
        columns=("g", "id", "rn"),
        reference=_row_number,
        inputs=("g", "ts", "id"),
    ),
    _workload(
        2,
        "x of the previous and of the next row within the group (lag and lead)",
        f"SELECT g, id, lag(x, 1) OVER ({PARTITION}) AS lag_x, "
        f"lead(x, 1) OVER ({PARTITION}) AS lead_x FROM x",
        columns=("g", "id", "lag_x", "lead_x"),
        reference=_lag_lead,
    ),
    _workload(
        3,
        "moving average of x over the row and the 9 before it in its group (NULLs skipped)",
        f"SELECT g, id, avg(x) OVER ({PARTITION} "
        f"ROWS BETWEEN {MOVING_ROWS - 1} PRECEDING AND CURRENT ROW) AS avg_x FROM x",
        columns=("g", "id", "avg_x"),
        reference=_moving_average,
    ),
    _workload(
        4,
        "running sum of x within the group (NULL until the group's first value)",
        f"SELECT g, id, sum(x) OVER ({PARTITION} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sum_x FROM x",
        columns=("g", "id", "sum_x"),
        reference=_running_sum,
    ),
    _workload(
        5,
        "the three rows of each group with the largest x (NULL last, ties by id)",
        "SELECT g, rn, id, x FROM ("
        "SELECT g, id, x, row_number() OVER (PARTITION BY g ORDER BY x DESC NULLS LAST, id) "
        f"AS rn FROM x) AS ranked WHERE rn <= {TOP}",
        columns=("g", "rn", "id", "x"),
        reference=_top_three,
        keys=("g", "rn"),
        inputs=("g", "id", "x"),
    ),
)
