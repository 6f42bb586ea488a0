"""DuckDB: one in-process connection, all cores, 80 % of memory, spilling to scratch.

Settings follow DuckDB's performance guide: ``threads`` = cores, an explicit ``memory_limit``
(DuckDB's own default is 80 % of RAM, stated here so it is recorded), and a
``temp_directory`` for larger-than-memory operators. A result is materialized with
``CREATE TABLE … AS``, the sink db-benchmark's DuckDB scripts time; dropping it is untimed.

A workload statement is kept as text (:class:`Statement`) over temporary views of
``read_parquet``, and run once by its sink, as a DuckDB user runs SQL: a Python relation binds
its statement when it is built and again when it runs, and a registered ``read_parquet``
relation reads the Parquet footers when it is built. Together that was 24 ms of a 75 ms ml_m2
at 1e5 rows (ml answers are one-row aggregates of about 60 columns).

The caches that could let a later sample skip work a user's first query does (Parquet
metadata, the external file cache for local files) are pinned at today's defaults, off for
local files, so that a change of default in a later DuckDB cannot silently change what is
timed; only the settings the installed version knows are set, and all are recorded.

A dataset in object storage is read through s3fs, registered as an fsspec filesystem
(``DuckDBPyConnection.register_filesystem``): DuckDB's own ``httpfs`` extension is downloaded
from extensions.duckdb.org on first use, which a machine that reaches only package registries
cannot do (the ``duckdb-ext-httpfs`` wheel on PyPI is built for DuckDB 1.4 only). The external
file cache, which keeps remote files between queries, is turned off for such a dataset.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit, sql_tables
from datagen.dataset import Dataset
from shared.lazy import lazy_import

duckdb = lazy_import("duckdb")

MEMORY_SHARE = 0.8
# Cache settings pinned where the installed version has them: none may serve a later sample.
PINNED_CACHES: dict[str, bool] = {
    "parquet_metadata_cache": False,
    "enable_object_cache": False,  # the older name of the Parquet metadata cache
    "enable_external_file_cache": True,  # DuckDB's default; it caches remote files only ...
    "cache_local_files": False,  # ... unless this is on
}
# DuckDB's own join-planning settings, recorded as applied and never set: equality joins are
# hash joins unless range joins are preferred, the thresholds pick merge or nested-loop joins
# for the others, and a hash join pushes up to dynamic_or_filter_threshold key filters.
RECORDED_DEFAULTS = (
    "prefer_range_joins",
    "nested_loop_join_threshold",
    "merge_join_threshold",
    "dynamic_or_filter_threshold",
)


def sql_string(text: str) -> str:
    """A SQL string literal of ``text``."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Statement:
    """A statement on the connection, bound and run by its sink alone."""

    connection: Any
    text: str

    def create(self, table: str, temporary: bool = False) -> None:
        kind = "TEMP TABLE" if temporary else "TABLE"
        self.connection.execute(f"CREATE {kind} {table} AS {self.text}")

    def fetch(self) -> pa.Table:
        """A result of a few rows (an ml aggregate) fetched as DuckDB users fetch one, as
        Python values; Arrow export costs more than the values for a few wide rows."""
        cursor = self.connection.execute(self.text)
        names = [column[0] for column in cursor.description]
        columns = list(zip(*cursor.fetchall(), strict=True)) or [()] * len(names)
        return pa.table({name: list(values) for name, values in zip(names, columns, strict=True)})


class DuckDBEngine(Engine):
    name = "duckdb"
    distribution = "duckdb"
    import_name = "duckdb"

    _names = itertools.count()

    def _start(self) -> None:
        known = {name for (name,) in duckdb.sql("SELECT name FROM duckdb_settings()").fetchall()}
        self._config = {
            "threads": self.resources.cores,
            "memory_limit": f"{memory_limit(self.resources, MEMORY_SHARE) // 1024**2}MiB",
            "temp_directory": str(self.resources.spill_dir("duckdb")),
            # DuckDB's default; its out-of-memory guide turns it off under a memory cap,
            # where keeping the order of rows costs memory no question here needs.
            "preserve_insertion_order": not self.resources.capped,
        }
        self.connection = duckdb.connect(config=dict(self._config))
        self._object_store = False
        # Set once connected: the Parquet settings need the (built-in) extension loaded.
        for name, value in PINNED_CACHES.items():
            if name in known:
                self.connection.execute(f"SET {name} = {str(value).lower()}")
                self._config[name] = value
        # Read back once, here: the connection serves one call at a time, and a watchdog
        # thread asks for the settings while a query runs.
        self._applied = dict(
            self.connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE list_contains(?, name)",
                [[*self._config, *RECORDED_DEFAULTS]],
            ).fetchall()
        )

    def stop(self) -> None:
        self.connection.close()

    def settings(self) -> dict[str, Any]:
        return {**self._config, "applied": self._applied}

    def prepare(self, dataset: Dataset) -> None:
        if dataset.url is not None and not self._object_store:
            import s3fs  # takes AWS_ENDPOINT_URL and the credentials from the environment

            self.connection.register_filesystem(s3fs.S3FileSystem())
            self.connection.execute("SET enable_external_file_cache = false")
            self._object_store = True
            self._config["object_store"] = "s3fs (fsspec)"
            self._config["enable_external_file_cache"] = False

    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        return self.connection.read_parquet(
            dataset.table_glob(table), hive_partitioning=dataset.partition_by is not None
        )

    def sql(self, dataset: Dataset, statement: str) -> Statement:
        """A workload statement over the dataset's tables, each a temporary view named as the
        SQL names it (see sql_tables); a view is a name for its ``read_parquet``, it keeps
        nothing, and each statement reads the files' footers afresh."""
        hive = str(dataset.partition_by is not None).lower()
        for name, table in sql_tables(dataset).items():
            files = sql_string(dataset.table_glob(table))
            self.connection.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS "
                f"FROM read_parquet({files}, hive_partitioning = {hive})"
            )
        return self.statement(statement)

    def statement(self, text: str) -> Statement:
        return Statement(self.connection, text)

    def materialize(self, result: Statement) -> str:
        table = f"bakeoff_result_{next(self._names)}"
        result.create(table)
        return table

    def to_arrow(self, materialized: str) -> pa.Table:
        return self.connection.table(materialized).to_arrow_table()

    def result_rows(self, materialized: str) -> int:
        # fetchall: a result fetched only in part blocks the connection's next statement
        return self.connection.execute(f"SELECT count(*) FROM {materialized}").fetchall()[0][0]

    def release(self, materialized: str) -> None:
        self.connection.execute(f"DROP TABLE IF EXISTS {materialized}")


ENGINE = DuckDBEngine
