"""Column pieces every table shares: zero-copy Arrow arrays, exact null shares, id labels.

Each helper exists once so that two tables asking for "p% nulls" or ``"id" + key`` get the
same rows for the same draws.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

SIX_DECIMAL_STEPS = 100_000_000  # 0 … 100 in steps of 1e-6: exactly 6 decimals, no rounding


def share(rows: int, pct: float) -> int:
    """``pct`` percent of ``rows``, rounded half up (deterministic, unlike banker's rounding)."""
    return math.floor(rows * pct / 100 + 0.5)


def validity(mask: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap for ``mask`` (True = null), and the null count."""
    if mask is None:
        return None, 0
    return pa.py_buffer(np.packbits(~mask, bitorder="little")), int(np.count_nonzero(mask))


def arrow_array(
    values: np.ndarray, mask: np.ndarray | None = None, type: pa.DataType | None = None
) -> pa.Array:
    """A zero-copy Arrow array over a numeric numpy array, null where ``mask`` is True.

    ``pa.array`` would do the same, but it imports pandas on first use to rule out pandas
    input, which costs every worker process a fifth of a second.
    """
    bitmap, nulls = validity(mask)
    arrow_type = type or pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(arrow_type, len(values), [bitmap, pa.py_buffer(values)], nulls)


def exact_nulls(draw: np.random.Generator, rows: int, offset: int, pct: float) -> np.ndarray | None:
    """A null mask for rows ``offset`` … ``offset + rows`` of a column that is exactly ``pct``%
    null over the whole dataset, whichever chunks it is cut into (None when no row is null).

    Each chunk takes the difference of the rounded shares before and after it, so the total is
    ``share(rows of the dataset, pct)`` and a chunk's nulls depend on its offset alone.
    """
    nulls = share(offset + rows, pct) - share(offset, pct)
    if not nulls:
        return None
    mask = np.zeros(rows, dtype=bool)
    mask[draw.choice(rows, nulls, replace=False, shuffle=False)] = True
    return mask


def six_decimals(draw: np.random.Generator, rows: int) -> np.ndarray:
    """db-benchmark's ``round(runif(n, max = 100), 6)``: 0 … 100 with exactly 6 decimals."""
    return np.divide(draw.integers(0, SIX_DECIMAL_STEPS + 1, rows, dtype=np.uint32), 1e6)


# "0000" … "9999" as little-endian words: four digits per table lookup.
_QUADS = np.frombuffer(b"".join(b"%04d" % i for i in range(10_000)), dtype="<u4")
_ID_PREFIX = np.uint64(ord("i") << 32 | ord("d") << 40)  # bytes 4, 5 of a string view
_BLOCK = 1 << 14  # rows per pass: a block's temporaries stay in the CPU cache
_U = np.uint64


def id_strings(keys: np.ndarray) -> pa.StringArray:
    """``"id" + key`` for keys 0 … 2**31 - 1, like R's ``paste0("id", key)``: no padding.

    Every label fits the 12 bytes a string view keeps inline, so each row's view is built
    with integer arithmetic (twelve zero-padded digits from three lookups, shifted left past
    the padding) and the views are cast to ordinary strings by Arrow, without a per-value
    Python loop or a per-byte gather.
    """
    rows = len(keys)
    views = np.empty((rows, 2), dtype=np.uint64)
    top = int(keys.max()) if rows else 0
    if rows and (int(keys.min()) < 0 or top >= 1 << 31):
        raise ValueError("id_strings takes keys 0 … 2**31 - 1")
    powers = [np.uint32(10**k) for k in range(1, len(str(top)))]
    for start in range(0, rows, _BLOCK):
        block = keys[start : start + _BLOCK].astype(np.uint32)
        out = views[start : start + _BLOCK]
        padding = np.full(len(block), 11, dtype=np.uint64)  # 12 digits minus the key's own
        for power in powers:
            padding -= block >= power
        padding <<= _U(3)  # in bits
        high, low = np.divmod(block, np.uint32(10_000))
        high, middle = np.divmod(high, np.uint32(10_000))
        first = _QUADS[middle].astype(np.uint64)  # digits 1-8 (bytes 0-7), digits 9-12 after
        first <<= _U(32)
        first |= _QUADS[high]
        second = _QUADS[low].astype(np.uint64)
        digits = first >> padding  # the 96-bit number shifted right past the padding
        digits |= second << (_U(64) - padding)  # numpy shifts by >= 64 bits give 0
        digits |= second >> (padding - _U(64))
        second >>= padding
        out[:, 0] = _U(14) - (padding >> _U(3))  # the view's length: "id" + the digits
        out[:, 0] |= _ID_PREFIX
        out[:, 0] |= digits << _U(48)
        digits >>= _U(16)
        second <<= _U(48)
        out[:, 1] = digits | second
    return pa.Array.from_buffers(pa.string_view(), rows, [None, pa.py_buffer(views)]).cast(
        pa.string()
    )


def string_array(values: list[str]) -> pa.StringArray:
    """A small Arrow string array of ``values`` (a dictionary's labels), built from buffers:
    ``pa.array`` would import pandas (see :func:`arrow_array`)."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), data)
