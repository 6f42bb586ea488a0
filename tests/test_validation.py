"""Validation that a misplaced value cannot pass.

The comparison itself on hand-made results (every kind of difference, the tolerance, the
empty-sum rule, keyed checksums), then wrong implementations injected into a real engine at a
scale whose result has more than 10,000 rows, each caught as ``wrong_answer`` with a detail a
person can act on.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bakeoff import validation
from bakeoff.engines import create_engine
from bakeoff.reference import reference_answer
from bakeoff.runner import Status, run_workload
from bakeoff.validation import compare_digests, compare_tables, digest_table
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import get_workload
from workloads.groupby import duckdb as duckdb_groupby

Q3 = get_workload("groupby_q3")  # id3 (string key), v1 (sum), v3 (mean)
RIGHT = pa.table(
    {
        "id3": ["id0000000001", "id0000000002", "id0000000003", None],
        "v1": pa.array([10, 20, 30, 40], pa.int64()),
        "v3": [1.5, 2.5, 3.5, 4.5],
    }
)


def with_column(table: pa.Table, name: str, values: list) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values))


def test_a_right_answer_passes_in_any_row_and_column_order():
    shuffled = RIGHT.take([3, 1, 0, 2]).select(["v3", "id3", "v1"])
    assert compare_tables(shuffled, RIGHT, Q3) is None
    assert (
        compare_digests(digest_table(shuffled, Q3), digest_table(RIGHT, Q3), rel_tol=1e-9) is None
    )


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (with_column(RIGHT, "v1", [20, 10, 30, 40]), "2 of 4 values of v1 differ"),  # permuted
        (RIGHT.slice(0, 3), "3 rows, expected 4"),  # the NULL-key group dropped
        (pa.concat_tables([RIGHT, RIGHT.slice(0, 1)]), "5 rows, expected 4"),  # duplicated
        (with_column(RIGHT, "v3", [1.5, 2.5, 3.5, 4.5 * (1 + 1e-6)]), "values of v3 differ"),
        (RIGHT.rename_columns(["id3", "v3", "v1"]), "values of v1 differ"),  # swapped names
        (with_column(RIGHT, "id3", ["id0000000001", "id0000000002", "x", None]), "id3 differ"),
    ],
    ids=["permuted", "dropped-null-key", "duplicated", "changed", "swapped", "wrong-key"],
)
def test_every_kind_of_difference_is_caught(wrong, message):
    assert message in compare_tables(wrong, RIGHT, Q3)


def test_the_first_difference_names_its_key():
    detail = compare_tables(with_column(RIGHT, "v1", [10, 20, 31, 40]), RIGHT, Q3)
    assert "at key {'id3': 'id0000000003'} (row 2 sorted by key), is 31, expected 30" in detail


def test_within_tolerance_is_equal_and_nan_is_null():
    close = with_column(RIGHT, "v3", [1.5 * (1 + 1e-12), 2.5, 3.5, 4.5])
    assert compare_tables(close, RIGHT, Q3) is None
    nan = with_column(RIGHT, "v3", [1.5, 2.5, 3.5, float("nan")])
    null = with_column(RIGHT, "v3", [1.5, 2.5, 3.5, None])
    assert compare_tables(nan, null, Q3) is None


def test_an_empty_sum_may_be_zero_but_only_in_sum_columns():
    reference = with_column(RIGHT, "v1", [10, 20, 30, None])
    zero = with_column(RIGHT, "v1", [10, 20, 30, 0])
    assert compare_tables(zero, reference, Q3) is None  # v1 is a sum
    reference = with_column(RIGHT, "v3", [1.5, 2.5, 3.5, None])
    zero = with_column(RIGHT, "v3", [1.5, 2.5, 3.5, 0.0])
    assert "values of v3 differ" in compare_tables(zero, reference, Q3)  # v3 is a mean


def test_keyed_checksums_catch_what_sums_cannot():
    permuted = with_column(RIGHT, "v1", [20, 10, 30, 40])
    expected = digest_table(RIGHT, Q3)
    got = digest_table(permuted, Q3)
    assert got.sums == expected.sums  # the plain sums cannot tell
    assert "keyed checksum of v1" in compare_digests(got, expected, rel_tol=1e-9)


# -- wrong implementations on a real engine, result above 10,000 rows -------------------------
ROWS = 2_000_000  # q3 has N/K = 20,000 groups, more than any "small result" shortcut
WRONG_Q3 = {
    "values permuted across keys": """
        WITH g AS (SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3)
        SELECT a.id3, b.v1, b.v3
        FROM (SELECT id3, row_number() OVER (ORDER BY id3) AS n FROM g) a
        JOIN (SELECT v1, v3, row_number() OVER (ORDER BY id3 DESC) AS n FROM g) b USING (n)""",
    "dropped NULL-key group": """
        SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x WHERE id3 IS NOT NULL GROUP BY id3""",
    "off-by-one filter": """
        SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x WHERE id6 > 1 GROUP BY id3""",
    "two columns swapped": """
        SELECT id3, avg(v3) AS v1, sum(v1) AS v3 FROM x GROUP BY id3""",
}
EXPECTED_DETAIL = {
    "values permuted across keys": "values of v1 differ",
    "dropped NULL-key group": "rows, expected",
    "off-by-one filter": "values of v1 differ",
    "two columns swapped": "values of v1 differ",
}


@pytest.fixture(scope="module")
def large(data_dir):
    return ensure_dataset(DatasetSpec(rows=ROWS, null_pct=1), data_dir)


@pytest.fixture(scope="module")
def duckdb_engine():
    pytest.importorskip("duckdb")
    engine = create_engine("duckdb")
    engine.start()
    yield engine
    engine.stop()


def test_the_right_answer_passes_value_by_value(duckdb_engine, large):
    record = run_workload(duckdb_engine, Q3, large, reference=reference_answer(large, Q3))
    assert record.status == Status.OK, record.detail
    assert "value by value" in record.detail
    assert record.digest["rows"] > 10_000


@pytest.mark.parametrize("fault", list(WRONG_Q3))
def test_an_injected_wrong_answer_is_caught(duckdb_engine, large, monkeypatch, fault):
    sql = WRONG_Q3[fault]
    monkeypatch.setitem(
        duckdb_groupby.QUERIES, Q3.name, lambda engine, dataset: engine.sql(dataset, sql)
    )
    record = run_workload(duckdb_engine, Q3, large, reference=reference_answer(large, Q3))
    assert record.status == Status.WRONG_ANSWER, fault
    assert EXPECTED_DETAIL[fault] in record.detail, record.detail
    assert record.wall_s is None  # never a timing


def test_null_counts_are_exact_in_digests():
    extra_null = with_column(RIGHT, "v3", [1.5, None, 3.5, 4.5])
    problem = compare_digests(digest_table(extra_null, Q3), digest_table(RIGHT, Q3), rel_tol=1e-9)
    assert problem == "1 NULLs in v3, expected 0"


def test_whole_numbers_have_exact_keyed_checksums():
    """Two neighbouring row numbers swapped among 2e6 rows: a float checksum held to 1e-9
    tolerance could not tell; the exact one does."""
    import numpy as np

    w1 = get_workload("window_w1")  # g, id, rn; keyed by id
    rows = 2_000_000
    ids = np.arange(rows, dtype=np.int64)
    rn = ids % 1000 + 1
    right = pa.table({"g": ids // 1000, "id": ids, "rn": rn})
    swapped_rn = rn.copy()
    swapped_rn[[10, 11]] = swapped_rn[[11, 10]]
    wrong = right.set_column(2, "rn", pa.array(swapped_rn))
    problem = compare_digests(digest_table(wrong, w1), digest_table(right, w1), rel_tol=1e-9)
    assert "keyed checksum of rn" in problem


@pytest.mark.parametrize("code_limit", [1 << 64, 1 << 12])
def test_the_rank_sort_orders_many_keys_as_arrows_sort_does(monkeypatch, code_limit):
    """Keys of strings and integers with NULLs and ties, whose combined ranks re-rank when they
    pass the 64-bit limit (lowered here, as keys of 1e7 distinct values in several columns
    would pass it), in the order Arrow's multi-column sort gives."""
    monkeypatch.setattr(validation, "_CODE_LIMIT", code_limit)
    rng = np.random.default_rng(7)
    size = 5000

    def with_nulls(values: list) -> list:
        return [None if rng.random() < 0.05 else value for value in values]

    table = pa.table(
        {
            "id1": with_nulls([f"id{n:03d}" for n in rng.integers(0, 40, size)]),
            "id4": pa.array(with_nulls(rng.integers(-20, 20, size).tolist()), pa.int32()),
            "id3": with_nulls([f"id{n:010d}" for n in rng.integers(0, 3000, size)]),
            "id6": pa.array(with_nulls(rng.integers(0, 3000, size).tolist()), pa.int64()),
            "v3": with_nulls(rng.normal(size=size).round(1).tolist()),
        }
    )
    names = table.column_names
    for keys in range(len(names) + 1):
        expected = table.take(pc.sort_indices(table, [(n, "ascending", "at_end") for n in names]))
        assert table.take(validation.row_order(table, names, keys=keys)).equals(expected), keys


@pytest.mark.parametrize("distinct", [3, 70_000])
def test_taking_rows_gives_arrows_take_for_repeated_and_distinct_strings(distinct):
    """Strings whose values repeat are taken through their dictionary, distinct ones directly;
    either way, with NULLs, several chunks and a sliced array, as Arrow's own take."""
    rng = np.random.default_rng(3)
    size = 140_000
    values = [None if n % 17 == 0 else f"v{n % distinct:06d}" for n in range(size)]
    chunked = pa.chunked_array([pa.array(values[:50_000]), pa.array(values[50_000:])])
    table = pa.table(
        {
            "s": chunked,
            "b": pa.array(values, pa.string()).cast(pa.binary()),
            "n": pa.array(rng.integers(0, 9, size)),
            "t": pa.array(["x", "y", *values]).slice(2),
        }
    )
    indices = pa.array(rng.permutation(size))
    assert validation.take_rows(table, indices).equals(table.take(indices))
