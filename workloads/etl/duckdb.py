"""DuckDB writes with ``COPY (query) TO dir (FORMAT parquet, PARTITION_BY (date))``, its
documented partitioned writer (hive directories ``date=2024-01-01/``), snappy as the codec.

e4 appends with ``COPY … (APPEND)``: new files with unique names in the existing directory,
none of the partitions already there rewritten. e5 reads the CSV files with ``read_csv`` and
the declared ``columns`` (auto-detection off). An unpartitioned output is a directory of
one file per thread (``PER_THREAD_OUTPUT``), DuckDB's parallel writer.
"""

from __future__ import annotations

from typing import Any

from workloads.etl import (
    CLEAN_SQL,
    EVENT_COLUMNS,
    EVENTS_SCHEMA,
    HOURLY_SQL,
    LATEST_SQL,
    PARTITION_COLUMN,
    last_day_locations,
)

CSV_TYPES = {
    "int64": "BIGINT",
    "timestamp[us]": "TIMESTAMP",
    "string": "VARCHAR",
    "float64": "DOUBLE",
}


def _copy(engine: Any, source: Any, statement: str, output: str, *options: str) -> None:
    """``statement`` over ``source`` (as ``x``), copied to Parquet at ``output``."""
    engine.connection.register("x", source)
    settings = ", ".join(("FORMAT parquet", "COMPRESSION snappy", *options))
    engine.connection.execute(f"COPY ({statement}) TO '{output}' ({settings})")


PARTITIONED = f"PARTITION_BY ({PARTITION_COLUMN})"
PER_THREAD = "PER_THREAD_OUTPUT true"  # an unpartitioned directory, one file per thread


def clean(engine: Any, dataset: Any, output: str) -> None:
    _copy(engine, engine.scan(dataset), CLEAN_SQL, output, PARTITIONED)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _copy(engine, engine.scan(dataset), HOURLY_SQL, output, PARTITIONED)


def latest(engine: Any, dataset: Any, output: str) -> None:
    _copy(engine, engine.scan(dataset), LATEST_SQL, output, PER_THREAD)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    source = engine.connection.read_parquet(last_day_locations(dataset))
    _copy(engine, source, HOURLY_SQL, output, PARTITIONED, "APPEND")


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    columns = {name: CSV_TYPES[EVENTS_SCHEMA[name]] for name in EVENT_COLUMNS}
    source = engine.connection.read_csv(
        dataset.table_glob(), header=True, columns=columns, auto_detect=False
    )
    _copy(engine, source, "SELECT * FROM x", output, PER_THREAD)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
