"""Sail: the Spark Connect API on a Rust engine (DataFusion), served from this process.

The adapter starts PySail's Spark Connect server (``pysail.spark.SparkConnectServer``) on
127.0.0.1 on a free port, in a background thread of this process, so the server is part of
the measured process tree and stops with :meth:`SailEngine.stop`; a Spark Connect client then
connects to it. Everything else is Spark's (:class:`SparkEngine`): the workloads are Spark
SQL, the result goes to the ``noop`` data source (Sail implements it: every row and column is
produced and nothing kept), and validation runs the plan again, untimed, with ``toArrow()``.
No JVM is involved, neither in the server nor in the client.

Settings follow Sail's configuration reference and performance guide, as ``SAIL_*``
environment variables read when the server starts (a value the user set wins):

- ``SAIL_MODE=local``: one process, query execution parallel on threads (Sail's default,
  stated so it is recorded);
- ``SAIL_EXECUTION__DEFAULT_PARALLELISM`` = cores: the partitions of every plan node; Sail's
  ``0`` means "the available cores", stated as the number it resolves to;
- ``SAIL_RUNTIME__MEMORY_POOL__TYPE=fair`` with ``…__FAIR__MAX_SIZE`` at 80 % of memory (of
  the cap, under one), as DuckDB's limit is: Sail's default pool is unbounded, and the fair
  pool is the one that makes each spillable operator (sort, aggregation, join) spill its share
  rather than fail;
- ``SAIL_RUNTIME__TEMPORARY_FILES__PATHS`` = our spill directory.

Sail has no result cache. Its caches of Parquet footers (``parquet.file_metadata_cache``) and
file statistics (``parquet.file_statistics_cache``), global by default, would let a later
sample skip reading what a user's first query reads, so both are ``none``; the file listing
cache (``execution.file_listing_cache``) is pinned at its default, ``none``. Sail cannot report
its own configuration over Spark Connect, so the values are recorded as the server read them
from the environment, with the Spark version the server reports.

Spark settings (adaptive execution, shuffle partitions, join thresholds) are Spark's planner's
and Sail does not read them, so none is set or recorded. Sail reads hive partition values as
strings where Spark infers their type, so a partition column is cast to its type in the
dataset's schema as it is read. Object storage is read natively with Sail's object store
(``s3://``), which takes the endpoint and credentials from the standard AWS environment
variables (and refuses a plain ``http://`` endpoint unless ``AWS_ALLOW_HTTP`` is true, which
the adapter sets for such an endpoint). A local server has no worker process: fault injection
has nothing to kill.

Sail accepts only the PySpark client versions it knows (Sail 0.7: 4.0 to 4.2); with another,
the adapter fails at start with Sail's own message rather than at the first query.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit
from bakeoff.engines.spark import CONNECT_SCHEME, SparkEngine, pyspark_sql
from datagen.dataset import Dataset
from shared.lazy import lazy_import

pyspark = lazy_import("pyspark")
pysail_spark = lazy_import("pysail.spark")
spark_types = lazy_import("pyspark.sql.pandas.types")

MEMORY_SHARE = 0.8  # of memory (of the cap, under one), as DuckDB's memory_limit
HOST = "127.0.0.1"
# Caches that would serve a later sample what a first query reads ("none" = off).
PINNED_CACHES: dict[str, str] = {
    "SAIL_PARQUET__FILE_METADATA_CACHE__TYPE": "none",
    "SAIL_PARQUET__FILE_STATISTICS_CACHE__TYPE": "none",
    "SAIL_EXECUTION__FILE_LISTING_CACHE__TYPE": "none",  # Sail's default, pinned
}


class SailEngine(SparkEngine):
    name = "sail"
    distribution = "pysail"
    import_name = "pysail"
    address_schemes: ClassVar[tuple[str, ...]] = ()  # the server is always our own
    object_store_scheme = "s3://"  # Sail's object store reads S3 under its own scheme
    # DataFusion's memory pool refusing a reservation, in the words Sail passes on.
    out_of_memory_markers = (
        *Engine.out_of_memory_markers,
        "resources exhausted",
        "failed to allocate additional",
    )

    def environment(self) -> dict[str, str]:
        pool_bytes = memory_limit(self.resources, MEMORY_SHARE)
        return {
            "SAIL_MODE": "local",
            "SAIL_EXECUTION__DEFAULT_PARALLELISM": str(self.resources.cores),
            "SAIL_RUNTIME__MEMORY_POOL__TYPE": "fair",
            "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE": str(pool_bytes),
            "SAIL_RUNTIME__TEMPORARY_FILES__PATHS": json.dumps(
                [str(self.resources.spill_dir(self.name))]
            ),
            **PINNED_CACHES,
            **self._plain_http(),
        }

    @staticmethod
    def _plain_http() -> dict[str, str]:
        """Sail's object store refuses a plain-HTTP endpoint ("URL scheme is not allowed")
        unless ``AWS_ALLOW_HTTP`` says otherwise; an ``http://`` endpoint is the user's choice."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}

    def _start(self) -> None:
        self._server = pysail_spark.SparkConnectServer(HOST, 0)  # 0: a free port
        self._server.start(background=True)
        host, port = self._server.listening_address
        self._address = f"{CONNECT_SCHEME}{host}:{port}"
        self.session = pyspark_sql.SparkSession.builder.remote(self._address).getOrCreate()
        try:
            self._spark_version = self.session.version
        except Exception as error:  # Sail refuses a PySpark client newer than it knows
            self.stop()
            raise RuntimeError(
                f"Sail {self.version()} cannot serve the PySpark {pyspark.__version__} client "
                f"installed here ({error}); install a PySpark client of a version Sail supports"
            ) from None

    def stop(self) -> None:
        self.session.stop()
        self._server.stop()

    def settings(self) -> dict[str, Any]:
        applied = {variable: os.environ.get(variable) for variable in self.environment()}
        return {
            **applied,
            "connect_server": self._address,
            "spark_version": self._spark_version,
            "pyspark_client": pyspark.__version__,
            "result_cache": "none",  # Sail has none
        }

    def prepare(self, dataset: Dataset) -> None:
        """Nothing to size: Sail partitions by its own default parallelism, not by Spark's
        shuffle partitions."""

    def cannot_read(self, dataset: Dataset) -> str | None:
        return None  # local files, and s3:// through Sail's own object store

    def to_arrow(self, materialized: Any) -> pa.Table:
        """Arrow batches streamed from the server: no JVM heap for a read-back to leave behind
        (the reason Spark's local driver reads back through Parquet)."""
        return materialized.toArrow()

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        """Spark's read, with a hive partition column cast to its type in the dataset's schema:
        Sail reads partition values as strings, where Spark infers their type."""
        frame = super().scan(dataset, table)
        column = dataset.partition_by
        if column is None:
            return frame
        arrow_type = pa.type_for_alias(dataset.manifest["schema"][column])
        return frame.withColumn(column, frame[column].cast(spark_types.from_arrow_type(arrow_type)))

    def worker_processes(self) -> dict[str, int]:
        return {}

    def no_worker_reason(self) -> str:
        return "a local Sail server runs every task on threads of this process, no worker to kill"


ENGINE = SailEngine
