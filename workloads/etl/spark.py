"""Spark writes with ``DataFrameWriter``: ``write.partitionBy("date").parquet(dir)``, its
hive-style partitioned writer, snappy (Spark's default, named). The questions are the canonical
Spark SQL statements; e4 reads the last day's files and writes with ``mode("append")``, which
adds new files beside the existing ones. e5 reads the CSV files with the declared schema (DDL,
``TIMESTAMP_NTZ``: the timestamps are naive, as in the Parquet files) and no inference.
"""

from __future__ import annotations

from typing import Any

from workloads.etl import (
    CLEAN_SQL,
    HOURLY_SQL,
    LATEST_SQL,
    PARTITION_COLUMN,
    last_day_locations,
)

CSV_SCHEMA = (
    "event_id BIGINT, user_id BIGINT, ts TIMESTAMP_NTZ, status STRING, category STRING, "
    "value DOUBLE"
)


def _hadoop(engine: Any, dataset: Any, location: str) -> str:
    """An input location as Spark reads it (``s3a://`` in object storage, as ``scan`` does)."""
    if dataset.url is None:
        return location
    return engine.object_store_scheme + location.partition("://")[2]


def _write(frame: Any, output: str, *, partitioned: bool, mode: str = "error") -> None:
    # "error" is "errorifexists"; Spark Connect's client (Sail too) knows only this name
    writer = frame.write.mode(mode).option("compression", "snappy")
    if partitioned:
        writer = writer.partitionBy(PARTITION_COLUMN)
    writer.parquet(output)


def clean(engine: Any, dataset: Any, output: str) -> None:
    _write(engine.sql(dataset, CLEAN_SQL), output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _write(engine.sql(dataset, HOURLY_SQL), output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    _write(engine.sql(dataset, LATEST_SQL), output, partitioned=False)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    files = [_hadoop(engine, dataset, location) for location in last_day_locations(dataset)]
    engine.session.read.parquet(*files).createOrReplaceTempView("x")
    _write(engine.session.sql(HOURLY_SQL), output, partitioned=True, mode="append")


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    files = _hadoop(engine, dataset, dataset.table_glob())
    frame = engine.session.read.csv(files, schema=CSV_SCHEMA, header=True)
    _write(frame, output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
