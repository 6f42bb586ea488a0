"""The ``events`` table: raw, day-partitioned event logs with re-sent rows, for ETL workloads.

N rows of

========  ===========================================================  =============
column    values                                                       type
========  ===========================================================  =============
event_id  1 … E, one per original event, in a seeded order            int64
user_id   1 … U, uniform, U = max(1, N // 100)                         int64
ts        uniform microseconds of the event's day (naive, UTC)         timestamp[us]
status    6 labels with fixed shares (``STATUSES``), dictionary        string
category  ``cat00`` … ``cat99``, uniform, dictionary                   string
value     lognormal(3, 1) rounded to cents; exactly ``null_pct``% null  float64
========  ===========================================================  =============

over ``DAYS`` days from ``FIRST_DAY``: N split evenly over the days (the remainder to the first
days), day by day, each day in its own files ``part-YYYY-MM-DD-NNNNN.parquet`` (or ``.csv``),
so the names sort by day and no file holds two days. The manifest's ``table_metadata`` has
``day_files``: each day's files (ISO date -> paths, relative as the manifest's ``files``).

``dup_pct``% of the rows (exactly, as far as each chunk can hold them, see :func:`_plan`) are
re-sent events, each a copy of an earlier original row of its own chunk: half of them exact
duplicates (every column equal), half re-sends (the same ``event_id``, ``user_id``, ``status``
and ``category`` with a strictly later ``ts`` of the same day and a freshly drawn ``value``,
never the original's, though both may be null).
An exact duplicate never repeats a row twice (its sources are distinct); a re-send may. The
original events' timestamps stop one microsecond before midnight so that a re-send always has
a later one. The counts written are ``exact_dup_rows`` and ``resent_rows`` in the manifest,
and E = N - both. Keeping duplicates within a chunk keeps memory bounded and the bytes
independent of how many processes write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array, share, string_array
from datagen.dataset import DatasetSpec
from datagen.permutation import Permutation
from datagen.table import (
    CHUNK_STREAM,
    PLAN_STREAM,
    Encoding,
    FilePlan,
    SubTable,
    refuse_options,
    rng,
    row_group_rows,
    split_rows,
)

NAME = "events"
DAYS = 30
FIRST_DAY = date(2024, 1, 1)
DAY_US = 86_400 * 10**6
FIRST_DAY_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 10**6
ROWS_PER_USER = 100
STATUSES = ("completed", "pending", "shipped", "cancelled", "refunded", "failed")
STATUS_SHARES = np.array([0.5, 0.2, 0.15, 0.07, 0.05, 0.03])
CATEGORIES = tuple(f"cat{number:02d}" for number in range(100))
TIMESTAMP = pa.timestamp("us")
SCHEMA = pa.schema(
    {
        "event_id": pa.int64(),
        "user_id": pa.int64(),
        "ts": TIMESTAMP,
        "status": pa.string(),
        "category": pa.string(),
        "value": pa.float64(),
    }
)
ENCODINGS: dict[str, Encoding] = {
    "event_id": "plain",
    "user_id": "plain",
    "ts": "plain",
    "status": "dictionary",
    "category": "dictionary",
    "value": "plain",
}


def users(rows: int) -> int:
    return max(1, rows // ROWS_PER_USER)


def day_name(day: int) -> str:
    """Day ``day`` (0 … DAYS - 1) as an ISO date."""
    return (FIRST_DAY + timedelta(days=day)).isoformat()


def day_rows(rows: int, day: int) -> int:
    """Rows of day ``day``: an even split, the remainder to the first days."""
    return rows // DAYS + (day < rows % DAYS)


@dataclass(frozen=True)
class Chunk:
    """Rows ``offset`` … ``offset + rows`` of the table (in write order), all of one day."""

    index: int  # position in the write order; seeds the chunk's random stream
    day: int
    offset: int  # rows before it: exact null shares
    originals_before: int  # original events before it: their event ids
    rows: int
    exact: int  # exact duplicates among its rows
    resent: int  # re-sent events among its rows

    @property
    def originals(self) -> int:
        return self.rows - self.exact - self.resent


@dataclass(frozen=True)
class Plan:
    """Every chunk, by file, and the counts they add up to."""

    files: tuple[tuple[str, int, tuple[Chunk, ...]], ...]  # path, day, chunks
    exact: int
    resent: int

    @property
    def originals(self) -> int:
        return sum(chunk.originals for _, _, chunks in self.files for chunk in chunks)


@lru_cache(maxsize=8)
def _plan(spec: DatasetSpec) -> Plan:
    """Each day's files of at most ``rows_per_file`` rows and chunks of at most a row group.

    A chunk's duplicates are the growth of ``share(rows so far, dup_pct)`` over it, so the
    total is exactly the share, but never more than ``(rows - 1) // 2`` of a chunk: each needs
    an earlier original of its own, and exact ones distinct sources (this binds only for
    ``dup_pct`` near 50 or chunks of a handful of rows). Of all duplicates so far, half
    (rounded down) are exact.
    """
    per_chunk = row_group_rows(spec.rows)
    files = []
    index = offset = originals = dups = exact = 0
    for day in range(DAYS):
        sizes_by_file = split_rows(day_rows(spec.rows, day), spec.rows_per_file, per_chunk)
        for number, sizes in enumerate(sizes_by_file):
            chunks = []
            for size in sizes:
                wanted = share(offset + size, spec.dup_pct) - share(offset, spec.dup_pct)
                mine = min(wanted, (size - 1) // 2)
                mine_exact = (dups + mine) // 2 - dups // 2
                chunk = Chunk(index, day, offset, originals, size, mine_exact, mine - mine_exact)
                chunks.append(chunk)
                index += 1
                offset += size
                originals += chunk.originals
                dups += mine
                exact += mine_exact
            path = f"part-{day_name(day)}-{number:05d}.{spec.file_format}"
            files.append((path, day, tuple(chunks)))
    return Plan(tuple(files), exact, dups - exact)


@lru_cache(maxsize=4)
def _event_ids(originals: int, seed: int) -> Permutation:
    return Permutation(max(1, originals), rng(seed, PLAN_STREAM))


@lru_cache(maxsize=1)
def _dictionaries() -> tuple[pa.StringArray, pa.StringArray]:
    return string_array(list(STATUSES)), string_array(list(CATEGORIES))


def _null_mask(
    draw: np.random.Generator, chunk: Chunk, pct: float, sources: np.ndarray
) -> np.ndarray:
    """Which of the chunk's rows (originals, exact duplicates, re-sends, in that order) have a
    null value: exactly the share of ``pct`` over the chunk's rows, and an exact duplicate null
    exactly when its source is.

    Nulls are drawn uniformly; then each (source, duplicate) pair that disagrees is made
    consistent two at a time (one pair null, one not), and an odd one out trades with a row
    outside every pair, of which there is always one (sources are distinct and fewer than the
    originals).
    """
    rows = chunk.rows
    mask = np.zeros(rows, dtype=bool)
    nulls = share(chunk.offset + rows, pct) - share(chunk.offset, pct)
    mask[draw.choice(rows, nulls, replace=False, shuffle=False)] = True
    copies = np.arange(chunk.originals, chunk.originals + chunk.exact)
    split = np.flatnonzero(mask[sources] != mask[copies])
    half = len(split) // 2
    for pairs, null in ((split[:half], True), (split[half : 2 * half], False)):
        mask[sources[pairs]] = null
        mask[copies[pairs]] = null
    if len(split) % 2:
        last = split[-1]
        single = np.ones(rows, dtype=bool)
        single[sources] = False
        single[copies] = False
        chosen = np.flatnonzero(single & mask)
        null = len(chosen) > 0  # trade with a null single row, else with a non-null one
        if not null:
            chosen = np.flatnonzero(single & ~mask)
        mask[chosen[0]] = not null
        mask[sources[last]] = null
        mask[copies[last]] = null
    return mask


class EventsTable:
    """The ``events`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME
    takes: tuple[str, ...] = ("dup_pct", "file_format")

    def validate(self, spec: DatasetSpec) -> None:
        refuse_options(spec, self.name, ("k", "sorted", "partition_by"))

    def tables(self, spec: DatasetSpec) -> list[SubTable]:
        return [SubTable(self.name, spec.rows, SCHEMA, ENCODINGS)]

    def plan(self, spec: DatasetSpec) -> list[FilePlan]:
        return [
            FilePlan(path, sum(chunk.rows for chunk in chunks), chunks, self.name)
            for path, _, chunks in _plan(spec).files
        ]

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        """The days and their files, and the duplicates and nulls written."""
        plan = _plan(spec)
        day_files: dict[str, list[str]] = {day_name(day): [] for day in range(DAYS)}
        for path, day, _ in plan.files:
            day_files[day_name(day)].append(path)
        return {
            "days": DAYS,
            "first_day": FIRST_DAY.isoformat(),
            "day_files": day_files,
            "day_rows": {day_name(day): day_rows(spec.rows, day) for day in range(DAYS)},
            "dup_pct": spec.dup_pct,
            "exact_dup_rows": plan.exact,
            "resent_rows": plan.resent,
            "original_events": spec.rows - plan.exact - plan.resent,
            "null_pct": spec.null_pct,
            "null_rows": share(spec.rows, spec.null_pct),
            "users": users(spec.rows),
            "statuses": list(STATUSES),
            "categories": len(CATEGORIES),
        }

    def build_chunk(self, spec: DatasetSpec, chunk: Chunk) -> pa.Table:
        """Draw the originals, then the duplicates as copies of earlier originals, then put
        each duplicate at a random place after its source."""
        draw = rng(spec.seed, CHUNK_STREAM, chunk.index)
        count = chunk.originals
        day_start = FIRST_DAY_US + chunk.day * DAY_US
        day_end = day_start + DAY_US
        user = draw.integers(1, users(spec.rows) + 1, count, dtype=np.int64)
        ts = draw.integers(day_start, day_end - 1, count, dtype=np.int64)  # room for a re-send
        status = draw.choice(len(STATUSES), count, p=STATUS_SHARES).astype(np.int32)
        category = draw.integers(0, len(CATEGORIES), count, dtype=np.int32)
        value = np.round(draw.lognormal(3.0, 1.0, count), 2)
        originals = _event_ids(_plan(spec).originals, spec.seed)
        event_id = originals(np.arange(chunk.originals_before, chunk.originals_before + count))
        event_id += 1

        exact = draw.choice(count, chunk.exact, replace=False, shuffle=True)
        resent = draw.integers(0, count, chunk.resent)
        sources = np.concatenate([exact, resent])
        resent_ts = draw.integers(ts[resent] + 1, day_end, dtype=np.int64)
        resent_value = np.round(draw.lognormal(3.0, 1.0, chunk.resent), 2)
        resent_value[resent_value == value[resent]] += 0.01  # another value, always
        nulls = _null_mask(draw, chunk, spec.null_pct, exact)

        # Sort keys: original i at 2i, a duplicate just before a random later original t
        # (2t - 1, t in source + 1 … count, t = count meaning after the last one).
        place = draw.integers(sources + 1, count + 1) if len(sources) else sources
        keys = np.concatenate([2 * np.arange(count), 2 * place - 1])
        order = np.argsort(keys, kind="stable")

        def rows(values: np.ndarray, *extra: np.ndarray) -> np.ndarray:
            copies = values[sources] if not extra else np.concatenate([values[exact], *extra])
            return np.concatenate([values, copies])[order]

        statuses, categories = _dictionaries()
        arrays = [
            arrow_array(rows(event_id)),
            arrow_array(rows(user)),
            arrow_array(rows(ts, resent_ts), type=TIMESTAMP),
            pa.DictionaryArray.from_arrays(arrow_array(rows(status)), statuses, safe=False),
            pa.DictionaryArray.from_arrays(arrow_array(rows(category)), categories, safe=False),
            arrow_array(rows(value, resent_value), nulls[order]),
        ]
        return pa.Table.from_arrays(arrays, names=SCHEMA.names)


TABLE = EventsTable()
