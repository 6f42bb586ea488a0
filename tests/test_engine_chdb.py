"""chDB's adapter: the settings it applies and reads back, its caches, its sink, its errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bakeoff.engines import create_engine
from bakeoff.engines.base import GIB, Resources
from bakeoff.engines.chdb import MEMORY_SHARE, PINNED, SPILL_SHARE, as_dict
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import get_workload, implementation

pytest.importorskip("chdb")

MIB = 1024**2
CACHE_HITS = ("ParquetMetadataCacheHits", "SchemaInferenceCacheHits", "QueryCacheHits")


@pytest.fixture(scope="module")
def tiny(data_dir):
    return ensure_dataset(DatasetSpec(rows=10_000), data_dir)


@pytest.fixture
def engine(tmp_path):
    """A session of two cores under a 2 GiB cap, spilling under tmp_path."""
    resources = Resources(cores=2, memory_bytes=2 * GIB, scratch_dir=tmp_path, capped=True)
    started = create_engine("chdb", resources=resources)
    started.start()
    yield started
    started.stop()


def test_the_settings_are_applied_and_read_back(engine, tmp_path):
    limit = int(2 * GIB * MEMORY_SHARE) // MIB * MIB
    applied = engine.settings()["applied"]
    assert applied["max_threads"] == "2"
    assert applied["max_memory_usage"] == applied["max_server_memory_usage"] == str(limit)
    for spill in ("max_bytes_before_external_group_by", "max_bytes_before_external_sort"):
        assert applied[spill] == str(int(limit * SPILL_SHARE))
    assert applied["tmp_path"] == f"{tmp_path / 'chdb'}/"
    assert applied["parquet_metadata_cache_size"] == "0"
    assert {name: applied[name] for name in PINNED} == {k: str(v) for k, v in PINNED.items()}
    assert applied["clickhouse_version"]


def test_stop_removes_the_sessions_directory(tmp_path):
    resources = Resources(cores=1, memory_bytes=GIB, scratch_dir=tmp_path)
    engine = create_engine("chdb", resources=resources)
    engine.start()
    path = Path(engine._path)
    assert path.is_dir()
    engine.stop()
    assert not path.exists()


def _hits(engine) -> dict[str, int]:
    names = ", ".join(f"'{name}'" for name in CACHE_HITS)
    return as_dict(
        engine.session.query(
            f"SELECT event, value FROM system.events WHERE event IN ({names})", "ArrowTable"
        )
    )


def test_a_later_sample_finds_no_cache(engine, tiny):
    """The same question twice: the second reads the Parquet footers and infers the schema
    again, and no result comes from the query cache (ClickHouse counts every hit)."""
    query = implementation("chdb", get_workload("groupby_q3"))
    for _ in range(2):
        engine.release(engine.run(query, tiny))
    assert _hits(engine) == {}


def test_the_null_sink_computes_every_row(engine, tiny):
    """An error raised only by the last row of the file still fails the timed sink."""
    last = pq.read_table(tiny.table_files()[-1], columns=["id3"]).column("id3")[-1].as_py()
    statement = engine.sql(tiny, f"SELECT id3, throwIf(id3 = '{last}') AS boom FROM x")
    with pytest.raises(RuntimeError, match="FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"):
        engine.materialize(statement)


def test_a_query_over_its_memory_limit_is_out_of_memory(engine, tiny):
    statement = engine.sql(tiny, f"{get_workload('groupby_q10').sql} SETTINGS max_memory_usage = 1")
    with pytest.raises(RuntimeError) as raised:
        engine.materialize(statement)
    assert engine.is_out_of_memory(raised.value), str(raised.value)


def test_q6_asks_for_the_exact_median():
    """ClickHouse's median is an estimate; the answer is the mean of the two middle values."""
    from workloads.groupby.chdb import QUERIES

    sql = QUERIES["groupby_q6"].args[0].sql
    assert "quantileExactInclusive(0.5)(v3)" in sql and "median(" not in sql
