"""Polars: a lazy scan of the Parquet files, collected with the engine the user chose.

Polars' thread pool is sized with ``POLARS_MAX_THREADS`` = cores before import (a value the
user set wins); we record the size it actually uses. The query engine is Polars' default unless the
option ``engine`` asks for ``streaming`` (out-of-core) or ``in-memory``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa

from bakeoff.engines.base import Engine
from bakeoff.lazy import lazy_import
from datagen.dataset import Dataset

pl = lazy_import("polars")


class PolarsEngine(Engine):
    name = "polars"
    distribution = "polars"
    import_name = "polars"
    option_choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "engine": ("auto", "in-memory", "streaming")
    }

    def environment(self) -> dict[str, str]:
        return {"POLARS_MAX_THREADS": str(self.resources.cores)}

    def _start(self) -> None:
        self.collect_engine = self.option("engine")

    def stop(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {"threads": pl.thread_pool_size(), "engine": self.collect_engine}

    def scan(self, dataset: Dataset) -> Any:
        return pl.scan_parquet(dataset.glob, hive_partitioning=dataset.partition_by is not None)

    def materialize(self, result: Any) -> Any:
        return result.collect(engine=self.collect_engine)

    def to_arrow(self, materialized: Any) -> pa.Table:
        return materialized.to_arrow()


ENGINE = PolarsEngine
