"""pyarrow: Acero plans and ``pyarrow.compute`` over a ``pyarrow.dataset`` of the Parquet files.

Arrow computes on two global thread pools, sized as pyarrow documents them: the CPU pool
(``pa.set_cpu_count``) to the cores, and the I/O pool (``pa.set_io_thread_count``), whose
threads wait on reads rather than compute, pinned at Arrow's own default of 8 so that it is
recorded rather than assumed. Every plan runs with ``use_threads=True``.

Acero's hash join and hash aggregation keep their state in memory: pyarrow has no memory limit
and no spilling for them (nor a setting for either), so both are recorded as ``"none"`` and a
memory cap is enforced by the tree probe alone. The allocator is Arrow's default memory pool,
recorded by name.

Nothing is cached between samples: every query opens the files afresh as a new
``pyarrow.dataset.Dataset``, so no Parquet footer or fragment statistics read by one sample
reach the next; pyarrow keeps no result cache. A query returns either an Acero
``Declaration`` (a lazy plan), computed into a ``pyarrow.Table`` by ``materialize``, or, for
the questions answered with compute functions, the ``Table`` itself: an in-memory ``Table``,
what ``Declaration.to_table`` and the compute functions return, is the cheapest complete sink
pyarrow has (it has no engine-side table to write into, and no count-only sink). ``s3://`` is
read natively with pyarrow's ``S3FileSystem``, configured from the AWS variables.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine
from datagen.dataset import Dataset
from shared.lazy import lazy_import

acero = lazy_import("pyarrow.acero")
pds = lazy_import("pyarrow.dataset")
pc = lazy_import("pyarrow.compute")

IO_THREADS = 8  # Arrow's default I/O pool size
NONE = "none"  # what pyarrow has for a memory limit and a spill directory


class PyArrowEngine(Engine):
    name = "pyarrow"
    distribution = "pyarrow"
    import_name = "pyarrow.dataset"

    def _start(self) -> None:
        pa.set_cpu_count(self.resources.cores)
        pa.set_io_thread_count(IO_THREADS)
        self.filesystem = "local"

    def stop(self) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return {
            "threads": pa.cpu_count(),
            "io_threads": pa.io_thread_count(),
            "use_threads": True,
            "memory_pool": pa.default_memory_pool().backend_name,
            "memory_limit": NONE,
            "spill_directory": NONE,
            "result_cache": NONE,
            "metadata_cache": "none (a new Dataset per query)",
            "filesystem": self.filesystem,
        }

    def prepare(self, dataset: Dataset) -> None:
        if dataset.url is not None:
            self.filesystem = type(dataset.arrow_filesystem).__name__

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        """A new ``Dataset`` over the table's files (hive directories are its partitions)."""
        return pds.dataset(
            dataset.arrow_path(table),
            filesystem=dataset.arrow_filesystem,
            format="parquet",
            partitioning="hive" if dataset.partition_by else None,
        )

    def read(
        self,
        dataset: Dataset,
        columns: list[str],
        table: str | None = None,
        names: list[str] | None = None,
    ) -> Any:
        """An Acero plan that scans ``columns`` of a table: the scan node reads only them, and
        the projection drops the scan's own fields (``__fragment_index`` …) and names the
        columns (``names``, by default their own)."""
        scan = acero.ScanNodeOptions(self.scan(dataset, table), columns=columns)
        fields = [pc.field(column) for column in columns]
        return acero.Declaration.from_sequence(
            [
                acero.Declaration("scan", scan),
                acero.Declaration("project", acero.ProjectNodeOptions(fields, names or columns)),
            ]
        )

    def materialize(self, result: Any) -> pa.Table:
        return result.to_table(use_threads=True)  # a finished Table never gets here (Engine.run)

    def to_arrow(self, materialized: pa.Table) -> pa.Table:
        return materialized

    def result_rows(self, materialized: pa.Table) -> int:
        return materialized.num_rows


ENGINE = PyArrowEngine
