"""Vaex has no window functions: its groupby computes aggregations only, one row per group.

There is no per-group row number, rank, lag, lead, rolling frame or cumulative sum, and no
split-apply-combine to write one with. ``DataFrame.shift`` and ``DataFrame.rolling`` work on
the whole frame's row order and know no groups; emulating a partition with them (sort by g,
ts, id, shift, then blank what crossed a group boundary) is a workaround, not Vaex's answer.
"""

_NO_WINDOWS = "Vaex has no window functions (no PARTITION BY ... ORDER BY)"

UNSUPPORTED = {
    "window_w1": f"{_NO_WINDOWS}: no per-group row number or rank (vaexio/vaex#804)",
    "window_w2": f"{_NO_WINDOWS}: DataFrame.shift shifts the whole frame, with no per-group "
    "shift (vaexio/vaex#823: no split-apply-combine)",
    "window_w3": f"{_NO_WINDOWS}: DataFrame.rolling rolls over the whole frame, with no "
    "per-group window (vaexio/vaex#823: no split-apply-combine)",
    "window_w4": f"{_NO_WINDOWS}: no cumulative sum, per group or at all (vaexio/vaex#540)",
    "window_w5": f"{_NO_WINDOWS}: no per-group top-k: no row numbers, groupby().head(n) "
    "(vaexio/vaex#823) or n-largest aggregator",
}
