"""Vaex: memory-mapped, lazily evaluated columns over the Parquet files.

Vaex computes with a thread pool sized by ``VAEX_NUM_THREADS`` (= cores here, set before
import) and streams columns chunk by chunk, so it takes no memory limit. Its ``groupby`` is
eager: the aggregation is computed when it is called, and the result is an in-memory
DataFrame, which is what materializing means for Vaex.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine
from bakeoff.lazy import lazy_import
from datagen.dataset import Dataset

vaex = lazy_import("vaex")


class VaexEngine(Engine):
    name = "vaex"
    distribution = "vaex-core"
    import_name = "vaex"

    def environment(self) -> dict[str, str]:
        return {"VAEX_NUM_THREADS": str(self.resources.cores)}

    def _start(self) -> None:
        pass

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
        }

    def scan(self, dataset: Dataset) -> Any:
        if dataset.partition_by:
            return vaex.open(str(dataset.path), partitioning="hive")
        return vaex.open(dataset.glob)

    def materialize(self, result: Any) -> Any:
        return result  # groupby results are computed eagerly and held in memory

    def to_arrow(self, materialized: Any) -> pa.Table:
        return materialized.to_arrow_table()


ENGINE = VaexEngine
