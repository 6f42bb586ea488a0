"""pyarrow's adapter: the thread pools it sizes and records, no limit under a cap, no sample
reusing an earlier one's work, and the compute compositions' NULL and group semantics."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bakeoff.engines import create_engine
from bakeoff.engines.base import GIB, Resources
from datagen import ensure_dataset
from datagen.dataset import Dataset, DatasetSpec
from workloads import get_workload, implementation
from workloads.groupby.pyarrow import run_starts, sorted_groups
from workloads.window.pyarrow import row_numbers


@pytest.fixture
def engine(tmp_path):
    """A session of one core under a 1 GiB cap; pyarrow's pools are global, so restored."""
    cpu, io = pa.cpu_count(), pa.io_thread_count()
    resources = Resources(cores=1, memory_bytes=GIB, scratch_dir=tmp_path, capped=True)
    engine = create_engine("pyarrow", resources=resources)
    engine.start()
    yield engine
    engine.stop()
    pa.set_cpu_count(cpu)
    pa.set_io_thread_count(io)


def test_settings_are_the_pools_as_applied_and_no_limit_under_a_cap(engine):
    settings = engine.settings()
    assert settings["threads"] == pa.cpu_count() == 1
    assert settings["io_threads"] == pa.io_thread_count() == 8
    assert settings["use_threads"] is True
    assert settings["memory_pool"] == pa.default_memory_pool().backend_name
    # Acero has neither a memory limit nor spilling, cap or no cap
    assert settings["memory_limit"] == "none" and settings["spill_directory"] == "none"


def test_a_later_run_reads_the_files_again(engine, tmp_path):
    """The same question after the data changed on disk gives the new answer: no footer,
    statistics or result of the first run served the second."""
    source = ensure_dataset(DatasetSpec(rows=10_000), tmp_path / "data")
    copy = tmp_path / "copy" / source.path.name
    shutil.copytree(source.path, copy)
    dataset = Dataset.open(copy)
    query = implementation("pyarrow", get_workload("groupby_q1"))
    engine.prepare(dataset)
    before = engine.to_arrow(engine.run(query, dataset))
    for part in sorted(copy.rglob("*.parquet")):
        table = pq.read_table(part)
        doubled = pc.multiply(table.column("v1"), 2)
        pq.write_table(table.set_column(table.schema.get_field_index("v1"), "v1", doubled), part)
    after = engine.run(query, dataset)
    assert engine.result_rows(after) == before.num_rows
    total = pc.sum(before.column("v1")).as_py()
    assert total > 0 and pc.sum(after.column("v1")).as_py() == 2 * total


def test_a_null_key_is_one_group_and_groups_follow_the_sort():
    """Runs of equal keys, NULL equal to NULL, in the sorted order whatever Acero's order."""
    table = pa.table({"k": [3, None, 1, None, 3, 1, 2], "v": [5.0, 2.0, 1.0, None, 4.0, 7.0, 6.0]})
    assert run_starts([pa.chunked_array([[None, None, 1, 1, None]])]).to_pylist() == [
        True,
        False,
        True,
        False,
        True,
    ]
    ordered, groups = sorted_groups(table, ["k"], [("v", "ascending")], ("v", "count"))
    assert ordered["k"].to_pylist() == [1, 1, 2, 3, 3, None, None]
    assert ordered["v"].to_pylist()[-2:] == [2.0, None]  # NULL values last within a group
    assert groups["k"].to_pylist() == [1, 2, 3, None]
    assert groups["start"].to_pylist() == [0, 2, 3, 5]
    assert groups["count_all"].to_pylist() == [2, 1, 2, 2]
    assert groups["v_count"].to_pylist() == [2, 1, 2, 1]


def test_row_numbers_restart_in_every_group_across_chunks():
    groups = pa.chunked_array([[7, 7], [7, 8], [8, 9]])
    assert row_numbers(groups).to_pylist() == [1, 2, 3, 1, 2, 1]
