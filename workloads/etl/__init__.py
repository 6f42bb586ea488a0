"""ETL pipelines over the ``events`` table: read raw files, clean, derive, aggregate, and write
Parquet, partitioned by day where the question says so, with the engine's own writer.

Each question is a *write*: its function takes the started engine, the dataset and the output
directory (a fresh one on the scratch disk, which the function's writer creates), and returns
once the engine's Parquet writer has closed every file. The harness reads the directory back
with pyarrow, its hive partitions parsed (``date=2024-01-01/``), and compares it value by value
with the pandas reference (:mod:`bakeoff.output`).

- e1 drops rows whose ``value`` is NULL, derives ``date`` (the day of ``ts``) and ``hour``,
  and writes every column plus ``hour``, partitioned by ``date``.
- e2 aggregates per ``date``, ``hour`` and ``status``: ``count(value)``, ``avg``, ``min`` and
  ``max`` of ``value`` (NULLs skipped; a group of only NULL values counts 0, the rest NULL),
  partitioned by ``date``.
- e3 keeps, for each ``event_id``, the row with the greatest ``ts`` (ties: greatest ``value``;
  only exact duplicates tie, so any of them is the answer), unpartitioned.
- e4 is e2 appended: e2's partitions of every day but the last are in place (written by the
  harness, untimed); the run reads only the last day's files and adds its partition without
  touching the others. The directory must then equal e2 over every day.
- e5 reads the CSV files with the declared schema (no inference) and writes typed Parquet.

The contract of an engine module ``workloads/etl/<engine>.py``: ``QUERIES`` maps each of
``etl_e1`` … ``etl_e5`` to ``f(engine, dataset, output: str) -> None`` that writes with the
engine's own Parquet writer (snappy, ``PARTITION_COLUMN`` as hive directories ``date=ISO``
where the workload has ``partition_by``); ``UNSUPPORTED`` names the reason for the others.
Helpers here: :func:`last_day_locations` (e4's input), :data:`EVENTS_SCHEMA` (e5's types).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.lazy import lazy_import
from workloads.spec import Workload

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
pd = lazy_import("pandas")
pa = lazy_import("pyarrow")

PARTITION_COLUMN = "date"
CODEC = "snappy"
# The events table's declared schema (e5 reads the CSV with it): column -> Arrow type name.
EVENTS_SCHEMA: dict[str, str] = {
    "event_id": "int64",
    "user_id": "int64",
    "ts": "timestamp[us]",
    "status": "string",
    "category": "string",
    "value": "float64",
}
EVENT_COLUMNS = tuple(EVENTS_SCHEMA)
AGGREGATES = ("n", "mean_value", "min_value", "max_value")

# The output columns' types, declared as an existing table's would be: every engine casts its
# hour and count to int64, and e4's earlier partitions are written in them (bakeoff.output).
CLEAN_SQL = (
    "SELECT *, CAST(ts AS DATE) AS date, CAST(extract(hour FROM ts) AS BIGINT) AS hour FROM x "
    "WHERE value IS NOT NULL"
)
HOURLY_SQL = (
    "SELECT CAST(ts AS DATE) AS date, CAST(extract(hour FROM ts) AS BIGINT) AS hour, status, "
    "CAST(count(value) AS BIGINT) AS n, avg(value) AS mean_value, min(value) AS min_value, "
    "max(value) AS max_value FROM x GROUP BY 1, 2, 3"
)
LATEST_SQL = (
    f"SELECT {', '.join(EVENT_COLUMNS)} FROM (SELECT *, row_number() OVER (PARTITION BY "
    "event_id ORDER BY ts DESC, value DESC NULLS LAST) AS rn FROM x) AS ranked WHERE rn = 1"
)


def last_day_locations(dataset: Any) -> list[str]:
    """e4's input: the files of the dataset's last day only."""
    return dataset.day_locations(dataset.days[-1])


def _with_day(frame: pd.DataFrame) -> pd.DataFrame:
    ts = frame["ts"].astype("datetime64[us]")
    day = ts.dt.normalize().astype("datetime64[s]").astype(pd.ArrowDtype(pa.date32()))
    return frame.assign(date=day, hour=ts.dt.hour.astype("int64"))


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    return _with_day(frame[frame["value"].notna()])


def _hourly(frame: pd.DataFrame) -> pd.DataFrame:
    value = frame["value"].astype("float64")  # NaN for NULL: pandas' aggregations skip it
    days = _with_day(frame[["ts", "status"]]).assign(value=value)
    grouped = days.groupby(["date", "hour", "status"], observed=True, sort=False)["value"]
    result = grouped.agg(["count", "mean", "min", "max"]).reset_index()
    return result.rename(
        columns={"count": "n", "mean": "mean_value", "min": "min_value", "max": "max_value"}
    ).astype({"n": "int64"})


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = frame.assign(_v=frame["value"].astype("float64")).sort_values(
        ["event_id", "ts", "_v"], ascending=[True, False, False], na_position="last"
    )
    return ordered.drop_duplicates("event_id", keep="first").drop(columns="_v")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as read with the declared schema (see bakeoff.reference.read_frame)."""
    return frame


def _workload(
    number: int,
    question: str,
    sql: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    reference: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    partitioned: bool = False,
    **extra: object,
) -> Workload:
    return Workload(
        name=f"etl_e{number}",
        family="etl",
        table="events",
        question=question,
        sql=sql,
        columns=columns,
        keys=keys,
        input_columns=(),
        reference=reference,
        writes=True,
        partition_by=(PARTITION_COLUMN,) if partitioned else (),
        **extra,
    )


HOURLY_COLUMNS = ("date", "hour", "status", *AGGREGATES)
WORKLOADS: tuple[Workload, ...] = (
    _workload(
        1,
        "drop rows with a NULL value, derive date and hour, write Parquet partitioned by date",
        CLEAN_SQL,
        columns=(*EVENT_COLUMNS, "date", "hour"),
        keys=("event_id", "ts"),  # exact duplicates stay: ties sort by every column
        reference=_clean,
        partitioned=True,
    ),
    _workload(
        2,
        "count, mean, min and max of value per date, hour and status, partitioned by date",
        HOURLY_SQL,
        columns=HOURLY_COLUMNS,
        keys=("date", "hour", "status"),
        reference=_hourly,
        partitioned=True,
    ),
    _workload(
        3,
        "the latest row of each event_id (greatest ts, then greatest value), as Parquet",
        LATEST_SQL,
        columns=EVENT_COLUMNS,
        keys=("event_id",),
        reference=_latest,
    ),
    _workload(
        4,
        "append the last day's hourly aggregates (e2) beside the earlier days' partitions",
        HOURLY_SQL + " -- over the last day's files, appended",
        columns=HOURLY_COLUMNS,
        keys=("date", "hour", "status"),
        reference=_hourly,
        partitioned=True,
        appends=True,
    ),
    _workload(
        5,
        "read the CSV files with the declared schema and write them as typed Parquet",
        "SELECT * FROM x -- read from CSV with the declared types",
        columns=EVENT_COLUMNS,
        keys=("event_id", "ts"),
        reference=_typed,
        file_format="csv",
    ),
)
