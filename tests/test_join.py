"""db-benchmark's join questions (q1-q5) on every engine, and their pandas references.

Each engine answers q1-q5 at tiny scale through ``bakeoff run``: x has 16 row groups there, so
every engine reads it in pieces. Dask and DuckDB answer them once more with x and big split
over four files, where Dask's planner has several partitions a side and chooses between a
broadcast and a hash join itself. The references are checked on hand-made frames whose
answers are known.
"""

from __future__ import annotations

import pandas as pd
import pytest

from bakeoff.engines import ENGINE_NAMES
from datagen.dataset import Dataset, DatasetSpec
from tests.helpers import assert_answered, run_engine
from workloads import get_workload
from workloads.join import JOINS, WORKLOADS

NAMES = [workload.name for workload in WORKLOADS]
TINY = 10_000
ROWS_PER_FILE = 2_500  # x and big in four files each


def _run(engine: str, data_dir, results, *extra: str):
    return run_engine(engine, data_dir, results, "--table", "join", *extra, workload="join")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_answers_match_the_reference(engine, data_dir, tmp_path):
    assert_answered(engine, *_run(engine, data_dir, tmp_path), NAMES)


@pytest.mark.parametrize("engine", ["dask", "duckdb"])
def test_answers_over_several_files(engine, data_dir, tmp_path):
    records, done = _run(engine, data_dir, tmp_path, "--rows-per-file", str(ROWS_PER_FILE))
    spec = DatasetSpec(table="join", rows=TINY, rows_per_file=ROWS_PER_FILE)
    dataset = Dataset.load(data_dir / spec.name)
    assert len(dataset.table_files("x")) == len(dataset.table_files("big")) == 4
    assert_answered(engine, records, done, NAMES)
    if engine == "dask":  # one result partition per partition of x: no single-partition join
        assert all(record.settings["result_partitions"] == 4 for record in records)


def _frames() -> dict[str, pd.DataFrame]:
    """x of five rows: keys 1 and 2 match on every level, key 9 matches nothing."""
    ids = [1, 2, 2, 9, 1]
    x = pd.DataFrame(
        {
            "id1": ids,
            "id2": ids,
            "id3": [10, 20, 30, 40, 50],
            "id4": [f"id{key}" for key in ids],
            "id5": [f"id{key}" for key in ids],
            "id6": ["id10", "id20", "id30", "id40", "id50"],
            "v1": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    small = pd.DataFrame({"id1": [2, 1, 7], "id4": ["id2", "id1", "id7"], "v2": [0.2, 0.1, 0.7]})
    medium = pd.DataFrame(
        {
            "id1": [5, 6, 8],
            "id2": [1, 2, 3],
            "id4": ["id5", "id6", "id8"],
            "id5": ["id1", "id2", "id3"],
            "v2": [0.1, 0.2, 0.3],
        }
    )
    big = pd.DataFrame(
        {
            **{f"id{i}": [7, 8] for i in (1, 2)},
            "id3": [30, 10],
            **{f"id{i}": ["id7", "id8"] for i in (4, 5, 6)},
            "v2": [3.0, 1.0],
        }
    )
    frames = {"x": x, "small": small, "medium": medium, "big": big}
    return {name: frame.convert_dtypes(dtype_backend="pyarrow") for name, frame in frames.items()}


def _answer(name: str) -> pd.DataFrame:
    answer = get_workload(name).reference(_frames())
    assert answer["id3"].is_unique  # many-to-one: each row of x at most once
    assert tuple(answer.columns) == get_workload(name).columns
    return answer.sort_values("id3").reset_index(drop=True)


def test_inner_joins_keep_the_matching_rows_of_x_with_the_right_columns():
    q1 = _answer("join_q1")
    assert q1["id3"].tolist() == [10, 20, 30, 50]  # key 9 is not in small
    assert q1["small_id4"].tolist() == ["id1", "id2", "id2", "id1"]
    assert q1["v2"].tolist() == [0.1, 0.2, 0.2, 0.1]
    assert q1["v1"].tolist() == [1.0, 2.0, 3.0, 5.0]
    q5 = _answer("join_q5")
    assert q5["id3"].tolist() == [10, 30] and q5["v2"].tolist() == [1.0, 3.0]
    assert q5["big_id1"].tolist() == [8, 7] and q5["id1"].tolist() == [1, 2]


def test_left_join_keeps_unmatched_rows_with_nulls():
    q2, q3 = _answer("join_q2"), _answer("join_q3")
    assert q2["id3"].tolist() == [10, 20, 30, 50]
    assert q3["id3"].tolist() == [10, 20, 30, 40, 50]
    unmatched = q3[q3["id3"] == 40].iloc[0]
    assert unmatched["v1"] == 4.0
    assert all(pd.isna(unmatched[column]) for column in ("medium_id1", "medium_id4", "v2"))
    assert q3.dropna(subset=["v2"]).reset_index(drop=True).equals(q2)


def test_string_key_join_matches_the_integer_one():
    q4 = _answer("join_q4")
    assert q4["medium_id2"].tolist() == q4["id2"].tolist() == [1, 2, 2, 1]
    assert q4["medium_id1"].tolist() == [5, 6, 6, 5]


def test_columns_and_sql_are_db_benchmarks():
    assert get_workload("join_q1").sql == (
        "SELECT x.*, small.id4 AS small_id4, small.v2 AS v2 FROM x JOIN small USING (id1)"
    )
    assert get_workload("join_q3").sql.startswith("SELECT x.*, medium.id1 AS medium_id1, ")
    assert "LEFT JOIN medium USING (id2)" in get_workload("join_q3").sql
    assert get_workload("join_q5").columns[7:] == (
        "big_id1",
        "big_id2",
        "big_id4",
        "big_id5",
        "big_id6",
        "v2",
    )
    assert {join.how for join in JOINS.values()} == {"inner", "left"}
