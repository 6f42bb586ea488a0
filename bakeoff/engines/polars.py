"""Polars: a lazy scan of the Parquet files, collected with an explicitly named engine.

Polars' thread pool is sized with ``POLARS_MAX_THREADS`` = cores before import (a value the
user set wins); we record the size it actually uses. The query engine is always named:
``collect(engine="auto")`` means the in-memory engine in Polars 1.x and the streaming engine
in 2.x (or whatever ``POLARS_ENGINE_AFFINITY`` says), so "auto" would record different things
under one name. The default is ``streaming``, the engine Polars 2 chooses by default and
recommends; ``--option engine=in-memory`` runs the other, and the suite runs it too, as the
labelled variant ``polars[in-memory]``. Polars falls back to the in-memory
engine for operations the streaming engine lacks; that is Polars' own behaviour, kept.
A result is collected into a DataFrame, the sink of Polars' own PDS-H benchmarks. Under a
memory cap a DataFrame must hold the whole result in memory while DuckDB's result table spills
and Spark's ``noop`` keeps nothing, so the cell would measure the sink: there the result is
streamed with ``sink_ipc`` (uncompressed Arrow IPC, row order not kept, as DuckDB's
``preserve_insertion_order`` is off under a cap) into the spill directory, a sink of the same
kind as DuckDB's spilling table, and the file is the result read back and deleted after.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from bakeoff.engines.base import Engine
from datagen.dataset import Dataset
from shared.lazy import lazy_import

pl = lazy_import("polars")

AFFINITY_VARIABLE = "POLARS_ENGINE_AFFINITY"
# Polars 2's out-of-core streaming engine takes a memory budget from this variable (read at
# import). Set only under a memory cap, at 80 % of it, as DuckDB's limit is.
BUDGET_VARIABLE = "POLARS_OOC_MEMORY_BUDGET_MB"
CAPPED_BUDGET_SHARE = 0.8
COLLECT_SINK = "collect"
CAPPED_SINK = "sink_ipc to the spill directory"


class PolarsEngine(Engine):
    name = "polars"
    distribution = "polars"
    import_name = "polars"
    option_choices: ClassVar[dict[str, tuple[str, ...]]] = {"engine": ("streaming", "in-memory")}
    variants: ClassVar[dict[str, str]] = {"in-memory": "engine=in-memory"}

    def environment(self) -> dict[str, str]:
        variables = {"POLARS_MAX_THREADS": str(self.resources.cores)}
        if self.resources.capped:
            budget = self.resources.memory_bytes * CAPPED_BUDGET_SHARE
            variables[BUDGET_VARIABLE] = str(int(budget) // 1024**2)
        return variables

    def _start(self) -> None:
        self.collect_engine = self.option("engine")
        self.sink = CAPPED_SINK if self.resources.capped else COLLECT_SINK
        self._results = itertools.count()

    def stop(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {
            "threads": pl.thread_pool_size(),
            "engine": self.collect_engine,
            "sink": self.sink,
            # Not consulted when the engine is named, recorded so nobody has to wonder.
            AFFINITY_VARIABLE: os.environ.get(AFFINITY_VARIABLE),
            BUDGET_VARIABLE: os.environ.get(BUDGET_VARIABLE),
        }

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        return pl.scan_parquet(
            dataset.table_glob(table), hive_partitioning=dataset.partition_by is not None
        )

    def materialize(self, result: Any) -> Any:
        if self.sink == COLLECT_SINK:
            return result.collect(engine=self.collect_engine)
        path = self.resources.spill_dir("polars") / f"result-{os.getpid()}-{next(self._results)}"
        result.sink_ipc(path, maintain_order=False, engine=self.collect_engine)
        return path

    def to_arrow(self, materialized: Any) -> pa.Table:
        if isinstance(materialized, Path):
            with pa.memory_map(str(materialized)) as source:
                return pa.ipc.open_file(source).read_all()
        return materialized.to_arrow()

    def result_rows(self, materialized: Any) -> int:
        if isinstance(materialized, Path):
            with pa.memory_map(str(materialized)) as source:
                reader = pa.ipc.open_file(source)
                return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        return materialized.height

    def release(self, materialized: Any) -> None:
        if isinstance(materialized, Path):
            materialized.unlink(missing_ok=True)


ENGINE = PolarsEngine
