"""Dask: a distributed ``LocalCluster`` of worker processes, as Dask recommends for dataframes.

The cluster takes Dask's own defaults for a machine this size, written out so they are
recorded: one single-threaded worker process per core (pandas work holds the GIL), the
machine's memory split evenly between workers (``memory_limit="auto"``), and a local
directory for spilling. An existing scheduler (``tcp://…``) can be given instead: its
workers (count, threads, memory limit and local directory of each) are then recorded as the
cluster settings, and those running on this machine are the workers fault injection can kill
(:mod:`bakeoff.chaos`).

A result is computed with the collection's own ``persist()`` and waited for: it is then held,
fully computed, by the workers. (``Client.persist`` of a dask-expr groupby with ``split_out``
> 1 returned 36, 23 and 10 of 100 groups over 31, 45 and 100 input partitions here.) Task keys
are deterministic, so a result still held when the next sample persists the same query would
make that sample run no task at all: :meth:`DaskEngine.release` cancels the persisted futures
and waits until the scheduler has forgotten them and this client has heard so, and
:meth:`DaskEngine.before_run` clears dask-expr's in-process cache of Parquet dataset plans
(file statistics and partitioning), which a user's first ``read_parquet`` would have to build.

Input partitions are sized as Dask's docs advise (:meth:`DaskEngine.scan`), and each run
records how many partitions every table it read had once dask-expr had optimized the query.
The shuffle method is Dask's own default (P2P with a distributed client and pyarrow), recorded
as resolved; ``--option shuffle=tasks|p2p|disk`` sets ``dataframe.shuffle.method`` for the
session instead.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any, ClassVar

import psutil
import pyarrow as pa

from bakeoff.engines.base import Engine
from datagen.dataset import Dataset
from shared.lazy import lazy_import
from workloads.spec import TABLE_ALIAS

dask = lazy_import("dask")
dd = lazy_import("dask.dataframe")
distributed = lazy_import("distributed")
dask_io = lazy_import("dask.dataframe.dask_expr.io.io")
dask_parquet = lazy_import("dask.dataframe.dask_expr.io.parquet")
dask_utils = lazy_import("dask.utils")

RELEASE_TIMEOUT_S = 30.0
# "You should aim for partitions that have around 100MB of data each" (Dask DataFrame best
# practices, "Repartition to Reduce Overhead"), and no more than a tenth of a worker thread's
# memory: "space for ten chunks per core" (Dask best practices, "Avoid Very Large Partitions").
ADVISED_PARTITION_BYTES = 100_000_000
CHUNKS_PER_CORE = 10


class DaskEngine(Engine):
    name = "dask"
    distribution = "dask"
    import_name = "dask.dataframe"
    address_schemes = ("tcp://", "tls://", "inproc://", "ucx://")
    # "auto": Dask's own choice (get_default_shuffle_method), recorded as it resolves
    option_choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "shuffle": ("auto", "p2p", "tasks", "disk")
    }

    out_of_memory_markers = (*Engine.out_of_memory_markers, "killedworker")

    def _start(self) -> None:
        shuffle = self.option("shuffle")
        # set for this session only: stop() restores the configuration it found
        self._shuffle_config = (
            dask.config.set({"dataframe.shuffle.method": shuffle}) if shuffle != "auto" else None
        )
        if self.options.address:
            self.cluster = None
            self.client = distributed.Client(self.options.address)
        else:
            self.cluster = distributed.LocalCluster(
                n_workers=self.resources.cores,
                threads_per_worker=1,
                processes=True,
                # "auto" splits the machine's memory; under a cap, the cap is split instead.
                memory_limit=(
                    self.resources.memory_bytes // self.resources.cores
                    if self.resources.capped
                    else "auto"
                ),
                local_directory=str(self.resources.spill_dir("dask")),
                dashboard_address=None,
            )
            self.client = distributed.Client(self.cluster)
        # a LocalCluster as started: its nannies restart a worker that runs out of memory,
        # and a record written while one restarts must still describe the whole cluster
        self._started_workers = self._workers() if self.cluster is not None else None
        # Each worker imports the dataframe library (pandas, pyarrow) now, as Engine.start does
        # here: else the first timed run pays it in every worker (about 1 s and 45 MB each
        # here at 1e6; a worker its nanny restarts pays it again).
        self.client.run(importlib.import_module, self.import_name)
        self.blocksize = self._blocksize()
        self._scanned: dict[str, str] = {}  # location -> table name, of the current run
        self._query: Any = None  # the current run's query, as built (for its input partitions)

    def _blocksize(self) -> int:
        """The partition size Dask advises: about 100 MB, and at most a tenth of the memory of
        the smallest worker's thread (a worker without a memory limit sets no bound)."""
        per_thread = [
            w["memory_limit"] // w["nthreads"]
            for w in (self._started_workers or self._workers()).values()
            if w["memory_limit"]
        ]
        return min([ADVISED_PARTITION_BYTES, *(m // CHUNKS_PER_CORE for m in per_thread)])

    def stop(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        if self._shuffle_config is not None:
            self._shuffle_config.__exit__(None, None, None)

    def _workers(self) -> dict[str, dict[str, Any]]:
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def settings(self) -> dict[str, Any]:
        workers = (self._started_workers or self._workers()).values()
        with self.client.as_current():  # the shuffle method resolves against the client
            shuffle = dask_utils.get_default_shuffle_method()
        return {
            "scheduler": self.options.address or "LocalCluster",
            "workers": len(workers),
            "threads_per_worker": sorted({w["nthreads"] for w in workers}),
            "memory_limit_per_worker": sorted({w["memory_limit"] for w in workers}),
            # a cluster's own; a LocalCluster's are its nannies' (processes=True)
            "processes": all(w.get("nanny") for w in workers) if self.cluster is None else True,
            "local_directory": (
                sorted({w["local_directory"] for w in workers})
                if self.cluster is None
                else str(self.resources.spill_dir("dask"))
            ),
            "dataframe.shuffle.method": shuffle,
            "shuffle_option": self.option("shuffle"),
            "read_parquet.split_row_groups": "adaptive",
            "read_parquet.blocksize": self.blocksize,
            # merge(broadcast=None), Dask's default, as every join here calls it: a side of one
            # partition is broadcast, else the smaller when its partitions < 0.5 log2(larger's).
            "merge.broadcast": None,
            "dataframe.convert-string": dd.utils.pyarrow_strings_enabled(),
            "distributed_version": distributed.__version__,
        }

    def worker_processes(self) -> dict[str, int]:
        """Each worker on this machine: its nanny's process (with the worker under it) when
        the nanny runs apart from us, else the worker process itself (a LocalCluster's
        nannies live in this process, and restart a worker that dies)."""
        workers = self._workers()
        here = [address for address, w in workers.items() if _is_local(w["host"])]
        nannied = [address for address in here if workers[address].get("nanny")]
        pids = self.client.run(os.getpid, workers=here) if here else {}
        nannies = self.client.run(os.getpid, workers=nannied, nanny=True) if nannied else {}
        return {
            address: nannies[address] if nannies.get(address, os.getpid()) != os.getpid() else pid
            for address, pid in pids.items()
        }

    def no_worker_reason(self) -> str:
        return "none of the cluster's workers runs on this machine"

    def before_run(self) -> None:
        dask_parquet._cached_plan.clear()
        self._scanned, self._query = {}, None

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        """Partitions of :attr:`blocksize` uncompressed Parquet bytes, as Dask's docs advise.

        Dask's default (``split_row_groups="infer"``, ``blocksize`` 256 MiB, decided from the
        first file alone) reads a file below 256 MiB as one partition: a 5M-row file of
        these tables (150-180 MiB uncompressed) is one pandas frame, and two such files give a
        join two partitions, so two cores at most. ``"adaptive"`` splits every file into
        partitions of whole row groups of at most ``blocksize`` together (``read_parquet``'s
        docstring); files are not combined (``aggregate_files`` stays False), and dask-expr's
        optimizer fuses partitions itself when a query projects few columns. ``blocksize``
        counts uncompressed Parquet bytes, as Dask defines it; the pandas frames are larger
        (1.6x for join's x, 2.5x for groupby's table, with their strings). Sources:
        https://docs.dask.org/en/stable/dataframe-best-practices.html,
        https://docs.dask.org/en/stable/best-practices.html,
        https://docs.dask.org/en/stable/generated/dask.dataframe.read_parquet.html
        """
        location = dataset.table_location(table)
        self._scanned[location] = table or TABLE_ALIAS
        # s3:// goes through s3fs, which takes the endpoint and credentials from AWS_*
        return dd.read_parquet(location, split_row_groups="adaptive", blocksize=self.blocksize)

    def materialize(self, result: Any) -> Any:
        """Persist and wait; a partition that failed (``KilledWorker`` when its workers ran out
        of memory) raises here, as ``wait`` returns for failed futures as for finished ones."""
        self._query = result
        persisted = result.persist()
        futures = distributed.futures_of(persisted)
        distributed.wait(futures)
        if failed := next((f for f in futures if f.status == "error"), None):
            raise failed.exception()
        return persisted

    def resolved(self, materialized: Any) -> dict[str, Any]:
        """The result's partition count (``split_out`` as dask-expr chose it for a groupby) and
        the partition count of every table the query read, in the plan as persisted."""
        return {
            "result_partitions": materialized.npartitions,
            "input_partitions": self._input_partitions(),
        }

    def _input_partitions(self) -> dict[str, int]:
        """Partitions read per table, by table name, in the optimized plan of the last query
        (a table read twice with different columns counts its larger read). The plan is built
        again from the cache the timed run filled, which :meth:`before_run` clears."""
        if self._query is None:
            return {}
        counts: dict[str, int] = {}
        fused = set()
        nodes = list(self._query.optimize(fuse=False).expr.walk())  # before tasks are fused
        for node in nodes:
            if isinstance(node, dask_io.FusedIO):
                read = node.operand("_expr")  # several of its partitions fused into one
                fused.add(read._name)
                _count(counts, self._scanned, read.operand("path"), node.npartitions)
        for node in nodes:
            if isinstance(node, dask_parquet.ReadParquet) and node._name not in fused:
                _count(counts, self._scanned, node.operand("path"), node.npartitions)
        return counts

    def to_arrow(self, materialized: Any) -> pa.Table:
        """The persisted partitions gathered one by one to this process and joined here.

        ``compute()`` would first concatenate them into one partition on one worker, which
        needs the whole result in one worker's memory: under a memory cap the nanny restarts
        that worker at 95% of its limit, the partitions are recomputed, and the concatenation
        fails again without end (a 1e7-row join under 4 GiB, two workers of 2 GiB)."""
        tables = [  # one at a time: a worker serializes one partition, not all it holds
            pa.Table.from_pandas(future.result(), preserve_index=False)
            for future in distributed.futures_of(materialized)
        ]
        return pa.concat_tables(tables, promote_options="default")

    def result_rows(self, materialized: Any) -> int:
        return len(materialized)  # the persisted partitions' lengths, on the workers

    def release(self, materialized: Any) -> None:
        """Cancel the persisted result and wait until the scheduler holds none of its keys."""
        if self.client.status != "running":  # closed at interpreter exit: nothing to hold
            return
        futures = distributed.futures_of(materialized)
        keys = {future.key for future in futures}
        self.client.cancel(futures, force=True)
        del materialized, futures
        self._wait_forgotten(keys)
        # The scheduler tells this client "cancelled-keys" on its batched stream, which
        # run_on_scheduler does not use: a report still in flight when the next sample persists
        # the same (deterministic) keys cancelled that sample's futures ("FuturesCancelledError:
        # 2 Futures cancelled for reason: unknown", seen in groupby_q8). The stream keeps its
        # order, so once a task submitted now is reported done, every earlier report is handled.
        sentinel = self.client.submit(int, pure=False)  # a unique key: no later report hits it
        sentinel.result(timeout=RELEASE_TIMEOUT_S)
        keys = {sentinel.key}
        sentinel.release()
        del sentinel
        self._wait_forgotten(keys)

    def _wait_forgotten(self, keys: set) -> None:
        """Wait until the scheduler holds none of ``keys``."""
        deadline = time.monotonic() + RELEASE_TIMEOUT_S
        while keys & set(self.client.run_on_scheduler(_scheduler_keys)):
            if time.monotonic() > deadline:
                raise RuntimeError("Dask kept a released result's keys for 30 s")
            time.sleep(0.01)


def _count(counts: dict[str, int], tables: dict[str, str], path: Any, partitions: int) -> None:
    """Record ``partitions`` for the table read from ``path``, keeping a table's largest."""
    table = tables.get(path, str(path))
    counts[table] = max(counts.get(table, 0), partitions)


def _is_local(host: str) -> bool:
    """Whether a worker's host is this machine (loopback or one of its addresses)."""
    if host in ("localhost", "127.0.0.1", "::1"):
        return True
    return any(
        address.address == host for nics in psutil.net_if_addrs().values() for address in nics
    )


def _scheduler_keys(dask_scheduler: Any) -> list:
    """The keys the scheduler currently knows (run on the scheduler)."""
    return list(dask_scheduler.tasks)


ENGINE = DaskEngine
