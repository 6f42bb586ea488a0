"""The join, window and ml questions as an engine's expert would read them off the issue: SQL
text, join keys, and the few lines of numpy that finish an ml answer from its aggregates.

Written from the questions' definitions, not imported from bakeoff: these scripts exist to
check bakeoff's numbers, so they share no code with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# -- join: x with small / medium / big on a key, many-to-one -------------------------------------
X_COLUMNS = ("id1", "id2", "id3", "id4", "id5", "id6", "v1")
RIGHT_COLUMNS = {
    "small": ("id1", "id4", "v2"),
    "medium": ("id1", "id2", "id4", "id5", "v2"),
    "big": ("id1", "id2", "id3", "id4", "id5", "id6", "v2"),
}
JOINS = {  # right table, key, kind
    "join_q1": ("small", "id1", "inner"),
    "join_q2": ("medium", "id2", "inner"),
    "join_q3": ("medium", "id2", "left"),
    "join_q4": ("medium", "id5", "inner"),
    "join_q5": ("big", "id3", "inner"),
}


def renamed(right: str, on: str) -> dict[str, str]:
    """The right table's non-key columns by their name in the answer (``medium_id1``, ``v2``)."""
    return {c: c if c == "v2" else f"{right}_{c}" for c in RIGHT_COLUMNS[right] if c != on}


def join_sql(name: str) -> str:
    right, on, how = JOINS[name]
    picked = ", ".join(f"{right}.{c} AS {n}" for c, n in renamed(right, on).items())
    kind = "JOIN" if how == "inner" else "LEFT JOIN"
    return f"SELECT x.*, {picked} FROM x {kind} {right} USING ({on})"


# -- window: per group g in order of ts, id -------------------------------------------------------
OVER = "OVER (PARTITION BY g ORDER BY ts, id"
WINDOW_SQL = {
    "window_w1": f"SELECT g, id, row_number() {OVER}) AS rn FROM x",
    "window_w2": f"SELECT g, id, lag(x) {OVER}) AS lag_x, lead(x) {OVER}) AS lead_x FROM x",
    "window_w3": f"SELECT g, id, avg(x) {OVER} ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) "
    "AS avg_x FROM x",
    "window_w4": f"SELECT g, id, sum(x) {OVER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
    "AS sum_x FROM x",
    "window_w5": "SELECT g, rn, id, x FROM (SELECT g, id, x, row_number() OVER (PARTITION BY g "
    "ORDER BY x DESC NULLS LAST, id) AS rn FROM x) WHERE rn <= 3",
}

# -- ml ------------------------------------------------------------------------------------------
FEATURES = [f"x{i:02d}" for i in range(1, 17)]
K = 8
ITERATIONS = 10
ML_TABLE = {"ml_m1": "ml", "ml_m2": "ml", "ml_m3": "blobs", "ml_m4": "groupby"}
PAIRS = [(a, b) for i, a in enumerate(FEATURES) for b in FEATURES[i:]]
COVARIANCE_SQL = "SELECT " + ", ".join(f"covar_samp({a}, {b})" for a, b in PAIRS) + " FROM x"
# X'X and X'y of [1, x01..x16] and y: the upper triangle of [1, X, y]' [1, X, y] but y'y.
DESIGN = ["1", *FEATURES, "y"]
MOMENT_PAIRS = [(i, j) for i in range(17) for j in range(i, 18)]
MOMENTS_SQL = (
    "SELECT " + ", ".join(f"sum({DESIGN[i]} * {DESIGN[j]})" for i, j in MOMENT_PAIRS) + " FROM x"
)
REGRESSION_SQL = (
    "SELECT id2, id4, regr_slope(v2, v1) AS slope, regr_intercept(v2, v1) AS intercept, "
    "regr_r2(v2, v1) AS r2 FROM x GROUP BY id2, id4"
)


def pca(cov: np.ndarray) -> np.ndarray:
    """Eigenvalues (largest first) and eigenvectors of the covariance: 16 components."""
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    return np.column_stack([values[order], vectors[:, order].T])


def symmetric(upper: list[float]) -> np.ndarray:
    """The 16 x 16 covariance from its upper triangle in PAIRS order."""
    cov = np.empty((16, 16))
    for (a, b), value in zip(PAIRS, upper, strict=True):
        i, j = FEATURES.index(a), FEATURES.index(b)
        cov[i, j] = cov[j, i] = value
    return cov


def ols(moments: list[float]) -> np.ndarray:
    """Solve X'X b = X'y from the sums in MOMENT_PAIRS order: intercept then 16 slopes."""
    full = np.empty((18, 18))
    for (i, j), value in zip(MOMENT_PAIRS, moments, strict=True):
        full[i, j] = full[j, i] = value
    return np.linalg.solve(full[:17, :17], full[:17, 17])


def initial_centres(data: Path) -> np.ndarray:
    """k-means' starting centres, as the generator wrote them into the dataset's manifest."""
    manifest = json.loads((data / "_manifest.json").read_text())
    return np.array(manifest["table_metadata"]["initial_centres"], dtype=np.float64)


def literal(value: float) -> str:
    return f"({float(value):.17g})"


def lloyd_sql(centres: np.ndarray, table: str = "x") -> str:
    """One Lloyd iteration: each row to its first nearest centre, then the clusters' means."""
    distances = ", ".join(
        " + ".join(
            f"({f} - {literal(c)}) * ({f} - {literal(c)})"
            for f, c in zip(FEATURES, row, strict=True)
        )
        + f" AS d{k}"
        for k, row in enumerate(centres)
    )
    names = [f"d{k}" for k in range(len(centres))]
    first = " ".join(f"WHEN {d} = m THEN {k}" for k, d in enumerate(names))
    means = ", ".join(f"avg({f})" for f in FEATURES)
    return (
        f"SELECT c, count(*), {means} FROM (SELECT *, CASE {first} END AS c FROM ("
        f"SELECT *, least({', '.join(names)}) AS m FROM (SELECT {', '.join(FEATURES)}, "
        f"{distances} FROM {table}) AS d) AS n) AS a GROUP BY c"
    )


def next_centres(centres: np.ndarray, rows: list) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (cluster, count, 16 means) to the new centres and sizes (an empty cluster keeps
    its centre)."""
    centres, counts = centres.copy(), np.zeros(len(centres), dtype=np.int64)
    for cluster, count, *means in rows:
        centres[int(cluster)], counts[int(cluster)] = means, count
    return centres, counts
