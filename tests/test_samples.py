"""What one asv sample may reuse from the last: a warm session, never a result or task keys.

Dask's task keys are deterministic, so a persisted result still held when the next sample
persists the same query would make that sample compute nothing; DuckDB's result table must be
dropped outside the timing. Dask is tested on a dataset of 100 files (100 input partitions), where
dask-expr's groupby chooses ``split_out`` > 1, which tiny one-file data never reaches.
"""

from __future__ import annotations

import pytest

from bakeoff.engines import create_engine
from bakeoff.reference import reference_answer
from bakeoff.runner import Status, run_workload
from bakeoff.suite import PreparedWorkload
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import get_workload, implementation

PARTITIONED = DatasetSpec(rows=10_000, partition_by="id4")  # 100 files, 100 partitions


@pytest.fixture(scope="module")
def dask_engine():
    pytest.importorskip("distributed")
    engine = create_engine("dask")
    engine.start()
    yield engine
    engine.stop()


def scheduler_tasks(engine) -> list:
    return engine.client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))


@pytest.mark.parametrize("name", ["groupby_q1", "groupby_q3", "groupby_q2"])
def test_dask_answers_with_split_out_and_releases_every_key(dask_engine, data_dir, name):
    dataset = ensure_dataset(PARTITIONED, data_dir)
    workload = get_workload(name)
    reference = reference_answer(dataset, workload)
    for _ in range(2):  # the second run finds nothing of the first
        record = run_workload(dask_engine, workload, dataset, reference=reference)
        assert record.status == Status.OK, record.detail
        assert scheduler_tasks(dask_engine) == []
    assert record.settings["result_partitions"] > 1  # split_out as dask-expr chose it
    assert record.settings["dataframe.shuffle.method"] in ("p2p", "tasks", "disk")
    assert record.settings["dataframe.convert-string"] is True


def test_suite_samples_release_their_results_untimed(data_dir, monkeypatch):
    """asv's setup/teardown around each sample: DuckDB's result table is gone after it."""
    pytest.importorskip("duckdb")
    monkeypatch.setenv("BAKEOFF_ENGINE", "duckdb")
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(data_dir / "results"))
    prepared = PreparedWorkload("groupby_q1", 10_000)
    try:
        tables = "SELECT count(*) FROM duckdb_tables()"
        for _ in range(3):
            prepared.before_sample()
            prepared.run_once()
            assert prepared.engine.connection.sql(tables).fetchall() == [(1,)]
            prepared.after_sample()
            assert prepared.engine.connection.sql(tables).fetchall() == [(0,)]
        assert prepared.engine.runs == 4  # the validated run and three samples
    finally:
        prepared.close()


def _set_report_interval(dask_scheduler, seconds: float) -> float:
    """Set how long the scheduler batches its reports to clients (2 ms in distributed)."""
    comms = list(dask_scheduler.client_comms.values())
    before = comms[0].interval
    for comm in comms:
        comm.interval = seconds
    return before


@pytest.mark.parametrize("name", ["groupby_q8", "groupby_q3"])
def test_dask_sample_cycle_never_cancels_the_next_sample(dask_engine, data_dir, name):
    """Release, run, release … 20 times with the same deterministic keys: a "cancelled-keys"
    report of one release still in flight must never cancel the next sample's futures (it
    did, once, in a 1e7 `make bench`: FuturesCancelledError on groupby_q8's futures).

    The scheduler's reports to this client are held 200 ms instead of 2 ms, so the report is
    always in flight when the next sample persists: a release that only waited for the
    scheduler to forget the keys failed 9 of 10 samples here."""
    dataset = ensure_dataset(PARTITIONED, data_dir)
    query = implementation("dask", get_workload(name))
    client = dask_engine.client
    usual = client.run_on_scheduler(_set_report_interval, seconds=0.2)
    try:
        for _ in range(20):
            dask_engine.before_run()
            result = dask_engine.run(query, dataset)
            assert dask_engine.result_rows(result) > 0
            dask_engine.release(result)
    finally:
        client.run_on_scheduler(_set_report_interval, seconds=usual)
    assert scheduler_tasks(dask_engine) == []
