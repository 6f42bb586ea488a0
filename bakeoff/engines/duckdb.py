"""DuckDB: one in-process connection, all cores, 80 % of memory, spilling to scratch.

Settings follow DuckDB's performance guide: ``threads`` = cores, an explicit ``memory_limit``
(DuckDB's own default is 80 % of RAM, stated here so it is recorded), and a
``temp_directory`` for larger-than-memory operators. A result is materialized with
``CREATE TABLE … AS``, the engine's own way to hold a full result.
"""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit
from bakeoff.lazy import lazy_import
from datagen.dataset import Dataset
from workloads.spec import TABLE_ALIAS

duckdb = lazy_import("duckdb")

MEMORY_SHARE = 0.8


class DuckDBEngine(Engine):
    name = "duckdb"
    distribution = "duckdb"
    import_name = "duckdb"

    _names = itertools.count()

    def _start(self) -> None:
        self._config = {
            "threads": self.resources.cores,
            "memory_limit": f"{memory_limit(self.resources, MEMORY_SHARE) // 1024**2}MiB",
            "temp_directory": str(self.resources.spill_dir("duckdb")),
            "preserve_insertion_order": True,  # DuckDB's default, recorded
        }
        self.connection = duckdb.connect(config=dict(self._config))

    def stop(self) -> None:
        self.connection.close()

    def settings(self) -> dict[str, Any]:
        return dict(self._config)

    def scan(self, dataset: Dataset) -> Any:
        return self.connection.read_parquet(
            dataset.glob, hive_partitioning=dataset.partition_by is not None
        )

    def sql(self, dataset: Dataset, statement: str) -> Any:
        """Run a canonical workload statement with ``x`` bound to the dataset."""
        self.connection.register(TABLE_ALIAS, self.scan(dataset))
        return self.connection.sql(statement)

    def materialize(self, result: Any) -> str:
        table = f"bakeoff_result_{next(self._names)}"
        result.create(table)
        return table

    def to_arrow(self, materialized: str) -> pa.Table:
        return self.connection.table(materialized).to_arrow_table()

    def release(self, materialized: str) -> None:
        self.connection.execute(f"DROP TABLE IF EXISTS {materialized}")


ENGINE = DuckDBEngine
