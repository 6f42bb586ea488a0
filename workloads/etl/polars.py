"""Polars writes with ``sink_parquet``: the streaming (or named) engine runs the query into
the Parquet writer, partitioned with ``pl.PartitionBy(dir, key="date")``, Polars' hive-style
partitioned sink (``date=2024-01-01/``), snappy instead of Polars' default zstd.

e3 keeps each event's latest row with a ``group_by`` whose aggregation takes every column
sorted by ``ts`` then ``value`` descending (NULL last) and keeps the first. e4 sinks the last
day's files into the existing directory: a partitioned sink adds its partition's files and
leaves the others alone. e5 scans the CSV files with the declared ``schema`` (no inference).
"""

from __future__ import annotations

from typing import Any

from shared.lazy import lazy_import
from workloads.etl import EVENTS_SCHEMA, PARTITION_COLUMN, last_day_locations

pl = lazy_import("polars")

SINGLE_FILE = "data.parquet"  # an unpartitioned output: one file in the output directory


def _sink(engine: Any, frame: Any, output: str, *, partitioned: bool) -> None:
    target = (
        pl.PartitionBy(output, key=PARTITION_COLUMN) if partitioned else f"{output}/{SINGLE_FILE}"
    )
    frame.sink_parquet(
        target,
        compression="snappy",
        mkdir=True,
        engine=engine.collect_engine,
    )


def _day_and_hour() -> list[Any]:
    ts = pl.col("ts")
    return [ts.dt.date().alias("date"), ts.dt.hour().cast(pl.Int64).alias("hour")]


def _hourly(frame: Any) -> Any:
    value = pl.col("value")
    return (
        frame.with_columns(_day_and_hour())
        .group_by("date", "hour", "status")
        .agg(
            value.count().cast(pl.Int64).alias("n"),
            value.mean().alias("mean_value"),
            value.min().alias("min_value"),
            value.max().alias("max_value"),
        )
    )


def clean(engine: Any, dataset: Any, output: str) -> None:
    frame = engine.scan(dataset).filter(pl.col("value").is_not_null()).with_columns(_day_and_hour())
    _sink(engine, frame, output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    _sink(engine, _hourly(engine.scan(dataset)), output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    newest_first = pl.all().sort_by(["ts", "value"], descending=True, nulls_last=True).first()
    frame = engine.scan(dataset).group_by("event_id").agg(newest_first)
    _sink(engine, frame, output, partitioned=False)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    frame = pl.scan_parquet(last_day_locations(dataset))
    _sink(engine, _hourly(frame), output, partitioned=True)


def _csv_types() -> dict[str, Any]:
    """Polars' type for each type name of ``EVENTS_SCHEMA`` (built on call: polars loads lazily,
    so that the harness can list and schedule workloads without it)."""
    return {
        "int64": pl.Int64,
        "timestamp[us]": pl.Datetime("us"),
        "string": pl.String,
        "float64": pl.Float64,
    }


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    types = _csv_types()
    schema = {name: types[kind] for name, kind in EVENTS_SCHEMA.items()}
    frame = pl.scan_csv(dataset.table_glob(), schema=schema, has_header=True)
    _sink(engine, frame, output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
