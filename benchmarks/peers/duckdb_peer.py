"""DuckDB as its users would time the questions: one connection with every core, 80 % of
memory and a spill directory; SQL over ``read_parquet``; each answer kept with ``CREATE TABLE
AS`` (the ml answers: the aggregates fetched, finished in numpy). k-means loads the points into
a table once, then runs its ten iterations on it.

    python benchmarks/peers/duckdb_peer.py DATA --workload join_q1 --repeat 3
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import questions as q
from timing import Question, files, main


def start() -> duckdb.DuckDBPyConnection:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return duckdb.connect(
        config={
            "threads": len(os.sched_getaffinity(0)),
            "memory_limit": f"{int(memory * 0.8) // 2**20}MiB",
            "temp_directory": tempfile.mkdtemp(prefix="duckdb-peer-"),
        }
    )


def table(con: duckdb.DuckDBPyConnection, sql: str, data: Path, *tables: str) -> str:
    """``CREATE TABLE answer AS`` the statement, its tables as views over their files."""
    for name in tables or ("x",):
        source = files(data, name if tables else None)
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{source}')")
    con.execute(f"CREATE TABLE answer AS {sql}")
    return "answer"


def join(name: str) -> Question:
    right = q.JOINS[name][0]
    return lambda con, data: table(con, q.join_sql(name), data, "x", right)


def window(name: str) -> Question:
    return lambda con, data: table(con, q.WINDOW_SQL[name], data)


def aggregate(con: duckdb.DuckDBPyConnection, sql: str, data: Path) -> list:
    source = f" FROM read_parquet('{files(data)}')"
    return con.execute(sql.replace(" FROM x", source)).fetchone()


def kmeans(con: duckdb.DuckDBPyConnection, data: Path) -> np.ndarray:
    columns = ", ".join(q.FEATURES)
    con.execute(f"CREATE TEMP TABLE points AS SELECT {columns} FROM read_parquet('{files(data)}')")
    centres = q.initial_centres(data)
    for _ in range(q.ITERATIONS):
        centres, _counts = q.next_centres(
            centres, con.sql(q.lloyd_sql(centres, "points")).fetchall()
        )
    con.execute("DROP TABLE points")
    return centres


QUESTIONS: dict[str, Any] = {
    **{name: join(name) for name in q.JOINS},
    **{name: window(name) for name in q.WINDOW_SQL},
    "ml_m1": lambda con, data: q.pca(q.symmetric(aggregate(con, q.COVARIANCE_SQL, data))),
    "ml_m2": lambda con, data: q.ols(aggregate(con, q.MOMENTS_SQL, data)),
    "ml_m3": kmeans,
    "ml_m4": lambda con, data: table(con, q.REGRESSION_SQL, data),
}


def rows(con: duckdb.DuckDBPyConnection, result: Any) -> int:
    if isinstance(result, str):
        return con.execute(f"SELECT count(*) FROM {result}").fetchone()[0]
    return len(result)


def drop(con: duckdb.DuckDBPyConnection, result: Any) -> None:
    if isinstance(result, str):
        con.execute(f"DROP TABLE {result}")


if __name__ == "__main__":
    main(start, QUESTIONS, rows, drop, lambda con: con.close())
