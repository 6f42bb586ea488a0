"""Dask writes with ``DataFrame.to_parquet``: each partition's rows written by its worker,
hive-partitioned with ``partition_on=["date"]`` (directories ``date=2024-01-01/``), snappy.

The day is written as its ISO text (``ts.dt.strftime``), so the directory names it as a date;
the hour and count are cast to int64, the types of the table e4 appends to. e3 is Dask's
pattern for per-key work that is not a reduction (as the window questions): ``shuffle`` by
``event_id`` puts each event's rows in one partition, where pandas keeps the newest. e5 reads
the CSV files with ``read_csv`` and the declared ``dtype``/``parse_dates``. e4 is unsupported:
``to_parquet(append=True)`` refuses the existing partitions (see ``UNSUPPORTED``).
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.etl import EVENTS_SCHEMA, PARTITION_COLUMN

dd = lazy_import("dask.dataframe")


def _write(frame: Any, output: str, *, partitioned: bool) -> None:
    frame.to_parquet(
        output,
        partition_on=[PARTITION_COLUMN] if partitioned else None,
        compression="snappy",
        write_index=False,
    )


def _with_day(frame: Any) -> Any:
    return frame.assign(
        date=frame["ts"].dt.strftime("%Y-%m-%d"), hour=frame["ts"].dt.hour.astype("int64")
    )


def _hourly(frame: Any) -> Any:
    grouped = _with_day(frame).groupby(["date", "hour", "status"], observed=True)
    result = grouped.agg(
        n=("value", "count"),
        mean_value=("value", "mean"),
        min_value=("value", "min"),
        max_value=("value", "max"),
    ).reset_index()
    return result.astype({"n": "int64"})


def _newest(part: Any) -> Any:
    """Per event, the row with the greatest ts, then value (NULL last), in one partition."""
    ordered = part.sort_values(
        ["event_id", "ts", "value"], ascending=[True, False, False], na_position="last"
    )
    return ordered.drop_duplicates("event_id", keep="first")


def clean(engine: Any, dataset: Any, output: str) -> None:
    frame = engine.scan(dataset)
    _write(_with_day(frame[frame["value"].notnull()]), output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _write(_hourly(engine.scan(dataset)), output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    frame = engine.scan(dataset).shuffle("event_id").map_partitions(_newest)
    _write(frame, output, partitioned=False)


CSV_TYPES = {"int64": "int64", "string": "string", "float64": "float64"}


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    dtype = {name: CSV_TYPES[kind] for name, kind in EVENTS_SCHEMA.items() if kind in CSV_TYPES}
    timestamps = [name for name, kind in EVENTS_SCHEMA.items() if kind not in CSV_TYPES]
    frame = dd.read_csv(
        dataset.table_glob(), dtype=dtype, parse_dates=timestamps, date_format="ISO8601"
    )
    _write(frame, output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e5": csv_ingest,
}
UNSUPPORTED = {
    "etl_e4": "Dask's to_parquet(append=True) cannot append to a Parquet dataset it did not "
    "write itself: it compares the new frame's dtypes, as text, with those it derives from the "
    "existing files' schema, and pyarrow-backed strings ('string') never equal the existing "
    "string column's ('object'), so it raises 'Appended dtypes differ' (dask/dask#11381)",
}
