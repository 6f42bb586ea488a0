"""Spark: a local session (``local[cores]``) or an existing cluster, answering in Spark SQL.

Settings follow Spark's tuning guide for a single machine: every core in ``local[N]``, driver
memory at 60 % of RAM (in local mode the driver is the executor; the rest is left to the
OS, Python and off-heap buffers), adaptive query execution on, scratch space on our spill
directory, and shuffle partitions sized to the data and the cores (see :meth:`prepare`).

A result is computed by writing it to Spark's ``noop`` data source: every row and column is
produced and nothing is kept, the sink Spark's own SQL benchmarks use (SPARK-30409) in place
of ``cache()`` + ``count()``, which pays for building a cache and runs the plan without
adaptive coalescing. Validation executes the same DataFrame a second time, untimed, with
``toArrow()``. The join strategy thresholds are Spark's own, recorded as applied.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit, sql_tables
from bakeoff.lazy import lazy_import
from datagen.dataset import Dataset

pyspark_sql = lazy_import("pyspark.sql")

DRIVER_MEMORY_SHARE = 0.6
MIN_JAVA = 17
BYTES_PER_SHUFFLE_PARTITION = 128 * 1024**2  # Spark's default max partition size for input
# Spark's own defaults that decide plans (join strategy, AQE, input splits), recorded as applied.
RECORDED_DEFAULTS = (
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.adaptive.autoBroadcastJoinThreshold",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes",
    "spark.sql.adaptive.skewJoin.enabled",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.parquet.enableVectorizedReader",
)


class JavaMissing(RuntimeError):
    pass


def java_major_version() -> int:
    """The major version of the ``java`` Spark will launch; raise JavaMissing if there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise JavaMissing(
            f"Spark needs Java {MIN_JAVA}+ and found no java (install a JDK or set JAVA_HOME)"
        )
    banner = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not match:
        raise JavaMissing(f"could not read the Java version from {java}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


class SparkEngine(Engine):
    name = "spark"
    distribution = "pyspark"
    import_name = "pyspark.sql"
    address_schemes = ("spark://", "local", "yarn", "k8s://")

    out_of_memory_markers = (*Engine.out_of_memory_markers, "gc overhead limit exceeded")

    def _start(self) -> None:
        major = java_major_version()
        if major < MIN_JAVA:
            raise JavaMissing(f"Spark needs Java {MIN_JAVA}+, found Java {major}")
        driver_memory = memory_limit(self.resources, DRIVER_MEMORY_SHARE)
        self._conf = {
            "spark.master": self.options.address or f"local[{self.resources.cores}]",
            "spark.driver.memory": f"{driver_memory // 1024**2}m",
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
            "spark.sql.shuffle.partitions": str(self._shuffle_partitions(0)),
            "spark.local.dir": str(self.resources.spill_dir("spark")),
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        }
        builder = pyspark_sql.SparkSession.builder.appName("bakeoff")
        for key, value in self._conf.items():
            builder = builder.config(key, value)
        self.session = builder.getOrCreate()
        self.session.sparkContext.setLogLevel("ERROR")
        self._java = major

    def stop(self) -> None:
        self.session.stop()

    def settings(self) -> dict[str, Any]:
        applied = {key: self.session.conf.get(key, None) for key in RECORDED_DEFAULTS}
        return {
            **self._conf,
            "spark.sql.shuffle.partitions": self.session.conf.get("spark.sql.shuffle.partitions"),
            **applied,
            "java": self._java,
        }

    def _shuffle_partitions(self, input_bytes: int) -> int:
        """At least two tasks per core, more when the input is large; AQE coalesces the rest."""
        by_size = math.ceil(input_bytes / BYTES_PER_SHUFFLE_PARTITION)
        per_core = 2 * self.resources.cores
        return max(per_core, math.ceil(by_size / per_core) * per_core)

    def prepare(self, dataset: Dataset) -> None:
        self.session.conf.set(
            "spark.sql.shuffle.partitions", str(self._shuffle_partitions(dataset.size_bytes))
        )

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        return self.session.read.parquet(str(dataset.table_path(table)))

    def sql(self, dataset: Dataset, statement: str) -> Any:
        """Run a canonical workload statement over the dataset's tables (see sql_tables)."""
        for name, table in sql_tables(dataset).items():
            self.scan(dataset, table).createOrReplaceTempView(name)
        return self.session.sql(statement)

    def materialize(self, result: Any) -> Any:
        result.write.format("noop").mode("overwrite").save()
        return result

    def to_arrow(self, materialized: Any) -> pa.Table:
        return materialized.toArrow()  # a second, untimed execution of the same plan


ENGINE = SparkEngine
