"""DataFusion writes with ``DataFrame.write_parquet(dir, compression="snappy")``, its own
parallel Parquet writer, hive-partitioned with ``DataFrameWriteOptions(partition_by=["date"])``
(``date=2024-01-01/``, files named at random, the partition column kept out of the files). An
unpartitioned output is a directory of files, one per output partition of the plan. The call
returns once every file is closed.

The questions are the shared statements, as written (the hour is the standard
``extract(hour FROM ts)``: DataFusion has no ``hour()``). Every write is an
``InsertOp.APPEND`` (the writer's default, named): new files with new names, nothing already
there touched. So e4, the last day's files read alone, adds its partition
beside the earlier ones; its input is a union of one scan per file, as DataFusion's Python
``read_parquet`` takes one path (apache/datafusion-python#535). e5 reads the CSV files with the
declared schema (``read_csv(schema=…)``: nothing inferred).

The files' embedded Arrow schema names the strings ``Utf8View``, the type DataFusion reads
Parquet strings as (``schema_force_view_types``); the Parquet column is a plain string.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import pyarrow as pa

from shared.lazy import lazy_import
from workloads.etl import (
    CLEAN_SQL,
    EVENTS_SCHEMA,
    HOURLY_SQL,
    LATEST_SQL,
    PARTITION_COLUMN,
    last_day_locations,
)
from workloads.spec import TABLE_ALIAS

datafusion = lazy_import("datafusion")


def _write(frame: Any, output: str, *, partitioned: bool) -> None:
    """``frame`` appended as snappy Parquet files under the directory ``output``,
    hive-partitioned by date where the question says so."""
    options = datafusion.DataFrameWriteOptions(
        insert_operation=datafusion.InsertOp.APPEND,
        partition_by=[PARTITION_COLUMN] if partitioned else None,
    )
    frame.write_parquet(output, compression="snappy", write_options=options)


def _run(engine: Any, dataset: Any, statement: str, output: str, *, partitioned: bool) -> None:
    """A shared statement over the dataset's table (``x``), written to ``output``."""
    frame = engine.sql(dataset, statement)
    _write(frame, output, partitioned=partitioned)


def clean(engine: Any, dataset: Any, output: str) -> None:
    _run(engine, dataset, CLEAN_SQL, output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _run(engine, dataset, HOURLY_SQL, output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    _run(engine, dataset, LATEST_SQL, output, partitioned=False)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    context = engine.context
    scans = [context.read_parquet(location) for location in last_day_locations(dataset)]
    context.deregister_table(TABLE_ALIAS)
    context.register_view(TABLE_ALIAS, reduce(lambda left, right: left.union(right), scans))
    _write(context.sql(HOURLY_SQL), output, partitioned=True)


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in EVENTS_SCHEMA.items()])
    frame = engine.context.read_csv(dataset.table_glob(), schema=schema, has_header=True)
    _write(frame, output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
