"""Daft: the native (Swordfish) runner in this process, every core, answering with DataFrames.

Daft's native runner is its default for one machine; it is set explicitly with
``daft.set_runner_native(num_threads=cores)``, so that the threads are this machine's cores (or
the cores given to the run) and recorded as applied rather than left implicit. Daft fixes the
compute runtime's threads once per process (a second ``set_runner_native`` is refused), so a
later session in the same process keeps the first one's runner and threads, and records those.

Daft has no user memory limit and no spill directory for the native runner: its documentation
names none, and the local engine does not spill to disk. (The undocumented ``DAFT_MEMORY_LIMIT``
budgets only the memory that UDFs request, which no question here has.) Both are recorded as
``"none"``; under a memory cap the tree probe is what stops a run. The execution settings that
decide plans (morsel size, broadcast-join threshold, order preservation, scan parallelism,
aggregation strategy) are Daft's defaults, read back from the context and recorded.

Nothing is cached between samples: a collected DataFrame keeps its result only on that
object, and every query builds its DataFrames afresh from ``daft.read_parquet`` (which reads
the files' schemas again); Daft has no Parquet metadata or result cache across DataFrames.
Daft's telemetry call (Scarf, made on every query) and its progress bar are turned off, so
no sample waits on the network or a terminal.

A result is computed with ``DataFrame.collect()``, the sink of Daft's own benchmarks: every
row and column materialized in memory, handed to Arrow untimed. Nothing needs releasing: the
result lives only on the collected DataFrame and goes with it. ``s3://`` is read natively
by Daft's own S3 client, its ``S3Config`` taken from the AWS environment (``from_env``), the
endpoint from ``AWS_ENDPOINT_URL``, which ``from_env`` does not read.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine
from datagen.dataset import Dataset
from shared.lazy import lazy_import

daft = lazy_import("daft")

# Settings of Daft's execution config that decide the native runner's plans, recorded as
# applied (Daft's defaults). The shuffle settings are left out: they apply to the Ray runner.
RECORDED_DEFAULTS = (
    "default_morsel_size",
    "maintain_order",
    "scantask_max_parallel",
    "enable_scan_task_split_and_merge",
    "scan_tasks_min_size_bytes",
    "scan_tasks_max_size_bytes",
    "partial_aggregation_threshold",
    "high_cardinality_aggregation_threshold",
)
# Daft can fix its compute threads once per process: what the first session set.
_process_threads: int | None = None


class DaftEngine(Engine):
    name = "daft"
    distribution = "daft"
    import_name = "daft"

    def environment(self) -> dict[str, str]:
        return {"DAFT_ANALYTICS_ENABLED": "0", "DAFT_PROGRESS_BAR": "0"}

    def _start(self) -> None:
        global _process_threads
        if _process_threads is None:
            daft.set_runner_native(num_threads=self.resources.cores)
            _process_threads = self.resources.cores
        self.threads = _process_threads
        self.runner = daft.get_or_infer_runner_type()
        self.io_config: Any = None
        # Read back once, here, not while a query runs (a watchdog thread asks for settings).
        config = daft.context.get_context().daft_execution_config
        self._applied: dict[str, Any] = {
            name: getattr(config, name) for name in RECORDED_DEFAULTS if hasattr(config, name)
        }
        self._applied["broadcast_join_size_bytes_threshold"] = (
            config.get_broadcast_join_size_bytes_threshold()
        )

    def stop(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "threads": self.threads,
            "memory_limit": "none",
            "spill_dir": "none",
            "result_cache": "none (each query builds its DataFrames afresh)",
            "parquet_metadata_cache": "none",
            "DAFT_ANALYTICS_ENABLED": os.environ.get("DAFT_ANALYTICS_ENABLED"),
            "DAFT_PROGRESS_BAR": os.environ.get("DAFT_PROGRESS_BAR"),
            "object_store": "daft S3Config.from_env" if self.io_config is not None else None,
            "applied": self._applied,
        }

    def prepare(self, dataset: Dataset) -> None:
        if dataset.url is not None and self.io_config is None:
            s3 = daft.io.S3Config.from_env()
            if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
                s3 = s3.replace(endpoint_url=endpoint)
            self.io_config = daft.io.IOConfig(s3=s3)

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        return daft.read_parquet(
            dataset.table_glob(table),
            hive_partitioning=dataset.partition_by is not None,
            io_config=self.io_config,
        )

    def materialize(self, result: Any) -> Any:
        return result.collect()

    def to_arrow(self, materialized: Any) -> pa.Table:
        return materialized.to_arrow()

    def result_rows(self, materialized: Any) -> int:
        return len(materialized)


ENGINE = DaftEngine
