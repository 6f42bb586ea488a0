"""The ETL questions (e1-e5, write workloads) on every engine, their checks, and their references.

Each engine answers e1-e5 at tiny scale through ``bakeoff run``: once on the table as generated
(one file per day: 30 input files, 30 partitions), once cut into files of 100 rows (several
files per day, several Dask partitions per output partition). Every cell writes Parquet that
the harness reads back and matches with the pandas reference value by value, or the engine
declared it unsupported. A wrong writer (a dropped partition, duplicates kept, a partition
written twice, an old partition rewritten, another codec) is injected into DuckDB's module and
must be a wrong answer without a timing. The references are checked on hand-made frames.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import workloads.etl.duckdb as duckdb_etl
from bakeoff.engines import ENGINE_NAMES, create_engine
from bakeoff.engines.base import Resources
from bakeoff.reference import reference_answer
from bakeoff.runner import run_workload
from datagen.cli import usable_dataset
from datagen.dataset import DatasetSpec
from tests.helpers import assert_answered, run_engine
from workloads import get_workload
from workloads.etl import HOURLY_SQL, PARTITION_COLUMN, last_day_locations

ETL = [f"etl_e{i}" for i in range(1, 6)]
VARIANTS = {
    "day_files": (),
    "small_files": ("--rows-per-file", "100"),
}
PARTITIONED = {"etl_e1", "etl_e2", "etl_e4"}
# Vaex's min and max of an all-NULL group are inf and -inf: at 10,000 rows some hours of one
# status hold only NULL values (see workloads/etl/vaex.py).
KNOWN_WRONG = {"vaex": frozenset({"etl_e2", "etl_e4"})}


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine_runs(request, data_dir, tmp_path_factory):
    """e1-e5 per engine and dataset variant; one engine start per variant."""
    engine = request.param
    results = tmp_path_factory.mktemp(f"results-etl-{engine}")
    runs = {
        name: run_engine(engine, data_dir, results, *flags, workload="etl")
        for name, flags in VARIANTS.items()
    }
    return engine, runs


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_written_output_matches_the_reference_or_says_why_not(engine_runs, variant):
    engine, runs = engine_runs
    known_wrong = KNOWN_WRONG.get(engine, frozenset())
    by_workload = assert_answered(engine, *runs[variant], ETL, known_wrong)
    for name, record in by_workload.items():
        if record.status != "ok":
            continue
        written = record.output
        assert written["files"] >= 1 and written["bytes"] > 0 and written["row_groups"] >= 1
        assert written["partitions"] == (30 if name in PARTITIONED else 0), name
        assert written["prior_files"] == (29 if name == "etl_e4" else 0), name
        assert record.dataset["format"].get("file_format", "parquet") == (
            "csv" if name == "etl_e5" else "parquet"
        )


# -- wrong writers ----------------------------------------------------------------------------
def _copy(engine, source, statement: str, output: str, *options: str) -> None:
    engine.connection.register("x", source)
    settings = ", ".join(("FORMAT parquet", *options))
    engine.connection.execute(f"COPY ({statement}) TO '{output}' ({settings})")


BY_DAY = f"PARTITION_BY ({PARTITION_COLUMN})"
CLEAN = get_workload("etl_e1").sql


def _dropped_partition(engine, dataset, output):
    statement = f"SELECT * FROM ({HOURLY_SQL}) WHERE date > DATE '2024-01-01'"
    _copy(engine, engine.scan(dataset), statement, output, BY_DAY)


def _written_twice(engine, dataset, output):
    _copy(engine, engine.scan(dataset), CLEAN, output, BY_DAY)
    _copy(
        engine,
        engine.scan(dataset),
        CLEAN + " AND ts < DATE '2024-01-02'",
        output,
        BY_DAY,
        "APPEND",
    )


def _wrong_partition(engine, dataset, output):
    statement = f"SELECT * REPLACE (date + 1 AS date) FROM ({CLEAN})"
    _copy(engine, engine.scan(dataset), statement, output, BY_DAY)


def _duplicates_kept(engine, dataset, output):
    _copy(engine, engine.scan(dataset), "SELECT * FROM x", output, "PER_THREAD_OUTPUT true")


def _rewrites_old_partitions(engine, dataset, output):
    """Every day recomputed and the directory overwritten: right rows, old files replaced."""
    _copy(engine, engine.scan(dataset), HOURLY_SQL, output, BY_DAY, "OVERWRITE true")


def _appends_every_day(engine, dataset, output):
    """All 30 days appended: the old partitions get new files (and twice the rows)."""
    _copy(engine, engine.scan(dataset), HOURLY_SQL, output, BY_DAY, "APPEND")


def _zstd(engine, dataset, output):
    source = engine.connection.read_parquet(last_day_locations(dataset))
    _copy(engine, source, HOURLY_SQL, output, BY_DAY, "APPEND", "COMPRESSION zstd")


WRONG_WRITERS = {
    "dropped_partition": ("etl_e2", _dropped_partition, "rows, expected"),
    "partition_written_twice": ("etl_e1", _written_twice, "rows, expected"),
    "rows_in_the_wrong_partition": ("etl_e1", _wrong_partition, "values of date differ"),
    "duplicates_kept": ("etl_e3", _duplicates_kept, "rows, expected"),
    "old_partitions_rewritten": ("etl_e4", _rewrites_old_partitions, "was rewritten or removed"),
    "old_partitions_appended_to": ("etl_e4", _appends_every_day, "into an earlier partition"),
    "another_codec": ("etl_e4", _zstd, "not snappy"),
}


@pytest.fixture(scope="module")
def duckdb_engine(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    resources = Resources(cores=1, memory_bytes=2 * 1024**3, scratch_dir=scratch)
    engine = create_engine("duckdb", resources=resources)
    engine.start()
    yield engine
    engine.stop()


@pytest.mark.parametrize("case", list(WRONG_WRITERS))
def test_a_wrong_writer_is_a_wrong_answer(case, duckdb_engine, data_dir, monkeypatch):
    name, writer, detail = WRONG_WRITERS[case]
    workload = get_workload(name)
    dataset = usable_dataset(DatasetSpec(table="events", rows=10_000), data_dir)
    monkeypatch.setitem(duckdb_etl.QUERIES, name, writer)
    record = run_workload(
        duckdb_engine, workload, dataset, reference=reference_answer(dataset, workload)
    )
    assert record.status == "wrong_answer", (case, record.detail)
    assert detail in record.detail, record.detail
    assert record.wall_s is None and not record.validated
    output_dir = Path(duckdb_engine.resources.scratch_dir) / "output"
    assert not any(output_dir.iterdir()), "the run's output was not removed"


# -- references on hand-made frames -------------------------------------------------------------
def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["event_id", "user_id", "ts", "status", "category", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
    return frame.convert_dtypes(dtype_backend="pyarrow")


EVENTS = _frame(
    [
        (1, 10, "2024-01-01 05:10", "ok", "c1", 2.0),
        (1, 10, "2024-01-01 07:00", "ok", "c1", 1.0),  # re-sent later: the latest of event 1
        (2, 11, "2024-01-01 05:30", "ok", "c2", None),
        (2, 11, "2024-01-01 05:30", "ok", "c2", 3.0),  # same ts: the greater value wins
        (3, 12, "2024-01-02 23:59", "failed", "c3", None),  # an hour of only NULL values
    ]
)


def test_clean_drops_null_values_and_derives_the_day_and_hour():
    clean = get_workload("etl_e1").reference(EVENTS)
    assert list(clean["event_id"]) == [1, 1, 2]
    assert list(clean["date"]) == [dt.date(2024, 1, 1)] * 3
    assert list(clean["hour"]) == [5, 7, 5]


def test_hourly_counts_values_and_keeps_a_group_of_only_nulls():
    hourly = get_workload("etl_e2").reference(EVENTS).sort_values(["date", "hour"])
    rows = [
        (row.date, row.hour, row.status, row.n, row.mean_value, row.min_value)
        for row in hourly.itertuples(index=False)
    ]
    assert rows[0] == (dt.date(2024, 1, 1), 5, "ok", 2, 2.5, 2.0)
    assert rows[1] == (dt.date(2024, 1, 1), 7, "ok", 1, 1.0, 1.0)
    day, hour, status, n, mean, low = rows[2]
    assert (day, hour, status, n) == (dt.date(2024, 1, 2), 23, "failed", 0)
    assert pd.isna(mean) and pd.isna(low)


def test_latest_takes_the_greatest_ts_then_the_greatest_value():
    latest = get_workload("etl_e3").reference(EVENTS).sort_values("event_id")
    assert list(latest["event_id"]) == [1, 2, 3]
    assert list(latest["value"].astype("float64").fillna(-1)) == [1.0, 3.0, -1]


# -- the asv suite ----------------------------------------------------------------------------
def test_the_suite_times_each_write_into_a_fresh_output(data_dir, tmp_path, monkeypatch):
    """Under asv, every sample writes into a fresh directory (for e4: the earlier partitions
    placed again), made before the timing and removed after it."""
    from bakeoff.suite import PreparedWorkload

    monkeypatch.setenv("BAKEOFF_ENGINE", "duckdb")
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path))
    prepared = PreparedWorkload("etl_e4", 10_000)
    try:
        assert prepared.record.status == "ok" and prepared.record.output["prior_files"] == 29
        outputs = []
        for _ in range(2):
            prepared.before_sample()
            output = prepared._output
            assert len(list(output.path.rglob("*.parquet"))) == 29  # only the earlier days
            prepared.run_once()
            assert len(list(output.path.glob("date=2024-01-30/*.parquet"))) >= 1
            prepared.after_sample()
            assert not output.path.exists()
            outputs.append(output.path)
        assert outputs[0] != outputs[1]
    finally:
        prepared.close()
