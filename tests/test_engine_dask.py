"""Dask's input partitions, sized as Dask's docs advise and recorded per table in every run,
and its shuffle method as an engine option, applied to the plan and recorded as resolved.

The join dataset is read twice: in one file of 16 row groups, and with x and big in four files
each, where join_q5 (x with big on id3) is a hash join that shuffles both sides.
"""

from __future__ import annotations

import dask
import pytest

from bakeoff.engines import EngineOptions, create_engine
from bakeoff.engines.dask import ADVISED_PARTITION_BYTES, DaskEngine
from bakeoff.reference import reference_answer
from bakeoff.runner import Status, run_workload
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import get_workload, implementation

ONE_FILE = DatasetSpec(table="join", rows=10_000)  # 16 row groups of 625 rows
FOUR_FILES = DatasetSpec(table="join", rows=10_000, rows_per_file=2_500)
Q5 = get_workload("join_q5")
# the dask-expr plan node that shuffles for a hash join, by shuffle method
SHUFFLE_NODES = {"p2p": "HashJoinP2P", "tasks": "TaskShuffle", "disk": "DiskShuffle"}


def _started(**extra: str) -> DaskEngine:
    pytest.importorskip("distributed")
    engine = create_engine("dask", options=EngineOptions(extra=extra))
    engine.start()
    return engine


@pytest.fixture(scope="module")
def dask_engine():
    engine = _started()
    yield engine
    engine.stop()


def _run_q5(engine: DaskEngine, spec: DatasetSpec, data_dir):
    dataset = ensure_dataset(spec, data_dir)
    record = run_workload(engine, Q5, dataset, reference=reference_answer(dataset, Q5))
    assert record.status == Status.OK, record.detail
    return record, dataset


def test_each_file_is_a_partition_when_smaller_than_the_advised_size(dask_engine, data_dir):
    record, _ = _run_q5(dask_engine, FOUR_FILES, data_dir)
    partitions = record.settings["input_partitions"]
    assert partitions["x"] == 4  # every column of x is read: one partition per file
    assert 1 <= partitions["big"] <= 4  # two columns of big: dask-expr may fuse its partitions
    assert record.settings["read_parquet.split_row_groups"] == "adaptive"
    assert record.settings["read_parquet.blocksize"] == dask_engine.blocksize


def test_a_file_larger_than_the_block_size_is_split_at_row_groups(dask_engine, data_dir):
    whole, _ = _run_q5(dask_engine, ONE_FILE, data_dir)
    assert whole.settings["input_partitions"]["x"] == 1
    advised, dask_engine.blocksize = dask_engine.blocksize, 1  # smaller than any row group
    try:
        split, _ = _run_q5(dask_engine, ONE_FILE, data_dir)
    finally:
        dask_engine.blocksize = advised
    assert split.settings["input_partitions"]["x"] == 16  # one partition per row group


def test_block_size_is_the_advised_size_or_a_tenth_of_a_worker_thread():
    engine = DaskEngine()  # not started: its workers are given
    engine._started_workers = {"a": {"memory_limit": 0, "nthreads": 1}}  # no limit
    assert engine._blocksize() == ADVISED_PARTITION_BYTES
    engine._started_workers["b"] = {"memory_limit": 400_000_000, "nthreads": 2}
    assert engine._blocksize() == 20_000_000  # 200 MB a thread, ten chunks per core


@pytest.mark.parametrize("shuffle", ["auto", "tasks", "disk"])
def test_shuffle_option_is_applied_to_the_plan_and_recorded(dask_engine, shuffle, data_dir):
    before = dask.config.get("dataframe.shuffle.method", None)  # Dask's: None, decide per client
    engine = dask_engine if shuffle == "auto" else _started(shuffle=shuffle)
    try:
        record, dataset = _run_q5(engine, FOUR_FILES, data_dir)
        method = record.settings["dataframe.shuffle.method"]
        assert record.settings["shuffle_option"] == shuffle
        assert method == ("p2p" if shuffle == "auto" else shuffle)  # Dask's own: P2P
        with engine.client.as_current():
            plan = implementation("dask", Q5)(engine, dataset).optimize(fuse=False)
        nodes = {type(node).__name__ for node in plan.expr.walk()}
        assert nodes & set(SHUFFLE_NODES.values()) == {SHUFFLE_NODES[method]}
    finally:
        if engine is not dask_engine:
            engine.stop()
    assert dask.config.get("dataframe.shuffle.method", None) == before  # the session's only
