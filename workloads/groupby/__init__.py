"""db-benchmark's groupby questions on the G1-compatible ``groupby`` table: the basic q1-q5 and
the advanced q6-q10 (median and deviation, a range, the top two per group, a correlation, and
a group per row almost).

SQL semantics decide the edge cases: NULL keys form one group, NULL values are skipped, and an
aggregate over no values is NULL (a sum, a median, a correlation). The pandas references follow
them (``dropna=False``, ``min_count=1``); they are written from the definitions, not from any
engine's algorithm.

Aggregation questions declare ``aggregations`` as (result column, function) pairs; a function
is ``"sum"`` or ``"mean"`` of the column of the same name, or ``"count"``, SQL's ``count(*)``:
the group's rows, NULLs included, reading no column.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.lazy import lazy_import
from workloads.spec import Workload

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
pd = lazy_import("pandas")

# Standard deviations and correlations come from moments, by different algorithms: online
# (Welford) updates, two passes over the group, or plain sums of squares (Dask's groupby var,
# and q9 on Dask and Vaex: x2 - x**2 / n). The last loses about eps * mean**2 / variance of
# relative precision per group, unbounded for a small group of nearly equal values. 1e-6 leaves
# room for that and is still far below the smallest real mistake: ddof 0 instead of 1 moves a
# group of n rows by 1/(2n), 5e-5 for the 10^4-row groups of 1e8 rows; an approximate median,
# much more.
MOMENTS_REL_TOL = 1e-6


def _grouped(frame: pd.DataFrame, keys: list[str]) -> pd.api.typing.DataFrameGroupBy:
    """Group like SQL: NULL keys kept as one group."""
    return frame.groupby(keys, dropna=False, observed=True, sort=False)


def _groupby(frame: pd.DataFrame, keys: list[str], aggs: dict[str, str]) -> pd.DataFrame:
    """Aggregate like SQL: sums of only NULLs stay NULL, count(*) counts rows."""
    grouped = _grouped(frame, keys)
    columns = {}
    for column, how in aggs.items():
        if how == "sum":
            columns[column] = grouped[column].sum(min_count=1)
        elif how == "mean":
            columns[column] = grouped[column].mean()
        elif how == "count":
            columns[column] = grouped.size()
        else:
            raise ValueError(f"unknown aggregation {how!r}")
    return pd.DataFrame(columns).reset_index()


def _median_and_sd(frame: pd.DataFrame) -> pd.DataFrame:
    """q6: exact median (the mean of the middle two for an even count), sample deviation."""
    v3 = _grouped(frame, ["id4", "id5"])["v3"]
    return pd.DataFrame({"median_v3": v3.median(), "sd_v3": v3.std(ddof=1)}).reset_index()


def _range(frame: pd.DataFrame) -> pd.DataFrame:
    """q7: NULL where either extreme is NULL (a group whose v1 or v2 is all NULL)."""
    grouped = _grouped(frame, ["id3"])
    spread = grouped["v1"].max() - grouped["v2"].min()
    return spread.rename("range_v1_v2").reset_index()


def _largest_two(frame: pd.DataFrame) -> pd.DataFrame:
    """q8: the first two rows of each id6 in descending v3, as ``row_number() <= 2`` keeps."""
    ordered = frame.dropna(subset=["v3"]).sort_values("v3", ascending=False, kind="stable")
    return ordered.loc[_grouped(ordered, ["id6"]).cumcount() < 2, ["id6", "v3"]]


def _r_squared(frame: pd.DataFrame) -> pd.DataFrame:
    """q9: Pearson's r over the rows where both v1 and v2 are present, squared.

    Computed in two passes (deviations from the group means), and NULL where SQL's ``corr``
    is: fewer than two pairs, or a constant v1 or v2 (zero variance).
    """
    keys = ["id2", "id4"]
    both = frame["v1"].notna() & frame["v2"].notna()
    pairs = frame[keys].assign(x=frame["v1"].where(both), y=frame["v2"].where(both))
    grouped = _grouped(pairs, keys)
    dx = pairs["x"] - grouped["x"].transform("mean")
    dy = pairs["y"] - grouped["y"].transform("mean")
    sums = _grouped(pairs[keys].assign(xy=dx * dy, xx=dx * dx, yy=dy * dy), keys).sum()
    defined = (sums["xx"] > 0) & (sums["yy"] > 0)
    r2 = (sums["xy"] ** 2 / (sums["xx"] * sums["yy"])).where(defined)
    return r2.rename("r2").reset_index()


def _workload(
    number: int,
    question: str,
    sql: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    inputs: tuple[str, ...],
    reference: Callable[[pd.DataFrame], pd.DataFrame],
    **extra: object,
) -> Workload:
    return Workload(
        name=f"groupby_q{number}",
        family="groupby",
        table="groupby",
        question=question,
        sql=sql,
        columns=columns,
        keys=keys,
        input_columns=inputs,
        reference=reference,
        **extra,
    )


def _aggregation(
    number: int, question: str, sql: str, keys: tuple[str, ...], aggs: dict[str, str]
) -> Workload:
    """A question that is one set of aggregations by keys, declared for dataframe engines."""
    read = tuple(column for column, how in aggs.items() if how != "count")
    return _workload(
        number,
        question,
        sql,
        columns=(*keys, *aggs),
        keys=keys,
        inputs=(*keys, *read),
        reference=lambda frame: _groupby(frame, list(keys), aggs),
        aggregations=tuple(aggs.items()),
    )


WORKLOADS: tuple[Workload, ...] = (
    _aggregation(
        1,
        "sum v1 by id1 (few large groups)",
        "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1",
        ("id1",),
        {"v1": "sum"},
    ),
    _aggregation(
        2,
        "sum v1 by id1, id2 (K^2 groups)",
        "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
        ("id1", "id2"),
        {"v1": "sum"},
    ),
    _aggregation(
        3,
        "sum v1 and mean v3 by id3 (N/K groups, string key)",
        "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
        ("id3",),
        {"v1": "sum", "v3": "mean"},
    ),
    _aggregation(
        4,
        "mean v1, v2, v3 by id4 (few groups, integer key)",
        "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
        ("id4",),
        {"v1": "mean", "v2": "mean", "v3": "mean"},
    ),
    _aggregation(
        5,
        "sum v1, v2, v3 by id6 (N/K groups, integer key)",
        "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
        ("id6",),
        {"v1": "sum", "v2": "sum", "v3": "sum"},
    ),
    _workload(
        6,
        "median and standard deviation of v3 by id4, id5 (K^2 groups, exact median)",
        "SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5",
        columns=("id4", "id5", "median_v3", "sd_v3"),
        keys=("id4", "id5"),
        inputs=("id4", "id5", "v3"),
        reference=_median_and_sd,
        rel_tol=MOMENTS_REL_TOL,
    ),
    _workload(
        7,
        "max v1 - min v2 by id3 (N/K groups, an expression of aggregates)",
        "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3",
        columns=("id3", "range_v1_v2"),
        keys=("id3",),
        inputs=("id3", "v1", "v2"),
        reference=_range,
    ),
    _workload(
        8,
        "the two largest v3 by id6 (N/K groups, top-k per group)",
        "SELECT id6, v3 FROM ("
        "SELECT id6, v3, row_number() OVER (PARTITION BY id6 ORDER BY v3 DESC) AS rank_v3 "
        "FROM x WHERE v3 IS NOT NULL"
        ") AS ranked WHERE rank_v3 <= 2",
        columns=("id6", "v3"),
        # The values are the answer: which of two tied rows is kept cannot show, and sorting
        # by both columns orders the result completely.
        keys=("id6", "v3"),
        inputs=("id6", "v3"),
        reference=_largest_two,
    ),
    _workload(
        9,
        "squared correlation of v1 and v2 by id2, id4 (K^2 groups)",
        "SELECT id2, id4, power(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
        columns=("id2", "id4", "r2"),
        keys=("id2", "id4"),
        inputs=("id2", "id4", "v1", "v2"),
        reference=_r_squared,
        rel_tol=MOMENTS_REL_TOL,
    ),
    _aggregation(
        10,
        "sum v3 and count rows by id1..id6 (about one group per row)",
        "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count "
        "FROM x GROUP BY id1, id2, id3, id4, id5, id6",
        ("id1", "id2", "id3", "id4", "id5", "id6"),
        {"v3": "sum", "count": "count"},
    ),
)
