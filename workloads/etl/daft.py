"""Daft writes with ``DataFrame.write_parquet(dir, partition_cols=["date"])``, its hive-style
partitioned writer (``date=2024-01-01/``, files named by UUID, the partition column kept out of
the files), snappy named. The call blocks until every file is closed.

Every write uses ``write_mode="append"``, Daft's default: it creates the fresh output directory
and adds files with new names, deleting nothing (``overwrite`` would list the directory
afterwards to delete what it did not write: work for nothing in a fresh directory). So e4, the
last day's files read alone, adds its partition beside the earlier ones and touches none of them.

The day is ``date(ts)`` and the hour ``hour(ts)`` (``daft.functions``), the hour and the count
cast to int64 (Daft's are unsigned). e3 has no first-by-order aggregate in Daft: each event's
rows are numbered with ``row_number()`` over a window ordered by ts then value descending (NULL
last) and the first kept. e5 reads the CSV files with the declared ``schema`` and
``infer_schema=False``.
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.etl import EVENT_COLUMNS, EVENTS_SCHEMA, PARTITION_COLUMN, last_day_locations

daft = lazy_import("daft")
functions = lazy_import("daft.functions")


def _write(engine: Any, frame: Any, output: str, *, partitioned: bool) -> None:
    """``frame`` written as snappy Parquet under ``output``, hive-partitioned by date."""
    frame.write_parquet(
        output,
        compression="snappy",
        write_mode="append",
        partition_cols=[PARTITION_COLUMN] if partitioned else None,
        io_config=engine.io_config,
    )


def _int64(expression: Any) -> Any:
    return expression.cast(daft.DataType.int64())


def _day_and_hour() -> dict[str, Any]:
    ts = daft.col("ts")
    return {PARTITION_COLUMN: functions.date(ts), "hour": _int64(functions.hour(ts))}


def _hourly(frame: Any) -> Any:
    value = daft.col("value")
    return (
        frame.with_columns(_day_and_hour())
        .groupby(PARTITION_COLUMN, "hour", "status")
        .agg(
            _int64(value.count()).alias("n"),
            value.mean().alias("mean_value"),
            value.min().alias("min_value"),
            value.max().alias("max_value"),
        )
    )


def clean(engine: Any, dataset: Any, output: str) -> None:
    frame = engine.scan(dataset).where(daft.col("value").not_null())
    _write(engine, frame.with_columns(_day_and_hour()), output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _write(engine, _hourly(engine.scan(dataset)), output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    newest_first = (
        daft.Window()
        .partition_by("event_id")
        .order_by("ts", "value", desc=[True, True], nulls_first=[False, False])
    )
    ranked = engine.scan(dataset).with_column("rn", functions.row_number().over(newest_first))
    frame = ranked.where(daft.col("rn") == 1).select(*EVENT_COLUMNS)
    _write(engine, frame, output, partitioned=False)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    frame = daft.read_parquet(last_day_locations(dataset), io_config=engine.io_config)
    _write(engine, _hourly(frame), output, partitioned=True)


def _csv_schema() -> dict[str, Any]:
    """The declared schema (EVENTS_SCHEMA) as Daft's types."""
    types = {
        "int64": daft.DataType.int64(),
        "timestamp[us]": daft.DataType.timestamp("us"),
        "string": daft.DataType.string(),
        "float64": daft.DataType.float64(),
    }
    return {name: types[kind] for name, kind in EVENTS_SCHEMA.items()}


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    frame = daft.read_csv(
        dataset.table_glob(),
        schema=_csv_schema(),
        infer_schema=False,
        has_headers=True,
        io_config=engine.io_config,
    )
    _write(engine, frame, output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
