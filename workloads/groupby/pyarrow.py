"""pyarrow answers the groupby questions with Acero plans (scan, project, hash aggregate) and,
where Acero has no aggregate for the question, with ``pyarrow.compute`` on the sorted rows.

Acero's ``hash_sum``/``hash_mean`` skip NULLs and are NULL for a group of only NULLs
(``min_count=1``), and a NULL key is a group of its own, as in SQL. Acero has no exact median
(only ``hash_approximate_median``, a t-digest; an exact hash quantile is apache/arrow#28985)
and no correlation. q6 sorts the rows by (id4, id5, v3) and takes each group's middle values;
q8, a top two per group, takes the first two rows of each group of the rows sorted by
(id6, v3 descending); q9 computes the correlation from grouped integer moments. A group of
sorted rows is found from where its keys change, never from the order of a ``group_by``'s
output: Acero's, even single-threaded, need not follow the input's (on two int32 keys it did
not here).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared.lazy import lazy_import
from workloads.groupby import WORKLOADS
from workloads.spec import Workload

pa = lazy_import("pyarrow")
pc = lazy_import("pyarrow.compute")
acero = lazy_import("pyarrow.acero")

# The spec's aggregation functions as Acero's; count(*) counts rows and reads no column.
FUNCTIONS = {"sum": "hash_sum", "mean": "hash_mean", "count": "hash_count_all"}


def chain(source: Any, *nodes: Any) -> Any:
    return acero.Declaration.from_sequence([source, *nodes])


def aggregate(keys: list[str], *aggregates: tuple[Any, str, Any, str]) -> Any:
    """A hash aggregate node: (column or [], function, options, result name) per result."""
    return acero.Declaration("aggregate", acero.AggregateNodeOptions(list(aggregates), keys=keys))


def project(**expressions: Any) -> Any:
    """A projection node: result name = expression, in order."""
    return acero.Declaration(
        "project", acero.ProjectNodeOptions(list(expressions.values()), list(expressions))
    )


def aggregation(workload: Workload, engine: Any, dataset: Any) -> Any:
    keys = list(workload.keys)
    aggregates = [
        ([] if how == "count" else column, FUNCTIONS[how], None, column)
        for column, how in workload.aggregations
    ]
    return chain(engine.read(dataset, list(workload.input_columns)), aggregate(keys, *aggregates))


def positions(length: int) -> Any:
    """1 .. length, as int64."""
    return pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), length))


def shifted(column: Any, rows: int) -> Any:
    """``column`` moved ``rows`` down (up, if negative): row i holds row i - rows, NULL where
    there is none."""
    length = len(column)
    rows = max(-length, min(rows, length))
    if rows >= 0:
        parts = [pa.nulls(rows, column.type), *column.slice(0, length - rows).chunks]
    else:
        parts = [*column.slice(-rows).chunks, pa.nulls(-rows, column.type)]
    return pa.chunked_array(parts, type=column.type)


def run_starts(columns: list[Any]) -> Any:
    """True on each row whose values of ``columns`` differ from the row before (NULL equals
    NULL, as a group key), and on the first row."""
    starts = pc.equal(positions(len(columns[0])), 1)
    for column in columns:
        before = shifted(column, 1)
        nulls_differ = pc.xor(pc.is_null(column), pc.is_null(before))
        starts = pc.or_(starts, pc.fill_null(pc.not_equal(column, before), nulls_differ))
    return starts


def sort_rows(table: Any, order: list[tuple[str, str, str]]) -> Any:
    """``table`` sorted by ``order``, as one chunk: pyarrow sorts a table of many chunks (one
    per scanned batch) by merging per-chunk orders, several times slower than one chunk."""
    return table.combine_chunks().sort_by(order)


def sorted_groups(
    table: Any, keys: list[str], order: list[tuple[str, str]], *extra: tuple[Any, ...]
) -> tuple[Any, Any]:
    """``table`` sorted by ``keys`` then ``order`` (NULLs last), and its groups in that order:
    the keys, ``start`` (the group's first row), ``count_all`` (its rows) and the ``extra``
    aggregates (Acero's, over a group number; its output order is not the input's)."""
    sort = [(key, "ascending", "at_end") for key in keys] + [(*o, "at_end") for o in order]
    ordered = sort_rows(table, sort)
    starts = run_starts([ordered[key] for key in keys])
    number = pc.subtract(pc.cumulative_sum(pc.cast(starts, pa.int64())), 1)
    aggregated = (
        ordered.append_column("group", number)
        .group_by("group")
        .aggregate([([], "count_all"), *extra])
        .sort_by("group")
    )
    first = pc.cast(pc.indices_nonzero(starts), pa.int64())
    groups = ordered.select(keys).take(first).append_column("start", first)
    for name in aggregated.column_names:
        if name != "group":
            groups = groups.append_column(name, aggregated[name])
    return ordered, groups


def q6(engine: Any, dataset: Any) -> Any:
    """Exact median: the mean of each group's middle two non-NULL v3 (NULLs sort after them),
    one value when the count is odd; sample deviation (ddof 1) from Acero's ``hash_stddev``."""
    keys = ["id4", "id5"]
    table = engine.read(dataset, [*keys, "v3"]).to_table(use_threads=True)
    ordered, groups = sorted_groups(
        table,
        keys,
        [("v3", "ascending")],
        ("v3", "count"),
        ("v3", "stddev", pc.VarianceOptions(ddof=1)),
    )
    count = groups["v3_count"]
    half_down = pc.divide(pc.max_element_wise(pc.subtract(count, 1), 0), 2)
    lower = ordered["v3"].take(pc.add(groups["start"], half_down))
    upper = ordered["v3"].take(pc.add(groups["start"], pc.divide(count, 2)))
    median = pc.if_else(pc.greater(count, 0), pc.divide(pc.add(lower, upper), 2.0), None)
    return pa.table(
        {
            "id4": groups["id4"],
            "id5": groups["id5"],
            "median_v3": median,
            "sd_v3": groups["v3_stddev"],
        }
    )


def q7(engine: Any, dataset: Any) -> Any:
    return chain(
        engine.read(dataset, ["id3", "v1", "v2"]),
        aggregate(["id3"], ("v1", "hash_max", None, "v1"), ("v2", "hash_min", None, "v2")),
        project(id3=pc.field("id3"), range_v1_v2=pc.subtract(pc.field("v1"), pc.field("v2"))),
    )


def q8(engine: Any, dataset: Any) -> Any:
    """The first row of every group of the rows sorted by id6 then v3 descending, and the
    second of every group that has one."""
    plan = chain(
        engine.read(dataset, ["id6", "v3"]),
        acero.Declaration("filter", acero.FilterNodeOptions(pc.is_valid(pc.field("v3")))),
    )
    ordered, groups = sorted_groups(
        plan.to_table(use_threads=True), ["id6"], [("v3", "descending")]
    )
    second = pc.filter(pc.add(groups["start"], 1), pc.greater(groups["count_all"], 1))
    rows = pa.chunked_array([*groups["start"].chunks, *second.chunks], type=pa.int64())
    return ordered.take(rows)


def pair_moments(source: Any, keys: list[str], x: str, y: str) -> Any:
    """Per group, over the rows where both integer columns ``x`` and ``y`` are present: ``n``
    and the centred co-moments times n, ``sxx`` = n Σx² - (Σx)², ``syy`` and ``sxy`` likewise,
    exact in int64 (a one-pass formula loses nothing on integers), and ``sx``, ``sy``."""
    both = pc.and_kleene(pc.is_valid(pc.field(x)), pc.is_valid(pc.field(y)))
    none = pa.scalar(None, pa.int64())
    px, py = pc.if_else(both, pc.field(x), none), pc.if_else(both, pc.field(y), none)
    total = pc.ScalarAggregateOptions(min_count=0)  # an empty sum is 0 here, n says it is empty
    sums = [(name, "hash_sum", total, name) for name in ("x", "y", "xx", "yy", "xy")]
    n, sx, sy = pc.field("n"), pc.field("x"), pc.field("y")

    def comoment(product: str, a: Any, b: Any) -> Any:
        return pc.subtract_checked(
            pc.multiply_checked(n, pc.field(product)), pc.multiply_checked(a, b)
        )

    return chain(
        source,
        project(
            **{key: pc.field(key) for key in keys},
            x=px,
            y=py,
            xx=pc.multiply_checked(px, px),
            yy=pc.multiply_checked(py, py),
            xy=pc.multiply_checked(px, py),
        ),
        aggregate(keys, ("x", "hash_count", None, "n"), *sums),
        project(
            **{key: pc.field(key) for key in keys},
            n=n,
            sx=sx,
            sy=sy,
            sxx=comoment("xx", sx, sx),
            syy=comoment("yy", sy, sy),
            sxy=comoment("xy", sx, sy),
        ),
    )


def as_float(name: str) -> Any:
    return pc.field(name).cast(pa.float64())


def q9(engine: Any, dataset: Any) -> Any:
    """r² = sxy² / (sxx syy), NULL where v1 or v2 does not vary (or fewer than two pairs)."""
    keys = ["id2", "id4"]
    sxx, syy, sxy = as_float("sxx"), as_float("syy"), as_float("sxy")
    varies = pc.and_kleene(pc.greater(pc.field("sxx"), 0), pc.greater(pc.field("syy"), 0))
    r2 = pc.divide(pc.multiply(sxy, sxy), pc.multiply(sxx, syy))
    return chain(
        pair_moments(engine.read(dataset, [*keys, "v1", "v2"]), keys, "v1", "v2"),
        project(
            **{key: pc.field(key) for key in keys},
            r2=pc.if_else(varies, r2, pa.scalar(None, pa.float64())),
        ),
    )


QUERIES = {
    **{
        workload.name: partial(aggregation, workload)
        for workload in WORKLOADS
        if workload.aggregations
    },
    "groupby_q6": q6,
    "groupby_q7": q7,
    "groupby_q8": q8,
    "groupby_q9": q9,
}
