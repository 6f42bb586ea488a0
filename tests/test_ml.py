"""The ml family (PCA, OLS, k-means, per-group regression, and the engines' ML libraries) on
every engine, and its references and shared numpy steps on hand-made data.

Each engine answers every ml question at tiny scale through ``bakeoff run``, one engine start
per table the questions read (``ml``, ``blobs``, and ``groupby`` with K = 10 so its groups have
rows): every answer matches the reference and passes its check against the generator's truth,
or the engine declared the question unsupported, or it is a known engine problem pinned below
so that a fix upstream shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bakeoff.engines import ENGINE_NAMES
from tests.helpers import run_engine
from workloads import Unsupported, get_workload, implementation
from workloads.ml import WORKLOADS, lloyd_sql
from workloads.ml.common import (
    CLUSTERS,
    FEATURES,
    MOMENTS,
    lloyd,
    ols_from_moments,
)

# Which questions read which table, and the dataset options that make each meaningful.
TABLES = {
    "ml": ("--table", "ml"),
    "blobs": ("--table", "blobs"),
    "groupby": ("--table", "groupby", "--k", "10"),
}


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine_runs(request, data_dir, tmp_path_factory):
    engine = request.param
    results = tmp_path_factory.mktemp(f"results-ml-{engine}")
    runs = {}
    for table, flags in TABLES.items():
        names = ",".join(w.name for w in WORKLOADS if w.table == table)
        runs[table] = run_engine(engine, data_dir, results, *flags, workload=names)
    return engine, runs


def test_answers_match_the_reference_or_say_why_not(engine_runs):
    engine, runs = engine_runs
    for table, (records, done) in runs.items():
        expected = {w.name for w in WORKLOADS if w.table == table}
        by_workload = {record.workload: record for record in records}
        assert set(by_workload) == expected, done.stderr[-2000:]
        for name, record in by_workload.items():
            cell = implementation(engine, get_workload(name))
            outcome = (record.status, record.detail)
            if isinstance(cell, Unsupported):
                assert outcome == ("unsupported", cell.reason), name
            else:
                assert record.status == "ok" and record.validated, (name, outcome)
                assert record.wall_s > 0


# -- references on hand-made data ----------------------------------------------------------------
def _frame(columns: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(columns).convert_dtypes(dtype_backend="pyarrow")


def test_pca_reference_finds_the_axes():
    """Rows +-s_i e_i: the covariance is diag(2 s_i^2 / 31), the components the axes."""
    scales = np.arange(16, 0, -1, dtype=float)  # x01 varies most
    rows = np.concatenate([np.diag(scales), -np.diag(scales)])
    answer = get_workload("ml_m1").reference(_frame(dict(zip(FEATURES, rows.T, strict=True))))
    np.testing.assert_allclose(answer["eigenvalue"], 2 * scales**2 / 31)
    np.testing.assert_allclose(answer["explained_variance"], scales**2 / (scales**2).sum())
    np.testing.assert_allclose(answer[list(FEATURES)].to_numpy(), np.eye(16), atol=1e-12)
    assert answer["component"].tolist() == list(range(1, 17))
    assert "eigenvalue" not in get_workload("ml_m1_lib").reference(
        _frame(dict(zip(FEATURES, rows.T, strict=True)))
    )


def test_ols_reference_and_normal_equations_recover_exact_coefficients():
    draw = np.random.default_rng(1)
    features = draw.standard_normal((200, 16))
    beta = np.arange(1.0, 17.0)
    target = 2.5 + features @ beta
    frame = _frame({**dict(zip(FEATURES, features.T, strict=True)), "y": target})
    answer = get_workload("ml_m2").reference(frame)
    np.testing.assert_allclose(answer["coefficient"], [2.5, *beta], rtol=1e-10)
    columns = {"y": target, **dict(zip(FEATURES, features.T, strict=True))}

    def value(column: str | None) -> np.ndarray:
        return np.ones(len(target)) if column is None else columns[column]

    sums = {name: float((value(a) * value(b)).sum()) for name, a, b in MOMENTS}
    solved = ols_from_moments(sums).column("coefficient").to_numpy()
    np.testing.assert_allclose(solved, [2.5, *beta], rtol=1e-9)


def test_kmeans_reference_assigns_each_row_to_its_nearest_centre():
    """Eight clusters along x01; a row labelled 0 but nearest cluster 6 counts for 6."""
    spread = np.linspace(-0.5, 0.5, 10)
    x01 = [10.0 * k + d for k in range(CLUSTERS) for d in spread] + [62.0]
    labels = [k for k in range(CLUSTERS) for _ in spread] + [0]
    frame = _frame({**{name: [0.0] * len(x01) for name in FEATURES}, "x01": x01, "label": labels})
    answer = get_workload("ml_m3").reference(frame)
    assert answer["count"].tolist() == [10] * 6 + [11, 10]
    np.testing.assert_allclose(answer["x01"], [0, 10, 20, 30, 40, 50, 662 / 11, 70], atol=1e-12)


def test_regression_reference_follows_sql_regr():
    frame = _frame(
        {
            "id2": [1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3],
            "id4": [1, 1, 1, 2, 2, 1, 2, 2, 3, 3, 3],
            "v1": [1, 2, 3, 2, 2, 4, 1, 3, 1, None, 3],
            "v2": [2, 4, 6, 1, 9, 4, 5, 5, 1, 5, None],
        }
    )
    answer = get_workload("ml_m4").reference(frame).set_index(["id2", "id4"]).sort_index()
    rows = {key: tuple(row) for key, row in answer.iterrows()}
    assert rows[(1, 1)] == pytest.approx((2.0, 0.0, 1.0))  # exact line
    assert rows[(2, 2)] == pytest.approx((0.0, 5.0, 1.0))  # constant v2: r2 = 1
    for key in [(1, 2), (2, 1), (3, 3)]:  # constant v1, one row, one complete pair
        assert all(pd.isna(value) for value in rows[key]), key


# -- shared steps ----------------------------------------------------------------------------
def test_lloyd_runs_every_iteration_and_keeps_an_empty_clusters_centre():
    calls = []

    def step(centres: np.ndarray) -> pa.Table:
        calls.append(centres.copy())
        means = {name: [centres[0, i] + 1.0] for i, name in enumerate(FEATURES)}
        return pa.table({"cluster": [0], "count": [5], **means})

    start = np.zeros((CLUSTERS, 16))
    start[3] = 7.0
    result = lloyd(step, start)
    assert len(calls) == 10
    assert result.column("count").to_pylist() == [5] + [0] * 7
    assert result.column("x01").to_pylist()[0] == 10.0
    assert result.column("x01").to_pylist()[3] == 7.0  # never had a row: kept


def test_lloyd_sql_literals_read_back_exactly():
    centres = np.full((CLUSTERS, 16), 0.1)
    centres[0, 0] = -1 / 3
    statement = lloyd_sql(centres)
    assert "(x01 - (-3.3333333333333331e-01))" in statement
    assert float("-3.3333333333333331e-01") == -1 / 3
