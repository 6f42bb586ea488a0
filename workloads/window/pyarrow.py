"""pyarrow answers the window questions with ``pyarrow.compute`` on the rows in window order.

Acero has no window operator (apache/arrow#32813 asks for a window functions exec node), so
each question is a composition of documented compute functions: the rows sorted by (g, ts, id) with
``Table.sort_by``; a row's number in its group from the group starts (``g`` differs from the
row before), forward-filled; a row ``k`` rows away in the same group by slicing the column ``k``
rows over and keeping it where the row number says that row is in the group. The moving
average sums the ten shifted columns; the running sum doubles the span it has summed,
``ceil(log2(largest group))`` times, adding the partial sum from ``2^j`` rows back while that row
is in the group (a segmented prefix sum: no sum crosses a group, so its rounding stays that of
the group's own values, unlike one ``cumulative_sum`` over the table minus the sum before the
group).
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.groupby.pyarrow import positions, run_starts, shifted, sort_rows
from workloads.window import MOVING_ROWS, ORDER, TOP

pa = lazy_import("pyarrow")
pc = lazy_import("pyarrow.compute")

# The window order, then the top-three order (x descending, NULLs last, id ascending).
WINDOW_ORDER = [(column, "ascending", "at_end") for column in ORDER]
TOP_ORDER = [
    ("g", "ascending", "at_end"),
    ("x", "descending", "at_end"),
    ("id", "ascending", "at_end"),
]


def _ordered(engine: Any, dataset: Any, columns: list[str], order: list[tuple[str, ...]]) -> Any:
    return sort_rows(engine.read(dataset, columns).to_table(use_threads=True), order)


def row_numbers(groups: Any) -> Any:
    """1, 2, … within each run of equal values of ``groups`` (the rows in window order)."""
    position = positions(len(groups))
    first = pc.fill_null_forward(pc.if_else(run_starts([groups]), position, None))
    return pc.add(pc.subtract(position, first), 1)


def in_group(rn: Any, rows: int) -> Any:
    """Whether the row ``rows`` rows earlier (later, if negative) is in the same group."""
    if rows >= 0:
        return pc.greater(rn, rows)
    # the row -rows later is in the group when its number is this row's plus -rows
    return pc.fill_null(pc.equal(shifted(rn, rows), pc.add(rn, -rows)), False)


def neighbour(x: Any, rn: Any, rows: int) -> Any:
    """x of the row ``rows`` earlier (later, if negative) in the group, NULL if none."""
    return pc.if_else(in_group(rn, rows), shifted(x, rows), None)


def w1(engine: Any, dataset: Any) -> Any:
    ordered = _ordered(engine, dataset, ["g", "ts", "id"], WINDOW_ORDER)
    return pa.table({"g": ordered["g"], "id": ordered["id"], "rn": row_numbers(ordered["g"])})


def w2(engine: Any, dataset: Any) -> Any:
    ordered = _ordered(engine, dataset, ["g", "ts", "id", "x"], WINDOW_ORDER)
    rn, x = row_numbers(ordered["g"]), ordered["x"]
    return pa.table(
        {
            "g": ordered["g"],
            "id": ordered["id"],
            "lag_x": neighbour(x, rn, 1),
            "lead_x": neighbour(x, rn, -1),
        }
    )


def w3(engine: Any, dataset: Any) -> Any:
    """The sum and count of the present x among the row and the 9 before it in the group."""
    ordered = _ordered(engine, dataset, ["g", "ts", "id", "x"], WINDOW_ORDER)
    rn, x = row_numbers(ordered["g"]), ordered["x"]
    total, count = None, None
    for back in range(MOVING_ROWS):
        value = neighbour(x, rn, back)
        present = pc.is_valid(value)
        term = pc.if_else(present, value, 0.0)
        seen = pc.cast(present, pa.int64())
        total = term if total is None else pc.add(total, term)
        count = seen if count is None else pc.add(count, seen)
    average = pc.if_else(pc.greater(count, 0), pc.divide(total, pc.cast(count, pa.float64())), None)
    return pa.table({"g": ordered["g"], "id": ordered["id"], "avg_x": average})


def w4(engine: Any, dataset: Any) -> Any:
    """A segmented prefix sum of x (NULL as 0), NULL where no x of the group is present yet."""
    ordered = _ordered(engine, dataset, ["g", "ts", "id", "x"], WINDOW_ORDER)
    rn, x = row_numbers(ordered["g"]), ordered["x"]
    running = pc.fill_null(x, 0.0)
    span, largest = 1, pc.max(rn).as_py() or 0
    while span < largest:
        running = pc.add(running, pc.if_else(in_group(rn, span), shifted(running, span), 0.0))
        span *= 2
    # present so far: the group's first row is no later than the last row with an x
    position = positions(len(x))
    last_present = pc.fill_null_forward(pc.if_else(pc.is_valid(x), position, None))
    first_row = pc.subtract(position, pc.subtract(rn, 1))
    seen = pc.fill_null(pc.greater_equal(last_present, first_row), False)
    return pa.table(
        {"g": ordered["g"], "id": ordered["id"], "sum_x": pc.if_else(seen, running, None)}
    )


def w5(engine: Any, dataset: Any) -> Any:
    ordered = _ordered(engine, dataset, ["g", "id", "x"], TOP_ORDER)
    rn = row_numbers(ordered["g"])
    top = pa.table({"g": ordered["g"], "rn": rn, "id": ordered["id"], "x": ordered["x"]})
    return top.filter(pc.less_equal(rn, TOP))


QUERIES = {f"window_w{number}": query for number, query in enumerate((w1, w2, w3, w4, w5), 1)}
