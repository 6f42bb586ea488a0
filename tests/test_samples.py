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
from workloads import get_workload

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
