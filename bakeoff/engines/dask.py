"""Dask: a distributed ``LocalCluster`` of worker processes, as Dask recommends for dataframes.

The cluster takes Dask's own defaults for a machine this size, written out so they are
recorded: one single-threaded worker process per core (pandas work holds the GIL), the
machine's memory split evenly between workers (``memory_limit="auto"``), and a local
directory for spilling. An existing scheduler (``tcp://…``) can be given instead. A result is
materialized with ``persist`` and waited for: it is then held, fully computed, by the workers.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine
from bakeoff.lazy import lazy_import
from datagen.dataset import Dataset

dd = lazy_import("dask.dataframe")
distributed = lazy_import("distributed")


class DaskEngine(Engine):
    name = "dask"
    distribution = "dask"
    import_name = "dask.dataframe"
    address_schemes = ("tcp://", "tls://", "inproc://", "ucx://")

    out_of_memory_markers = (*Engine.out_of_memory_markers, "killedworker")

    def _start(self) -> None:
        if self.options.address:
            self.cluster = None
            self.client = distributed.Client(self.options.address)
        else:
            self.cluster = distributed.LocalCluster(
                n_workers=self.resources.cores,
                threads_per_worker=1,
                processes=True,
                memory_limit="auto",
                local_directory=str(self.resources.spill_dir("dask")),
                dashboard_address=None,
            )
            self.client = distributed.Client(self.cluster)

    def stop(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def settings(self) -> dict[str, Any]:
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return {
            "scheduler": self.options.address or "LocalCluster",
            "workers": len(workers),
            "threads_per_worker": sorted({w["nthreads"] for w in workers}),
            "memory_limit_per_worker": sorted({w["memory_limit"] for w in workers}),
            "processes": True,
            "local_directory": str(self.resources.spill_dir("dask")),
            "distributed_version": distributed.__version__,
        }

    def scan(self, dataset: Dataset) -> Any:
        return dd.read_parquet(str(dataset.path))

    def materialize(self, result: Any) -> Any:
        # The collection's own persist(), as Dask's docs show it. (Client.persist of a
        # dask-expr groupby over many files returned a partial result in our tests.)
        persisted = result.persist()
        distributed.wait(persisted)
        return persisted

    def to_arrow(self, materialized: Any) -> pa.Table:
        return pa.Table.from_pandas(materialized.compute(), preserve_index=False)


ENGINE = DaskEngine
