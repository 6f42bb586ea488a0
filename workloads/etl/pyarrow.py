"""pyarrow writes with ``pyarrow.dataset.write_dataset``: an Acero plan's batches, streamed from
``Declaration.to_reader()`` into Arrow's dataset writer, hive-partitioned by ``date``
(``date=2024-01-01/``), snappy.

The day is ``cast(ts, date32)`` and the hour ``hour(ts)`` as int64; e2 counts with
``hash_count`` (non-NULL values only, as ``count(value)``). e3 sorts the rows by event_id, ts
and value descending (NULL last) and keeps the first row of each event (Acero has no
first-by-order aggregate). e4 writes the last day's files into the existing directory, adding
its partition's files and leaving the other partitions alone
(``existing_data_behavior="overwrite_or_ignore"``); e5 reads the CSV files as a CSV dataset with
the declared column types (no inference).
"""

from __future__ import annotations

from typing import Any

from datagen import storage
from shared.lazy import lazy_import
from workloads.etl import EVENT_COLUMNS, EVENTS_SCHEMA, PARTITION_COLUMN, last_day_locations
from workloads.groupby.pyarrow import aggregate, chain, project, run_starts, sort_rows

pa = lazy_import("pyarrow")
pc = lazy_import("pyarrow.compute")
pcsv = lazy_import("pyarrow.csv")
pds = lazy_import("pyarrow.dataset")
acero = lazy_import("pyarrow.acero")


def _write(data: Any, output: str, *, partitioned: bool) -> None:
    """``data`` (a plan or a Table) written as snappy Parquet, hive-partitioned by date."""
    source = data.to_reader(use_threads=True) if isinstance(data, acero.Declaration) else data
    parquet = pds.ParquetFileFormat()
    pds.write_dataset(
        source,
        output,
        format=parquet,
        file_options=parquet.make_write_options(compression="snappy"),
        partitioning=[PARTITION_COLUMN] if partitioned else None,
        partitioning_flavor="hive" if partitioned else None,
        existing_data_behavior="overwrite_or_ignore",
        use_threads=True,
    )


def _day_and_hour() -> dict[str, Any]:
    ts = pc.field("ts")
    return {"date": ts.cast(pa.date32()), "hour": pc.hour(ts).cast(pa.int64())}


def _hourly(source: Any) -> Any:
    return chain(
        source,
        project(**_day_and_hour(), status=pc.field("status"), value=pc.field("value")),
        aggregate(
            ["date", "hour", "status"],
            ("value", "hash_count", None, "n"),
            ("value", "hash_mean", None, "mean_value"),
            ("value", "hash_min", None, "min_value"),
            ("value", "hash_max", None, "max_value"),
        ),
    )


def clean(engine: Any, dataset: Any, output: str) -> None:
    plan = chain(
        engine.read(dataset, list(EVENT_COLUMNS)),
        acero.Declaration("filter", acero.FilterNodeOptions(pc.is_valid(pc.field("value")))),
        project(**{column: pc.field(column) for column in EVENT_COLUMNS}, **_day_and_hour()),
    )
    _write(plan, output, partitioned=True)


def hourly(engine: Any, dataset: Any, output: str) -> None:
    source = engine.read(dataset, ["ts", "status", "value"])
    _write(_hourly(source), output, partitioned=True)


def latest(engine: Any, dataset: Any, output: str) -> None:
    table = engine.read(dataset, list(EVENT_COLUMNS)).to_table(use_threads=True)
    order = [
        ("event_id", "ascending", "at_end"),
        ("ts", "descending", "at_end"),
        ("value", "descending", "at_end"),
    ]
    ordered = sort_rows(table, order)
    _write(ordered.filter(run_starts([ordered["event_id"]])), output, partitioned=False)


def append_day(engine: Any, dataset: Any, output: str) -> None:
    locations = last_day_locations(dataset)
    files = [storage.bucket_path(path) for path in locations] if dataset.url else locations
    day = pds.dataset(files, filesystem=dataset.arrow_filesystem, format="parquet")
    columns = ["ts", "status", "value"]
    scan = acero.Declaration("scan", acero.ScanNodeOptions(day, columns=columns))
    source = chain(scan, project(**{column: pc.field(column) for column in columns}))
    _write(_hourly(source), output, partitioned=True)


def csv_ingest(engine: Any, dataset: Any, output: str) -> None:
    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in EVENTS_SCHEMA.items()])
    csv = pds.CsvFileFormat(convert_options=pcsv.ConvertOptions(column_types=schema))
    files = pds.dataset(
        dataset.arrow_path(), filesystem=dataset.arrow_filesystem, format=csv, schema=schema
    )
    _write(files.scanner(use_threads=True).to_reader(), output, partitioned=False)


QUERIES = {
    "etl_e1": clean,
    "etl_e2": hourly,
    "etl_e3": latest,
    "etl_e4": append_day,
    "etl_e5": csv_ingest,
}
