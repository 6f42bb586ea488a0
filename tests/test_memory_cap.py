"""A memory cap for a whole run: each engine's native limit follows it, the probe enforces it."""

from __future__ import annotations

import pytest

from bakeoff.engines import create_engine
from bakeoff.engines.base import MEMORY_CAP_VARIABLE, Resources
from bakeoff.runner import default_memory_limit
from shared.errors import InputError
from shared.units import parse_bytes

GIB = 1024**3


def test_sizes_are_parsed_or_refused_in_one_line():
    assert parse_bytes("4GiB") == 4 * GIB
    assert parse_bytes("512 MB") == 512 * 1000**2
    for bad in ("", "4 parsecs", "-1GiB", "0"):
        with pytest.raises(InputError, match="a memory size is"):
            parse_bytes(bad)


def test_the_cap_becomes_every_limit(monkeypatch):
    monkeypatch.setenv(MEMORY_CAP_VARIABLE, "2GiB")
    resources = Resources.detect()
    assert resources.capped and resources.memory_bytes == 2 * GIB
    assert default_memory_limit() == 2 * GIB  # the tree probe's watchdog
    pytest.importorskip("duckdb")
    engine = create_engine("duckdb", resources=resources)
    engine.start()
    try:
        settings = engine.settings()
        assert settings["memory_limit"] == f"{int(2 * GIB * 0.8) // 1024**2}MiB"
        assert settings["preserve_insertion_order"] is False  # DuckDB's out-of-memory advice
    finally:
        engine.stop()


@pytest.mark.parametrize("collect_engine", ["streaming", "in-memory"])
def test_polars_under_a_cap_streams_its_result_to_disk_and_validates_it(
    collect_engine, data_dir, monkeypatch
):
    """Under a cap Polars' result goes to an Arrow IPC file in its spill directory, as
    DuckDB's result table spills: read back, validated value by value, deleted after."""
    pytest.importorskip("polars")
    from bakeoff.reference import reference_answer
    from bakeoff.runner import run_workload
    from datagen import ensure_dataset
    from datagen.dataset import DatasetSpec
    from workloads import get_workload

    monkeypatch.setenv(MEMORY_CAP_VARIABLE, "2GiB")
    monkeypatch.setenv("BAKEOFF_POLARS_OPTIONS", f"engine={collect_engine}")
    engine = create_engine("polars")
    engine.start()
    spill = engine.resources.spill_dir("polars")
    for name, table in (("groupby_q3", "groupby"), ("join_q5", "join"), ("window_w2", "window")):
        dataset = ensure_dataset(DatasetSpec(table=table, rows=10_000), data_dir)
        workload = get_workload(name)
        record = run_workload(
            engine, workload, dataset, reference=reference_answer(dataset, workload)
        )
        assert record.status == "ok" and record.validated, record.detail
        assert record.settings["sink"] == "sink_ipc to the spill directory"
        assert record.settings["engine"] == collect_engine
        assert list(spill.iterdir()) == []  # released after the read-back
    monkeypatch.delenv(MEMORY_CAP_VARIABLE)
    uncapped = create_engine("polars")
    uncapped.start()
    assert uncapped.settings()["sink"] == "collect"


def test_no_cap_leaves_the_machine(monkeypatch):
    monkeypatch.delenv(MEMORY_CAP_VARIABLE, raising=False)
    assert not Resources.detect().capped


def test_a_run_over_its_cap_is_out_of_memory_at_cap(data_dir, tmp_path):
    """bakeoff run --memory-cap: DuckDB's limit follows the cap; crossing it is a record."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("duckdb")
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", "run", "--engine", "duckdb", "--workload",
         "groupby_q3", "--rows", "1e6", "--data-dir", str(data_dir), "--json",
         "--memory-cap", "150MiB"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BAKEOFF_RESULTS_DIR": str(tmp_path)},
    )  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["status"] for r in records] == ["out_of_memory"], done.stderr[-2000:]
    assert "over the 150.0 MiB memory cap" in records[0]["detail"]
    assert records[0]["settings"]["memory_limit"] == "120MiB"
    assert records[0]["settings"]["memory_cap_bytes"] == 150 * 1024**2


def test_dask_reads_a_result_back_without_gathering_it_on_one_worker(data_dir):
    """Validation gathers each persisted partition to the harness; ``compute()`` would first
    concatenate them into one partition on one worker, which under a cap (2 GiB per worker
    at 4 GiB) that worker cannot hold, and its nanny restarts it without end."""
    pytest.importorskip("dask")
    import distributed

    from datagen import ensure_dataset
    from datagen.dataset import DatasetSpec
    from workloads.join import dask as dask_join

    spec = DatasetSpec(table="join", rows=100_000, rows_per_file=25_000)
    dataset = ensure_dataset(spec, data_dir)
    engine = create_engine("dask")
    engine.start()
    try:
        result = engine.materialize(dask_join.QUERIES["join_q1"](engine, dataset))
        assert result.npartitions > 1
        with distributed.get_task_stream(client=engine.client) as stream:
            table = engine.to_arrow(result)
        assert table.num_rows == len(result) > 0
        assert stream.data == []  # no task ran: the partitions were held, only fetched
        engine.release(result)
    finally:
        engine.stop()


def _fail(partition):
    raise MemoryError("a partition that never finishes")


def test_dask_a_failed_partition_fails_the_run_not_its_read_back(data_dir):
    """``distributed.wait`` returns for failed futures as for finished ones: a persist whose
    workers died (``KilledWorker``) must end the timed run as a failure, not as a time."""
    pytest.importorskip("dask")
    from datagen import ensure_dataset
    from datagen.dataset import DatasetSpec

    dataset = ensure_dataset(DatasetSpec(rows=10_000), data_dir)
    engine = create_engine("dask")
    engine.start()
    try:
        frame = engine.scan(dataset)
        with pytest.raises(MemoryError, match="never finishes"):
            engine.materialize(frame.map_partitions(_fail, meta=frame._meta))
        assert engine.settings()["workers"] == engine.resources.cores
    finally:
        engine.stop()
