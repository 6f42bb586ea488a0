"""chDB writes with ``INSERT INTO FUNCTION file(…, Parquet)``, ClickHouse's own Parquet writer,
snappy as the codec (``output_format_parquet_compression_method``; ClickHouse's default is
zstd). The questions are the canonical statements, run as they are.

A partitioned output is written with ``PARTITION BY date`` and the ``{_partition_id}``
wildcard in the path, ``date={_partition_id}/part-0.parquet``: one file per day in a hive
directory (the ``file`` table function does not take ClickHouse's ``hive`` partition
strategy, so the directory is named in the path; the files keep the ``date`` column too).
e4 appends the same way: the run writes only the last day's partition, a new file in a new
directory.

e1, e3 and e5 write the events' ``ts``, a timestamp without time zone (Parquet
``isAdjustedToUTC=false``). ClickHouse's Parquet writer marks every ``DateTime64`` as adjusted
to UTC, with no setting to write it otherwise, so the files hold ``timestamp[us, tz=UTC]``, a
different type from the question's; those cells are ``UNSUPPORTED``.
"""

from __future__ import annotations

from typing import Any

from workloads.etl import HOURLY_SQL, PARTITION_COLUMN, last_day_locations

CODEC = "snappy"
PARTITIONED = f"{PARTITION_COLUMN}={{_partition_id}}/part-0.parquet"


def _insert(engine: Any, statement: Any, output: str) -> None:
    """``statement`` written as Parquet under ``output``, one hive partition per day."""
    engine.session.query(
        f"INSERT INTO FUNCTION file('{output}/{PARTITIONED}', Parquet) "
        f"PARTITION BY {PARTITION_COLUMN} SELECT * FROM ({statement.sql}) "
        f"SETTINGS output_format_parquet_compression_method = '{CODEC}'"
    )


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _insert(engine, engine.sql(dataset, HOURLY_SQL), output)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    """HOURLY_SQL over the last day's files only: one glob of their names, ``dir/{a,b}``."""
    locations = last_day_locations(dataset)
    (directory,) = {location.rpartition("/")[0] for location in locations}
    names = ",".join(location.rpartition("/")[2] for location in locations)
    source = engine.source(f"{directory}/{{{names}}}", "Parquet")
    engine.session.query(f"CREATE OR REPLACE VIEW x AS SELECT * FROM {source}")
    _insert(engine, engine.statement(HOURLY_SQL), output)


QUERIES = {"etl_e2": hourly, "etl_e4": append_day}

NAIVE_TIMESTAMPS = (
    "ClickHouse's Parquet writer marks every DateTime64 as adjusted to UTC "
    "(isAdjustedToUTC=true, read as timestamp[us, tz=UTC]) and has no setting to write the "
    "events' ts as the timestamp without time zone the question has (ClickHouse/ClickHouse"
    "#114854 reports the same of its Iceberg writer)"
)
UNSUPPORTED = dict.fromkeys(("etl_e1", "etl_e3", "etl_e5"), NAIVE_TIMESTAMPS)
