"""The window questions (w1-w5) on every engine, and their references.

Each engine answers w1-w5 at tiny scale through ``bakeoff run``: once on the plain table in one
file, once with 5 % NULL ``x`` cut into 10 files of 1,000 rows, so that every engine reads
several inputs (Dask: several partitions) and a group's rows come from all of them. Every
answer matches the pandas reference value by value, or the engine declared the question
unsupported and the record says why. The references themselves are checked on hand-made
frames whose answers are written out, for the ordering and NULL cases SQL defines.
"""

from __future__ import annotations

import pandas as pd
import pytest

from bakeoff.engines import ENGINE_NAMES
from tests.helpers import assert_answered, run_engine
from workloads import get_workload

WINDOW = [f"window_w{i}" for i in range(1, 6)]
VARIANTS = {
    "plain": (),
    "nulls_in_files": ("--null-pct", "5", "--rows-per-file", "1000"),
}


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine_runs(request, data_dir, tmp_path_factory):
    """w1-w5 per engine and dataset variant; one engine start per variant."""
    engine = request.param
    results = tmp_path_factory.mktemp(f"results-window-{engine}")
    runs = {
        name: run_engine(engine, data_dir, results, "--table", "window", *flags, workload="window")
        for name, flags in VARIANTS.items()
    }
    return engine, runs


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_answers_match_the_reference_or_say_why_not(engine_runs, variant):
    engine, runs = engine_runs
    by_workload = assert_answered(engine, *runs[variant], WINDOW)
    for name, record in by_workload.items():
        if record.status == "ok":
            assert record.digest["rows"] == (30 if name == "window_w5" else 10_000)
            if engine == "dask" and variant == "nulls_in_files":
                assert record.settings["result_partitions"] > 1  # whole groups, shuffled


def _answer(name: str, frame: pd.DataFrame) -> list[tuple]:
    """The reference's answer as plain Python rows (NULL as None), sorted by the keys."""
    workload = get_workload(name)
    answer = workload.reference(frame.convert_dtypes(dtype_backend="pyarrow"))
    answer = answer.sort_values(list(workload.keys))[list(workload.columns)]
    return [
        tuple(None if value is pd.NA or value != value else value for value in row)
        for row in answer.itertuples(index=False)
    ]


# Group 1 in window order: id 11 and 12 tie on ts and go by id; x is NULL in the last two.
# Group 2: a NULL x first, then one value.
SMALL = pd.DataFrame(
    {
        "g": [1, 1, 1, 2, 1, 2],
        "ts": pd.to_datetime(
            ["2024-01-03", "2024-01-01", "2024-01-01", "2024-01-05", "2024-01-02", "2024-01-04"]
        ),
        "id": [10, 12, 11, 20, 13, 21],
        "x": [None, 2.0, 1.0, 5.0, None, None],
    }
)


def test_row_number_orders_by_ts_then_id():
    assert _answer("window_w1", SMALL) == [
        (1, 10, 4),
        (1, 11, 1),
        (1, 12, 2),
        (1, 13, 3),
        (2, 20, 2),
        (2, 21, 1),
    ]


def test_lag_and_lead_return_the_neighbour_x_null_or_not():
    assert _answer("window_w2", SMALL) == [
        (1, 10, None, None),  # last row; the row before has a NULL x
        (1, 11, None, 2.0),  # first row
        (1, 12, 1.0, None),
        (1, 13, 2.0, None),
        (2, 20, None, None),
        (2, 21, None, 5.0),
    ]


def test_moving_average_skips_nulls_and_slides_over_ten_rows():
    assert _answer("window_w3", SMALL) == [
        (1, 10, 1.5),
        (1, 11, 1.0),
        (1, 12, 1.5),
        (1, 13, 1.5),  # a NULL x: the average of the frame's values
        (2, 20, 5.0),
        (2, 21, None),  # a frame of only NULLs
    ]
    # 12 rows of x = 1..12: row 11's frame is rows 2..11, row 12's rows 3..12.
    long = pd.DataFrame(
        {
            "g": [7] * 12,
            "ts": pd.date_range("2024-01-01", periods=12, freq="h"),
            "id": range(1, 13),
            "x": [float(i) for i in range(1, 13)],
        }
    )
    averages = [row[2] for row in _answer("window_w3", long)]
    assert averages == [(1 + i) / 2 for i in range(1, 11)] + [6.5, 7.5]


def test_running_sum_is_null_until_the_first_value_then_carries():
    assert _answer("window_w4", SMALL) == [
        (1, 10, 3.0),
        (1, 11, 1.0),
        (1, 12, 3.0),
        (1, 13, 3.0),
        (2, 20, 5.0),
        (2, 21, None),
    ]


def test_top_three_sorts_null_last_and_breaks_ties_by_id():
    frame = pd.DataFrame(
        {
            "g": [1, 1, 1, 1, 1, 2, 2],
            "ts": pd.to_datetime(["2024-01-01"] * 7),
            "id": [5, 4, 3, 2, 1, 7, 6],
            "x": [None, 2.0, 2.0, 1.0, 9.0, None, 0.5],
        }
    )
    assert _answer("window_w5", frame) == [
        (1, 1, 1, 9.0),
        (1, 2, 3, 2.0),  # a tie on x: the smaller id first
        (1, 3, 4, 2.0),
        (2, 1, 6, 0.5),
        (2, 2, 7, None),  # a group of fewer than three values keeps its NULL rows, last
    ]
