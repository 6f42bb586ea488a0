"""Spark: a local session (``local[cores]``), a cluster or a Spark Connect server, in Spark SQL.

Settings follow Spark's tuning guide for a single machine: every core in ``local[N]``, driver
memory at 60 % of RAM (in local mode the driver is the executor; the rest is left to the
OS, Python and off-heap buffers), adaptive query execution on, scratch space on our spill
directory, and shuffle partitions sized to the data and the cores (see :meth:`prepare`).

A result is computed by writing it to Spark's ``noop`` data source: every row and column is
produced and nothing is kept, the sink Spark's own SQL benchmarks use (SPARK-30409) in place
of ``cache()`` + ``count()``, which pays for building a cache and runs the plan without
adaptive coalescing. Validation executes the same DataFrame a second time, untimed: a local
driver writes it to Parquet in scratch space, which pyarrow reads (``toArrow()`` would collect
the whole result into the driver, and the samples that followed in the same process ran slower
for it); a cluster's or a Connect server's result comes back with ``toArrow()``. The join
strategy thresholds are Spark's own, recorded as applied.

On a cluster (``spark://…``, ``yarn``, ``k8s://…``) the session waits, untimed, until the
cluster's executors have registered, sizes shuffle partitions to their cores instead of this
machine's, and records the executors (count, cores and memory each) as the cluster settings.
With Spark Connect (``sc://host:port``) the session is a thin client of a server that owns
the driver: only SQL settings can be set from here, and the server's master and application
are recorded. Executor processes of our application that run on this machine are the workers
fault injection can kill (:mod:`bakeoff.chaos`).

Object storage is read through Hadoop's S3A connector (``s3a://``), configured from
``AWS_ENDPOINT_URL`` with path-style addresses and the credentials of the AWS environment. The
connector (``org.apache.hadoop:hadoop-aws`` and the AWS SDK bundle) is not in the pyspark
wheel and comes from Maven Central (``spark.jars.packages``); where it is not on the class path
a dataset in object storage is ``unsupported`` for Spark, with that reason.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from bakeoff.engines.base import Engine, memory_limit, sql_tables
from datagen.dataset import Dataset
from shared.lazy import lazy_import

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
CONNECT_SCHEME = "sc://"
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
NO_S3A = (
    "reading s3:// needs Hadoop's S3A connector (org.apache.hadoop:hadoop-aws and the AWS SDK "
    "bundle), which the pyspark wheel does not ship and which is not on this Spark's class "
    "path (spark.jars.packages fetches it from Maven Central)"
)
EXECUTOR_WAIT_S = 120.0  # for a cluster's first executor to register
EXECUTOR_SETTLE_S = 3.0  # then for no new one to arrive
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


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
    reads_back_by_running_again = True  # to_arrow executes the plan again
    distribution = "pyspark"
    import_name = "pyspark.sql"
    address_schemes = ("spark://", "local", "yarn", "k8s://", CONNECT_SCHEME)
    object_store_scheme = "s3a://"  # Hadoop names its S3 connector's scheme s3a://

    out_of_memory_markers = (*Engine.out_of_memory_markers, "gc overhead limit exceeded")

    @property
    def connect(self) -> bool:
        """A Spark Connect client (``sc://``): the driver is the server's."""
        return (self.options.address or "").startswith(CONNECT_SCHEME)

    @property
    def on_cluster(self) -> bool:
        """Executors of their own (a cluster manager), not tasks in a local driver."""
        return not (self.options.address or "local").startswith(("local", CONNECT_SCHEME))

    def _start(self) -> None:
        self._cores = self.resources.cores  # the cluster's, once its executors are known
        sql_conf = {
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
            "spark.sql.shuffle.partitions": str(self._shuffle_partitions(0)),
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        }
        if self.connect:  # the server's driver owns every static setting; no local Java
            self._java = None
            self._conf = {"spark.remote": self.options.address, **sql_conf}
            builder = pyspark_sql.SparkSession.builder.remote(self.options.address)
        else:
            self._java = java_major_version()
            if self._java < MIN_JAVA:
                raise JavaMissing(f"Spark needs Java {MIN_JAVA}+, found Java {self._java}")
            driver_memory = memory_limit(self.resources, DRIVER_MEMORY_SHARE)
            self._conf = {
                "spark.master": self.options.address or f"local[{self.resources.cores}]",
                "spark.driver.memory": f"{driver_memory // 1024**2}m",
                **sql_conf,
                "spark.local.dir": str(self.resources.spill_dir("spark")),
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
            }
            builder = pyspark_sql.SparkSession.builder.appName("bakeoff")
        for key, value in self._conf.items():
            if key != "spark.remote":
                builder = builder.config(key, value)
        self.session = builder.getOrCreate()
        if not self.connect:
            self.session.sparkContext.setLogLevel("ERROR")
        if self.on_cluster:
            self._cores = sum(cores for _, cores, _ in self._wait_for_executors())
            self.session.conf.set("spark.sql.shuffle.partitions", str(self._shuffle_partitions(0)))

    def _executors(self) -> list[tuple[str, int, int]]:
        """(address, cores, storage memory) of every active executor, the driver left out."""
        summaries = self.session.sparkContext._jsc.sc().statusStore().executorList(True)
        executors = (summaries.apply(i) for i in range(summaries.size()))
        return [
            (e.hostPort(), e.totalCores(), e.maxMemory()) for e in executors if e.id() != "driver"
        ]

    def _wait_for_executors(self) -> list[tuple[str, int, int]]:
        """The cluster's executors once they have registered: the first within
        EXECUTOR_WAIT_S, then until none has arrived for EXECUTOR_SETTLE_S (untimed)."""
        deadline = time.monotonic() + EXECUTOR_WAIT_S
        executors, settled = self._executors(), time.monotonic()
        while not executors or time.monotonic() - settled < EXECUTOR_SETTLE_S:
            if not executors and time.monotonic() > deadline:
                raise RuntimeError(
                    f"no executor registered with {self.options.address} in "
                    f"{EXECUTOR_WAIT_S:g} s (no worker with free cores and memory?)"
                )
            time.sleep(0.2)
            now = self._executors()
            if len(now) != len(executors):
                executors, settled = now, time.monotonic()
        return executors

    def stop(self) -> None:
        self.session.stop()

    def settings(self) -> dict[str, Any]:
        applied = {key: self._conf_value(key) for key in RECORDED_DEFAULTS}
        return {
            **self._conf,
            "spark.sql.shuffle.partitions": self.session.conf.get("spark.sql.shuffle.partitions"),
            **applied,
            **({"cluster": self._cluster()} if self.on_cluster or self.connect else {}),
            "java": self._java,
        }

    def _conf_value(self, key: str) -> str | None:
        """A setting as the session applies it: its value, or Spark's default for it."""
        try:
            return self.session.conf.get(key)
        except Exception:  # no default and not set
            return None

    def _cluster(self) -> dict[str, Any]:
        """The cluster, not this machine: its executors, with cores and memory each."""
        if self.connect:  # a client sees the server's settings, not its executors
            return {
                "connect_server": self.options.address,
                "spark.master": self._conf_value("spark.master"),
                "spark.app.id": self._conf_value("spark.app.id"),
            }
        executors = self._executors()
        conf = self.session.sparkContext.getConf()
        return {
            "executors": len(executors),
            "cores_per_executor": sorted({cores for _, cores, _ in executors}),
            "total_cores": sum(cores for _, cores, _ in executors),
            "spark.executor.memory": conf.get("spark.executor.memory", "1g"),  # Spark's default
            "storage_memory_per_executor": sorted({memory for _, _, memory in executors}),
            "executor_addresses": sorted(address for address, _, _ in executors),
        }

    def worker_processes(self) -> dict[str, int]:
        """Our application's executors on this machine, each with the Worker daemon that
        launched it (standalone): the Worker's tree is the worker, else the executor's."""
        if not (self.on_cluster or self.connect):
            return {}
        app = self._conf_value("spark.app.id")
        found = {}
        for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
            command = process.info["cmdline"] or []
            if EXECUTOR_CLASS not in command or app not in command:
                continue
            name = f"executor {_argument(command, '--executor-id')}"
            root = process.info["pid"]
            try:
                parent = psutil.Process(process.info["ppid"])
                if WORKER_CLASS in parent.cmdline():
                    name += f" on {_argument(command, '--worker-url')}"
                    root = parent.pid
            except psutil.Error:
                pass
            found[name] = root
        return found

    def no_worker_reason(self) -> str:
        if self.on_cluster or self.connect:
            return "none of the cluster's executors runs on this machine"
        return "Spark in local mode runs every task in its driver process, no worker to kill"

    def _shuffle_partitions(self, input_bytes: int) -> int:
        """At least two tasks per core, more when the input is large; AQE coalesces the rest."""
        by_size = math.ceil(input_bytes / BYTES_PER_SHUFFLE_PARTITION)
        per_core = 2 * self._cores
        return max(per_core, math.ceil(by_size / per_core) * per_core)

    def prepare(self, dataset: Dataset) -> None:
        self.session.conf.set(
            "spark.sql.shuffle.partitions", str(self._shuffle_partitions(dataset.size_bytes))
        )

    def cannot_read(self, dataset: Dataset) -> str | None:
        if dataset.url is None:
            return None
        if self.connect:
            return None  # the server reads the files; whether it has S3A is its own concern
        try:
            loader = self.session.sparkContext._jvm.java.lang.Thread.currentThread()
            loader.getContextClassLoader().loadClass(S3A_CLASS)
        except Exception:  # py4j's error for ClassNotFoundException
            return NO_S3A
        hadoop = self.session.sparkContext._jsc.hadoopConfiguration()
        if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
            hadoop.set("fs.s3a.endpoint", endpoint)
            hadoop.set("fs.s3a.path.style.access", "true")
        return None

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        location = dataset.table_location(table)
        if dataset.url is not None:
            location = self.object_store_scheme + location.partition("://")[2]
        return self.session.read.parquet(location)

    def sql(self, dataset: Dataset, statement: str) -> Any:
        """Run a canonical workload statement over the dataset's tables (see sql_tables)."""
        for name, table in sql_tables(dataset).items():
            self.scan(dataset, table).createOrReplaceTempView(name)
        return self.session.sql(statement)

    def materialize(self, result: Any) -> Any:
        result.write.format("noop").mode("overwrite").save()
        return result

    def to_arrow(self, materialized: Any) -> pa.Table:
        """A second, untimed execution of the same plan, read back through Parquet files.

        ``toArrow()`` gathers the whole result in the driver first, and the runs after it are
        slower: after one ``toArrow()`` of join_q2's 9M rows a plain PySpark script's next five
        runs took 2.88-3.21 s (median) against 2.05-2.18 s without it, and 2.17-2.24 s after the
        same read-back through Parquet. The samples run in the process that validated.
        """
        if self.connect or self.on_cluster:
            return materialized.toArrow()  # the files would be written where the driver runs
        scratch = tempfile.mkdtemp(prefix="result-", dir=self.resources.spill_dir(self.name))
        try:
            materialized.write.mode("overwrite").parquet(scratch, compression="none")
            return pq.read_table(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def result_rows(self, materialized: Any) -> int:
        return materialized.count()  # another untimed execution, with nothing collected


def _argument(command: list[str], flag: str) -> str:
    """The value after ``flag`` in a command line, or "?"."""
    return command[command.index(flag) + 1] if flag in command[:-1] else "?"


ENGINE = SparkEngine
