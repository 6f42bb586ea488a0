"""What every engine's answer to the ml questions shares: the features, the moments it asks the
engine for, and the small numpy steps on a few hundred numbers that turn them into the answer
(a 16 x 16 eigen-decomposition, a 17 x 17 solve, carrying 8 x 16 centres between iterations).

The engines compute everything that reads the rows; what happens here reads only their
aggregates, so it costs the same for every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from shared.lazy import lazy_import

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
np = lazy_import("numpy")
pa = lazy_import("pyarrow")


FEATURES: tuple[str, ...] = tuple(f"x{number:02d}" for number in range(1, 17))
TARGET = "y"
CLUSTERS = 8
ITERATIONS = 10  # Lloyd's iterations, every one of them: no early stop

# The upper triangle of the features' covariance matrix, diagonal included (136 pairs).
PAIRS: tuple[tuple[str, str], ...] = tuple(
    (a, b) for i, a in enumerate(FEATURES) for b in FEATURES[i:]
)
# OLS from one pass of moments: X'X and X'y of [1, x01..x16] and y, as (name, left, right)
# sums of products; None is the constant 1 (so ("n", None, None) is the row count).
_DESIGN: tuple[str | None, ...] = (None, *FEATURES)
MOMENTS: tuple[tuple[str, str | None, str | None], ...] = tuple(
    ("_".join(["s", *(c for c in (a, b) if c)]) if (a or b) else "n", a, b)
    for i, a in enumerate(_DESIGN)
    for b in (*_DESIGN[i:], TARGET)
)

PCA_COLUMNS = ("component", "eigenvalue", "explained_variance", *FEATURES)
OLS_COLUMNS = ("term", "coefficient")
KMEANS_COLUMNS = ("cluster", "count", *FEATURES)


def covariance_matrix(pairs: Mapping[tuple[str, str], float]) -> np.ndarray:
    """The symmetric 16 x 16 matrix from its upper triangle, keyed by feature pairs."""
    cov = np.empty((len(FEATURES), len(FEATURES)))
    index = {name: i for i, name in enumerate(FEATURES)}
    for (a, b), value in pairs.items():
        cov[index[a], index[b]] = cov[index[b], index[a]] = value
    return cov


def _signed(vectors: np.ndarray) -> np.ndarray:
    """Eigenvectors (rows) up to sign made comparable: the largest-magnitude entry positive."""
    largest = vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)]
    return vectors * np.where(largest < 0, -1.0, 1.0)[:, None]


def pca_table(
    components: np.ndarray, ratios: Sequence[float], eigenvalues: Sequence[float] | None = None
) -> pa.Table:
    """Principal components (one row each, in decreasing variance) as the result table:
    ``component`` (1-based), ``eigenvalue`` (unless None), ``explained_variance`` (ratio) and
    the loadings, one column per feature, signs normalized."""
    signed = _signed(np.asarray(components, dtype=np.float64))
    columns: dict[str, object] = {"component": np.arange(1, len(signed) + 1, dtype=np.int64)}
    if eigenvalues is not None:
        columns["eigenvalue"] = np.asarray(eigenvalues, dtype=np.float64)
    columns["explained_variance"] = np.asarray(ratios, dtype=np.float64)
    columns.update({name: signed[:, i] for i, name in enumerate(FEATURES)})
    return pa.table(columns)


def pca_from_covariance(cov: np.ndarray) -> pa.Table:
    """PCA of a covariance matrix: ``numpy.linalg.eigh``, largest eigenvalue first."""
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = values[order]
    return pca_table(vectors[:, order].T, values / values.sum(), values)


def ols_table(intercept: float, coefficients: Sequence[float]) -> pa.Table:
    return pa.table(
        {
            "term": ["intercept", *FEATURES],
            "coefficient": np.array([intercept, *coefficients], dtype=np.float64),
        }
    )


def ols_from_moments(sums: Mapping[str, float]) -> pa.Table:
    """Solve the normal equations (X'X) b = X'y, X = [1, x01..x16], from the sums of MOMENTS."""
    size = len(_DESIGN)
    xtx, xty = np.empty((size, size)), np.empty(size)
    position = {name: i for i, name in enumerate(_DESIGN)}
    for name, a, b in MOMENTS:
        if b == TARGET:
            xty[position[a]] = sums[name]
        else:
            xtx[position[a], position[b]] = xtx[position[b], position[a]] = sums[name]
    solution = np.linalg.solve(xtx, xty)
    return ols_table(solution[0], solution[1:])


def kmeans_table(centres: np.ndarray, counts: Sequence[int]) -> pa.Table:
    columns: dict[str, object] = {
        "cluster": np.arange(len(centres), dtype=np.int64),
        "count": np.asarray(counts, dtype=np.int64),
    }
    columns.update({name: np.asarray(centres)[:, i] for i, name in enumerate(FEATURES)})
    return pa.table(columns)


def initial_centres(dataset: object) -> np.ndarray:
    """The manifest's k-means starting point: 8 x 16."""
    return np.array(dataset.metadata["initial_centres"], dtype=np.float64)  # type: ignore[attr-defined]


Step = Callable[["np.ndarray"], "pa.Table"]


def lloyd(step: Step, centres: np.ndarray, iterations: int = ITERATIONS) -> pa.Table:
    """Lloyd's algorithm, ``iterations`` times: ``step`` is one pass of the engine (assign each
    row to its nearest centre, average per cluster), answering ``cluster``, ``count`` and the
    features' means for the clusters that have rows; an empty cluster keeps its centre."""
    counts = np.zeros(len(centres), dtype=np.int64)
    for _ in range(iterations):
        answer = step(centres)
        clusters = answer.column("cluster").to_numpy().astype(np.int64)
        centres, counts = centres.copy(), np.zeros(len(centres), dtype=np.int64)
        counts[clusters] = answer.column("count").to_numpy()
        for i, name in enumerate(FEATURES):
            centres[clusters, i] = answer.column(name).to_numpy()
    return kmeans_table(centres, counts)


def squared_distance(column: Callable[[str], object], centre: Sequence[float]) -> object:
    """sum over features of (x - c)^2, for any engine whose column objects do arithmetic."""
    total = None
    for name, value in zip(FEATURES, centre, strict=True):
        difference = column(name) - float(value)
        term = difference * difference
        total = term if total is None else total + term
    return total
