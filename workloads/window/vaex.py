"""Vaex answers w1, w2, w3 and w5 on the rows sorted into window order, by their positions.

Vaex has no window functions (its groupby returns one row per group), but its public API has
what a window over sorted rows needs. ``sort`` orders the rows eagerly (pyarrow's sort indices;
missing values go last in either direction, as ``NULLS LAST`` wants) and returns a lazy take of
them. A row's number in its group is its position (``vrange``) less the position of its
group's first row, which a grouped ``min`` of the position gives and a left ``join`` on g brings
back (the join hashes its right table: one row per group). ``shift`` moves columns by a number
of rows over the whole frame; ``where`` keeps a moved x only where the moved g is the row's own,
so lag, lead and the moving average's frame stop at group boundaries, and a NULL x moves as
NULL. The moving average spells out its frame: the row's x and nine shifted ones.

The sort, the groupby and the join's lookup are eager, but the result's columns stay lazy (a
take over the Parquet files, shifts, a filter): the answer is every result column evaluated in
one parallel pass (``evaluate``) into an in-memory DataFrame, as the adapter expects of a Vaex
result. ``materialize`` would not compute them: for a real column it only wraps the dataset in
Vaex's column cache, filled on a later read and shared by every DataFrame of the same data (a
later sample would read it instead of the files).

w4 is unsupported: Vaex has no cumulative sum, per group or over the whole frame
(vaexio/vaex#540, #743), and a running sum's frame is unbounded (the group so far): it cannot
be spelled out as a fixed number of shifts, as the 10-row frame is.
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.window import MOVING_ROWS, ORDER, TOP

vaex = lazy_import("vaex")


def _numbered(ordered: Any) -> Any:
    """The sorted rows with ``rn``: the position in the frame less the group's first one."""
    ordered["position"] = vaex.vrange(0, len(ordered), dtype="int64")
    starts = ordered.groupby("g", agg={"start": vaex.agg.min("position")})
    numbered = ordered.join(starts, on="g", how="left")
    numbered["rn"] = numbered.position - numbered.start + 1
    return numbered


def _neighbours(ordered: Any, offsets: dict[str, int]) -> Any:
    """Per name, x of the row ``offset`` rows earlier (later, if negative) in the same group.

    Each name gets its own copies of x and g, all made before the first ``shift`` (which renames
    the columns it moves: a copy made after it cannot be shifted again in vaex 4.19). A row
    with no such neighbour has a missing shifted g, so the condition is missing and so is the
    value, as is a NULL x.
    """
    for name in offsets:
        ordered[f"__{name}_x"] = ordered.x
        ordered[f"__{name}_g"] = ordered.g
    for name, rows in offsets.items():
        ordered = ordered.shift(rows, [f"__{name}_x", f"__{name}_g"])
    for name in offsets:
        same_group = ordered[f"__{name}_g == g"]  # a string: no probe (see w3)
        ordered[name] = ordered.func.where(same_group, ordered[f"__{name}_x"], None)
    return ordered


def w1(engine: Any, dataset: Any) -> Any:
    ordered = engine.scan(dataset)[["g", "ts", "id"]].sort(ORDER)
    return engine.in_memory(_numbered(ordered), ["g", "id", "rn"])


def w2(engine: Any, dataset: Any) -> Any:
    ordered = engine.scan(dataset)[["g", "ts", "id", "x"]].sort(ORDER)
    both = _neighbours(ordered, {"lag_x": 1, "lead_x": -1})
    return engine.in_memory(both, ["g", "id", "lag_x", "lead_x"])


def w3(engine: Any, dataset: Any) -> Any:
    """The frame's x as ten columns: the row's own and nine shifted back within the group.

    A missing x (NULL, or no such row in the group) adds nothing to the sum or the count; a
    frame with no value has no average. The sum and the count are written as one expression
    string each: combining expressions with Python operators makes Vaex evaluate every operand's
    first rows to learn its type, a read of the Parquet files through the sort per operand.
    """
    ordered = engine.scan(dataset)[["g", "ts", "id", "x"]].sort(ORDER)
    earlier = {f"x_back_{rows}": rows for rows in range(1, MOVING_ROWS)}
    framed = _neighbours(ordered, earlier)
    values = ["x", *earlier]
    framed["__total"] = " + ".join(f"fillmissing({name}, 0.0)" for name in values)
    framed["__count"] = " + ".join(f"astype(notmissing({name}), 'int64')" for name in values)
    total, count = framed["__total"], framed["__count"]
    average = total / framed.func.maximum(count, 1)  # no 0 / 0 for a frame with no value
    framed["avg_x"] = framed.func.where(count > 0, average, None)
    return engine.in_memory(framed, ["g", "id", "avg_x"])


def w5(engine: Any, dataset: Any) -> Any:
    """x descending with missing values last (Vaex's sort puts them last in either order)."""
    ranked = engine.scan(dataset)[["g", "id", "x"]].sort(["g", "x", "id"], [True, False, True])
    numbered = _numbered(ranked)
    return engine.in_memory(numbered[numbered.rn <= TOP], ["g", "rn", "id", "x"])


QUERIES = {"window_w1": w1, "window_w2": w2, "window_w3": w3, "window_w5": w5}

UNSUPPORTED = {
    "window_w4": "Vaex has no cumulative sum, per group or over the whole frame "
    "(vaexio/vaex#540, vaexio/vaex#743); its rolling windows have a fixed size",
}
