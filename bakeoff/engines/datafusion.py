"""DataFusion: one in-process ``SessionContext``, SQL over listing tables of the Parquet files.

Settings follow DataFusion's configuration and tuning guides:

- ``TOKIO_WORKER_THREADS`` = cores, before import (a value the user set wins): the threads of
  the tokio runtime DataFusion's Python bindings execute on. Tokio's default is the available
  cores; it is stated so it is recorded.
- ``datafusion.execution.target_partitions`` = cores (``SessionConfig.with_target_partitions``):
  the parallelism of every plan. DataFusion's default is the cores too; it is stated so it is
  recorded. The repartition settings (file scans, aggregations, joins, windows, sorts) and the
  batch size stay at their defaults and are recorded as read back.
- A fair spill pool (``RuntimeEnvBuilder.with_fair_spill_pool``) of 80 % of memory (of the cap,
  under one), the share DuckDB's ``memory_limit`` takes: DataFusion's default pool is
  unbounded. The fair pool is the one DataFusion recommends for queries with several spillable
  operators (sort, aggregation, join): each spills its share rather than one of them failing.
  The other 20 % is left for what the pool does not account for (Parquet decoding, the
  collected result, Python).
- Spill files go to our spill directory (``with_disk_manager_specified``).

DataFusion has no result cache. Its runtime keeps three caches across queries of a session:
Parquet footers (``datafusion.runtime.metadata_cache_limit``, 50M by default), file listings
(``list_files_cache_limit``) and file statistics (``file_statistics_cache_limit``). Each would
let a later sample skip reading or listing what a user's first query does, so each is set to 0
with ``SET`` and read back; on top of that every statement registers its tables afresh.

Each table is a listing table over its directory (``register_parquet``). A hive-partitioned
table's partition column is read as text and typed in a view, with Hive's NULL directory
(``__HIVE_DEFAULT_PARTITION__``) as NULL: DataFusion takes that name as a value
(apache/datafusion#18083), so an integer partition column with NULLs would fail its cast.

A result is computed with ``DataFrame.collect()``, the sink of DataFusion's own benchmarks
(``tpch`` and ``clickbench`` collect the record batches): every row and column is produced and
kept as Arrow batches, turned into a table untimed. ``s3://`` is read natively by DataFusion's
object store (``datafusion.object_store.AmazonS3``), given the endpoint, region and credentials
of the standard AWS environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit, sql_tables
from datagen.dataset import Dataset
from shared.lazy import lazy_import

datafusion = lazy_import("datafusion")
object_store = lazy_import("datafusion.object_store")
functions = lazy_import("datafusion.functions")

THREADS_VARIABLE = "TOKIO_WORKER_THREADS"  # read when the bindings start their runtime
MEMORY_SHARE = 0.8  # of memory (of the cap, under one), as DuckDB's memory_limit
MEMORY_POOL = "fair_spill_pool"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # Hive's directory name for a NULL partition value
# A partition value is one per file: dictionary-encoded, as DataFusion's docs advise.
PARTITION_TEXT = pa.dictionary(pa.uint16(), pa.string())
# The runtime's caches across queries: none may serve a later sample what a first query read.
PINNED_CACHES: dict[str, str] = {
    "datafusion.runtime.metadata_cache_limit": "0",
    "datafusion.runtime.list_files_cache_limit": "0",
    "datafusion.runtime.file_statistics_cache_limit": "0",
}
# Settings that decide plans and their resources, recorded as DataFusion reports them.
RECORDED = (
    "datafusion.execution.target_partitions",
    "datafusion.execution.batch_size",
    "datafusion.execution.collect_statistics",
    "datafusion.execution.parquet.pushdown_filters",
    "datafusion.optimizer.repartition_file_scans",
    "datafusion.optimizer.repartition_file_min_size",
    "datafusion.optimizer.repartition_aggregations",
    "datafusion.optimizer.repartition_joins",
    "datafusion.optimizer.repartition_windows",
    "datafusion.optimizer.repartition_sorts",
    "datafusion.optimizer.hash_join_single_partition_threshold",
    "datafusion.optimizer.hash_join_single_partition_threshold_rows",
    "datafusion.runtime.memory_limit",
    "datafusion.runtime.temp_directory",
    "datafusion.runtime.max_temp_directory_size",
    *PINNED_CACHES,
)


@dataclass(frozen=True)
class Collected:
    """A collected result: its record batches and the DataFrame's schema (a result of no rows
    may come as no batches at all)."""

    batches: list[pa.RecordBatch]
    schema: pa.Schema


class DataFusionEngine(Engine):
    name = "datafusion"
    distribution = "datafusion"
    import_name = "datafusion"
    # DataFusion's memory pool refuses a reservation with "Resources exhausted".
    out_of_memory_markers = (*Engine.out_of_memory_markers, "resources exhausted")

    def environment(self) -> dict[str, str]:
        return {THREADS_VARIABLE: str(self.resources.cores)}

    def _start(self) -> None:
        self._pool_bytes = memory_limit(self.resources, MEMORY_SHARE)
        self._spill_dir = str(self.resources.spill_dir(self.name))
        config = (
            datafusion.SessionConfig()
            .with_target_partitions(self.resources.cores)
            .with_information_schema(True)  # to read the settings back
        )
        runtime = (
            datafusion.RuntimeEnvBuilder()
            .with_disk_manager_specified(self._spill_dir)
            .with_fair_spill_pool(self._pool_bytes)
        )
        self.context = datafusion.SessionContext(config, runtime)
        for name, value in PINNED_CACHES.items():
            self.context.sql(f"SET {name} = '{value}'").collect()
        self._object_stores: set[str] = set()
        # Read back once, here: a watchdog thread asks for the settings while a query runs.
        rows = (
            self.context.sql("SELECT name, value FROM information_schema.df_settings")
            .to_arrow_table()
            .to_pylist()
        )
        self._applied = {row["name"]: row["value"] for row in rows if row["name"] in RECORDED}

    def stop(self) -> None:
        self.context = None  # the session's tables, pool and spill files go with it

    def settings(self) -> dict[str, Any]:
        return {
            THREADS_VARIABLE: os.environ.get(THREADS_VARIABLE),
            "memory_pool": MEMORY_POOL,
            "memory_pool_bytes": self._pool_bytes,
            "spill_dir": self._spill_dir,
            "result_cache": "none",  # DataFusion has none
            "object_store": "datafusion AmazonS3" if self._object_stores else None,
            "applied": self._applied,
        }

    def prepare(self, dataset: Dataset) -> None:
        if dataset.url is None:
            return
        bucket = urlparse(dataset.url).netloc
        if bucket in self._object_stores:
            return
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        store = object_store.AmazonS3(
            bucket_name=bucket,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            session_token=os.environ.get("AWS_SESSION_TOKEN"),
            endpoint=endpoint,
            allow_http=bool(endpoint and endpoint.startswith("http://")),
        )
        self.context.register_object_store("s3://", store, bucket)
        self._object_stores.add(bucket)

    def register(self, dataset: Dataset, name: str, table: str | None = None) -> None:
        """Register a table of the dataset as a listing table over its directory, replacing
        any earlier registration. A hive-partitioned table is registered with its partition
        column as text, and ``name`` is a view that turns Hive's name for NULL into NULL and
        the text into the column's type: DataFusion reads ``__HIVE_DEFAULT_PARTITION__`` as a
        value (apache/datafusion#18083), which fails a cast to an integer partition column."""
        location = dataset.table_location(table).rstrip("/") + "/"
        column = dataset.partition_by
        if column is None:
            self.context.deregister_table(name)
            self.context.register_parquet(name, location)
            return
        files = f"{name}_files"
        for registered in (name, files):
            self.context.deregister_table(registered)
        self.context.register_parquet(
            files, location, table_partition_cols=[(column, PARTITION_TEXT)]
        )
        value = functions.nullif(datafusion.col(column), datafusion.lit(HIVE_NULL))
        column_type = pa.type_for_alias(dataset.manifest["schema"][column])
        self.context.register_view(
            name, self.context.table(files).with_column(column, value.cast(column_type))
        )

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        name = table or "scan"
        self.register(dataset, name, table)
        return self.context.table(name)

    def sql(self, dataset: Dataset, statement: str) -> Any:
        """Run a canonical workload statement over the dataset's tables (see sql_tables)."""
        for name, table in sql_tables(dataset).items():
            self.register(dataset, name, table)
        return self.context.sql(statement)

    def materialize(self, result: Any) -> Collected:
        return Collected(result.collect(), result.schema())

    def to_arrow(self, materialized: Collected) -> pa.Table:
        return pa.Table.from_batches(materialized.batches, schema=materialized.schema)

    def result_rows(self, materialized: Collected) -> int:
        return sum(batch.num_rows for batch in materialized.batches)


ENGINE = DataFusionEngine
