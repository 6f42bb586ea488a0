"""Vaex: lazily evaluated columns over the Parquet dataset directory.

Vaex memory-maps only HDF5 and Arrow IPC files. Parquet is decoded through pyarrow on every
pass over the data, and a groupby makes at least two passes (the keys' set, then the
aggregation), so Vaex reads the files more than once per question. Vaex computes with a
thread pool sized by ``VAEX_NUM_THREADS`` (= cores here, set before import) over chunks of
rows, and takes no memory limit. The dataset directory is opened as one Parquet dataset (a
glob of files would become a concatenation that Vaex reads one file at a time), and Vaex's
result cache (``vaex.cache``) is turned off explicitly, so no later sample reuses an earlier
one's aggregation. ``groupby`` is eager: it computes the aggregation and returns an in-memory
DataFrame, which is what computing a result means for Vaex.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from bakeoff.engines.base import Engine
from datagen.dataset import Dataset
from shared.lazy import lazy_import

vaex = lazy_import("vaex")


class VaexEngine(Engine):
    name = "vaex"
    distribution = "vaex-core"
    import_name = "vaex"

    def environment(self) -> dict[str, str]:
        return {"VAEX_NUM_THREADS": str(self.resources.cores)}

    def _start(self) -> None:
        vaex.cache.off()

    def stop(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        main = vaex.settings.main
        return {
            "threads": main.thread_count,
            "io_threads": main.thread_count_io,
            "chunk_size": main.chunk.size,
            "chunk_size_min": main.chunk.size_min,
            "chunk_size_max": main.chunk.size_max,
            "cache": vaex.cache.is_on(),
            "memory_limit": None,  # Vaex has none; a cap is enforced by the tree probe alone
        }

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        partitioning = "hive" if dataset.partition_by else None
        if dataset.url is not None:  # through pyarrow's S3 filesystem, as fs= takes it
            return vaex.open(
                dataset.arrow_path(table), fs=dataset.arrow_filesystem, partitioning=partitioning
            )
        return vaex.open(dataset.table_location(table), partitioning=partitioning)

    def materialize(self, result: Any) -> Any:
        return result  # groupby results are computed eagerly and held in memory

    def to_arrow(self, materialized: Any) -> pa.Table:
        return materialized.to_arrow_table()

    def result_rows(self, materialized: Any) -> int:
        return len(materialized)

    @staticmethod
    def in_memory(frame: Any, columns: list[str]) -> Any:
        """``columns`` of a lazy frame (a join's take, a sort's take, shifts) evaluated in one
        parallel pass into an in-memory DataFrame: how a Vaex query that is not an eager groupby
        computes its result. (``materialize`` of a real column only routes later reads through
        Vaex's shared column cache, which would also serve a later sample.)

        The frame is ``vaex.from_arrays``'s, built without the two costs that add nothing to the
        evaluated answer: the hash of every array (a fingerprint for Vaex's result cache, which
        is off) and the visit of every value of an object array to find its type (the frame
        knows it). On join_q3 at 1e7 the two took 0.5 s and 1.2 s after a 2.9 s evaluate."""
        values = _evaluate(frame, columns)
        typed = {c: _as_column(frame, c, v) for c, v in zip(columns, values, strict=True)}
        return vaex.dataframe.DataFrameLocal(vaex.dataset.DatasetArrays(typed, hashed=False))


def _as_column(frame: Any, column: str, values: Any) -> Any:
    """``values`` as the column ``vaex.from_arrays`` makes of them: strings read through a
    lookup (a left join's right table) come back as a masked numpy array of Python objects, which
    Vaex wraps in a column cast to Arrow on read. (Only then is the frame asked for the type: for
    a virtual column that evaluates its first rows.)"""
    if isinstance(values, np.ndarray) and values.dtype == object:
        data_type = frame.data_type(column)
        if data_type.is_string:
            return vaex.column.ColumnArrowLazyCast(values, data_type.internal)
    return values


MISSING_FLAGS = "bakeoff_missing_flags"  # a Vaex expression function, registered on first use


def _missing_flags(chunk: Any) -> np.ndarray:
    """1 where a chunk's value is missing, as int8, one per row. Vaex's own ``ismissing`` gives
    a scalar False for a chunk without a mask (``nomask == 1``), which its evaluate cannot join
    to the other chunks; a bare boolean result fails its type probe."""
    return np.ma.getmaskarray(chunk).astype(np.int8)


def _register_missing_flags() -> None:
    if MISSING_FLAGS not in vaex.expression.expression_namespace:
        vaex.register_function(name=MISSING_FLAGS)(_missing_flags)


def _evaluate(frame: Any, columns: list[str]) -> list[Any]:
    """``frame.evaluate(columns)`` in parallel, with each column Vaex would gather into a shared
    masked numpy array read instead as its values with NULLs filled plus its missing flags
    (``_missing_flags``), joined again after.

    Vaex writes each thread's chunk of a virtual column with a numpy type and a mask into one
    ``np.ma.empty`` array, whose mask numpy allocates on the first masked write; two threads
    writing their first chunks at once can each allocate one, and a chunk's NULLs are lost (read
    as 0.0, seen in about 1 in 300 runs of groupby_q9 at tiny scale). Plain arrays have no such
    race, nor have Arrow-typed columns (all of those read from Parquet) or a filtered frame: Vaex
    keeps their chunks apart and joins them after."""
    if frame.filtered:
        return frame.evaluate(columns)
    with _each_probe_once(frame):
        shared = [c for c in columns if c not in frame.columns and _masked_numpy(frame, c)]
        expressions = [f"fillmissing({c}, 0)" if c in shared else c for c in columns]
        _register_missing_flags()
        flags = [f"{MISSING_FLAGS}({column})" for column in shared]
        values = frame.evaluate([*expressions, *flags])
    missing = dict(zip(shared, values[len(columns) :], strict=True))
    return [
        np.ma.array(value, mask=missing[column] != 0) if column in missing else value
        for column, value in zip(columns, values[: len(columns)], strict=True)
    ]


def _masked_numpy(frame: Any, column: str) -> bool:
    """The test by which Vaex's evaluate gathers a virtual column into one ``np.ma.empty``."""
    return isinstance(frame.data_type(column).internal, np.dtype) and frame.is_masked(column)


@contextlib.contextmanager
def _each_probe_once(frame: Any) -> Iterator[None]:
    """``data_type`` and ``is_masked`` of a virtual column each evaluate its first row: through
    a sort and ten shifts, a read of every file (1.5-1.8 s for window_w3's average at 1e7).
    Vaex's evaluate asks ``data_type`` of each expression; while it runs, both answer each
    question once, so the test above costs no second probe."""
    frame.data_type = functools.cache(frame.data_type)
    frame.is_masked = functools.cache(frame.is_masked)
    try:
        yield
    finally:
        del frame.data_type, frame.is_masked


ENGINE = VaexEngine
