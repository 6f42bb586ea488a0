"""chDB: ClickHouse in-process, one ``chdb.session.Session`` on a temporary path, in SQL.

Settings follow ClickHouse's documentation for one machine: ``max_threads`` = cores (its
``auto`` resolves to the same, stated so it is recorded), ``max_memory_usage`` at 90 % of
memory, ClickHouse's own share for a whole server (``max_server_memory_usage_to_ram_ratio``;
the server-wide ``max_server_memory_usage`` is set to the same bytes, so that under a memory
cap both are sized as on a machine of that size), and ``max_bytes_before_external_group_by`` /
``max_bytes_before_external_sort`` at half of that limit, as the GROUP BY and ORDER BY in
external memory guides advise, spilling to ``tmp_path`` = our spill directory. Every setting
is read back from ``system.settings`` and ``system.server_settings`` once the session has
started, and recorded as applied.

The tables are read with the ``file('<glob>', Parquet)`` table function (``s3(…)`` for object
storage), as views named as the canonical SQL names them; a hive-partitioned dataset's key
comes from its directory names (``use_hive_partitioning``, on by default).
``join_use_nulls = 1`` gives SQL's LEFT JOIN (NULLs, not the column type's default, for
unmatched rows).

Caches that would let a later sample skip work are off: the query (result) cache
(``use_query_cache = 0``, ClickHouse's default, pinned), the schema inference cache of files
and S3 objects (``schema_inference_use_cache_for_file`` / ``_for_s3``, on by default), the
query condition cache (``use_query_condition_cache``, which serves MergeTree tables only,
pinned so that it cannot start serving files unnoticed) and the Parquet metadata cache. That
one is on by default, and with ClickHouse 26.9's Parquet reader ``use_parquet_metadata_cache
= 0`` did not stop a second query from hitting it (``ParquetMetadataCacheHits`` in
``system.events``), so the server's ``parquet_metadata_cache_size`` is 0 as well: nothing
is kept (tests/test_engine_chdb.py counts the hits).

A result is computed into ClickHouse's ``Null`` output format: every row and column is produced
and nothing is kept, the sink ClickBench's chDB-on-Parquet entry times
(``conn.query(query, "Null")``). Validation runs the same statement a second time, untimed, as
an ``ArrowTable``; nothing is left to release.

Object storage is read natively with ClickHouse's ``s3`` table function, path-style under
``AWS_ENDPOINT_URL`` when it is set; the credentials are the standard AWS environment variables,
which ClickHouse reads itself, so they never appear in a statement.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from bakeoff.engines.base import Engine, memory_limit, sql_tables
from datagen.dataset import Dataset
from shared.lazy import lazy_import

chdb = lazy_import("chdb")

# ClickHouse's default max_server_memory_usage_to_ram_ratio: a server's share of the machine.
MEMORY_SHARE = 0.9
SPILL_SHARE = 0.5  # of the memory limit, before GROUP BY and ORDER BY spill to disk
# Caches pinned off (values ClickHouse reads as false), and SQL's semantics for LEFT JOIN.
PINNED: dict[str, int] = {
    "use_query_cache": 0,
    "use_parquet_metadata_cache": 0,
    "schema_inference_use_cache_for_file": 0,
    "schema_inference_use_cache_for_s3": 0,
    "use_query_condition_cache": 0,
    "join_use_nulls": 1,
}
# ClickHouse's own choices that decide plans, recorded as applied and never set.
RECORDED_DEFAULTS = (
    "join_algorithm",
    "max_block_size",
    "max_bytes_ratio_before_external_group_by",
    "max_bytes_ratio_before_external_sort",
    "input_format_parquet_filter_push_down",
)


def as_dict(rows: pa.Table) -> dict[str, Any]:
    """A result of two columns, names and values, as a dict."""
    return dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True))


@dataclass(frozen=True)
class Statement:
    """A query of this session, run only when a sink asks for it."""

    engine: ChdbEngine
    sql: str

    def arrow(self) -> pa.Table:
        """The result as Arrow (the ``ArrowTable`` format): a complete execution."""
        return self.engine.session.query(self.sql, "ArrowTable")


class ChdbEngine(Engine):
    name = "chdb"
    reads_back_by_running_again = True  # to_arrow executes the plan again
    distribution = "chdb"
    import_name = "chdb"
    out_of_memory_markers: ClassVar[tuple[str, ...]] = (
        *Engine.out_of_memory_markers,
        "memory_limit_exceeded",
        "memory limit (",
    )

    def _start(self) -> None:
        limit = memory_limit(self.resources, MEMORY_SHARE)
        spill = self.resources.spill_dir("chdb")
        # The session's own data (views only) beside its spill files, in the scratch
        # directory: a worker ended by its watchdog leaves nothing elsewhere.
        self._path = tempfile.mkdtemp(prefix="session-", dir=spill)
        # Server settings are startup arguments in the connection string; tmp_path is a
        # directory, which ClickHouse wants with its trailing slash.
        server = {
            "tmp_path": f"{spill}/",
            "max_server_memory_usage": limit,
            "parquet_metadata_cache_size": 0,
        }
        self.session = chdb.session.Session(
            f"{self._path}?" + "&".join(f"{name}={value}" for name, value in server.items())
        )
        self._config: dict[str, Any] = {
            "max_threads": self.resources.cores,
            "max_memory_usage": limit,
            "max_bytes_before_external_group_by": int(limit * SPILL_SHARE),
            "max_bytes_before_external_sort": int(limit * SPILL_SHARE),
            **PINNED,
        }
        for name, value in self._config.items():
            self.session.query(f"SET {name} = {value}")
        # Read back once, here: a watchdog thread asks for the settings while a query runs.
        self._applied = {
            **self._read_back("system.settings", [*self._config, *RECORDED_DEFAULTS]),
            **self._read_back("system.server_settings", list(server)),
        }
        self._config |= server
        self._applied["clickhouse_version"] = chdb.engine_version  # the embedded ClickHouse
        self._object_store: str | bool = False

    def _read_back(self, table: str, names: list[str] | tuple[str, ...]) -> dict[str, str]:
        quoted = ", ".join(f"'{name}'" for name in names)
        rows = self.session.query(
            f"SELECT name, value FROM {table} WHERE name IN ({quoted})", "ArrowTable"
        )
        return as_dict(rows)

    def stop(self) -> None:
        self.session.close()
        shutil.rmtree(self._path, ignore_errors=True)

    def settings(self) -> dict[str, Any]:
        return {**self._config, "object_store": self._object_store, "applied": self._applied}

    def source(self, location: str, *arguments: str) -> str:
        """The table function that reads the files at ``location`` (a path or an ``s3://``
        address, with ClickHouse's globs) where they are: ``file`` or ``s3``, with
        ``arguments`` (format, structure) quoted as strings."""
        function = "file"
        if "://" in location:
            function = self._object_store = "s3"
            endpoint = os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:  # path-style under the endpoint: http://host:port/bucket/key
                location = f"{endpoint.rstrip('/')}/{location.partition('://')[2]}"
        quoted = ", ".join(f"'{argument}'" for argument in (location, *arguments))
        return f"{function}({quoted})"

    def scan(self, dataset: Dataset, table: str | None = None) -> Statement:
        return Statement(self, f"SELECT * FROM {self.source(dataset.table_glob(table), 'Parquet')}")

    def statement(self, sql: str) -> Statement:
        """``sql`` over what this session already names (its views and tables), run only
        when a sink asks for it."""
        return Statement(self, sql)

    def sql(self, dataset: Dataset, statement: str) -> Statement:
        """A workload statement over the dataset's tables, each a view named as the SQL names
        it (see sql_tables); a view is a name for its query, it keeps nothing."""
        for name, table in sql_tables(dataset).items():
            self.session.query(f"CREATE OR REPLACE VIEW {name} AS {self.scan(dataset, table).sql}")
        return Statement(self, statement)

    def materialize(self, result: Statement) -> Statement:
        self.session.query(result.sql, "Null")
        return result

    def to_arrow(self, materialized: Statement) -> pa.Table:
        return materialized.arrow()

    def result_rows(self, materialized: Statement) -> int:
        counted = self.session.query(f"SELECT count() FROM ({materialized.sql})", "ArrowTable")
        return int(counted.column(0)[0].as_py())


ENGINE = ChdbEngine
