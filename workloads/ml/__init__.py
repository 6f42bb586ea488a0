"""ML-style work on the dataframe APIs: PCA, least squares, k-means and per-group regression,
each as the same algorithm on every engine, plus the ML library each engine ships.

- m1 reads ``ml``: the features' sample covariance (ddof 1) and its eigen-decomposition.
- m2 reads ``ml``: OLS with intercept from one pass of moments (X'X, X'y), solved with numpy.
- m3 reads ``blobs``: Lloyd's k-means, k = 8, exactly 10 iterations from the manifest's initial
  centres; the centres and the exact cluster sizes.
- m4 reads ``groupby``: the regression of v2 on v1 per (id2, id4) from grouped moments.
- m1_lib, m2_lib, m3_lib: the same questions answered by the engine's own ML library (Spark's
  pyspark.ml, dask-ml, vaex-ml), checked against the same references where the semantics match.

The engines compute every aggregate over the rows; the steps on the few hundred numbers that
come back (workloads/ml/common.py) are numpy, the same for all. References are pandas/numpy,
written from the definitions: a two-pass covariance, ``numpy.linalg.lstsq`` on the rows,
Lloyd's iterations to their fixed point, per-group deviations from the means. The ``check``
hooks compare with the truth the generator recorded (``dataset.metadata``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shared.lazy import lazy_import
from workloads.groupby import MOMENTS_REL_TOL
from workloads.ml.common import (
    CLUSTERS,
    FEATURES,
    KMEANS_COLUMNS,
    MOMENTS,
    OLS_COLUMNS,
    PAIRS,
    PCA_COLUMNS,
    TARGET,
    kmeans_table,
    ols_table,
    pca_from_covariance,
)
from workloads.spec import TABLE_ALIAS, Workload

# On first use: asv's per-cell processes import every question's spec, and most of them
# neither compute a reference nor run this family.
np = lazy_import("numpy")
pd = lazy_import("pandas")
pa = lazy_import("pyarrow")

# The covariance's entries agree to ~1e-13 relative across summation orders (Welford, sums of
# products, two passes; the features have mean 0, so nothing cancels). The eigenvalues span
# 100 to 0.01 (singular values 10 to 0.1), so an error of 1e-13 x 100 in an entry moves the
# smallest eigenvalue by 1e-9 of itself and turns its eigenvector by that over the gap to its
# neighbour (0.85 x 0.01): ~1e-9, relatively more in a loading near 0. 1e-6 leaves three orders
# of margin and still catches any real mistake (ddof 0 moves every eigenvalue by 1/n, a
# wrong pair or sign moves a loading by its own size).
PCA_REL_TOL = 1e-6
# The normal equations square the condition number: cond(X'X) = 1e4, so moments that agree
# to 1e-13 give coefficients that agree to ~1e-9 of the largest; lstsq on the rows (the
# reference) is more accurate than either. A small coefficient is held to that absolute error.
OLS_REL_TOL = 1e-6
# Lloyd's on blobs 10 sigma apart reaches its fixed point in two or three iterations: the
# partition is then exact (the counts are compared exactly) and a centre is a mean of ~n/8
# values, equal across summation orders to ~1e-15 of the coordinates' magnitude (~3).
KMEANS_REL_TOL = 1e-9
# Truth checks: an estimate within this many standard errors of the generator's value.
STANDARD_ERRORS = 6.0


# -- references ------------------------------------------------------------------------------
def _features(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(FEATURES)].to_numpy(dtype=np.float64)


def _pca(frame: pd.DataFrame) -> pd.DataFrame:
    """m1: pandas' two-pass sample covariance (ddof 1), then its eigen-decomposition."""
    cov = pd.DataFrame(_features(frame), columns=list(FEATURES)).cov(ddof=1)
    return pca_from_covariance(cov.to_numpy()).to_pandas()


def _pca_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """m1_lib: the libraries report the explained variance ratio, not always the eigenvalue."""
    return _pca(frame).drop(columns="eigenvalue")


def _ols(frame: pd.DataFrame) -> pd.DataFrame:
    """m2: least squares on the rows themselves (``lstsq``, an SVD), not the normal equations."""
    features = _features(frame)
    design = np.column_stack([np.ones(len(features)), features])
    target = frame[TARGET].to_numpy(dtype=np.float64)
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return ols_table(solution[0], solution[1:]).to_pandas()


def _assign(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centre (first on a tie) and its squared distance to it."""
    distances = np.stack([((points - centre) ** 2).sum(axis=1) for centre in centres])
    nearest = distances.argmin(axis=0)
    return nearest, distances[nearest, np.arange(len(points))]


def _kmeans(frame: pd.DataFrame) -> pd.DataFrame:
    """m3: Lloyd's iterations until the partition no longer changes.

    The reference reads only the rows, not the manifest, so it starts from the true clusters'
    means (cluster i is the blob whose initial centre is i) and iterates to the fixed point.
    Ten iterations from the manifest's initial centres reach the same fixed point on blobs 10
    sigma apart in two or three, which is what makes the comparison exact.
    """
    points = _features(frame)
    labels = frame["label"].to_numpy(dtype=np.int64)
    centres = np.stack([points[labels == k].mean(axis=0) for k in range(CLUSTERS)])
    for _ in range(100):
        nearest, _distances = _assign(points, centres)
        if np.array_equal(nearest, labels):
            break
        labels = nearest
        centres = np.stack(
            [
                points[labels == k].mean(axis=0) if (labels == k).any() else centres[k]
                for k in range(CLUSTERS)
            ]
        )
    return kmeans_table(centres, np.bincount(labels, minlength=CLUSTERS)).to_pandas()


def _regression(frame: pd.DataFrame) -> pd.DataFrame:
    """m4: v2 on v1 per (id2, id4) over the rows where both are present, as SQL's regr_*:
    NULL where v1 does not vary (or fewer than two rows), r2 = 1 where only v2 is constant."""
    keys = ["id2", "id4"]
    both = frame["v1"].notna() & frame["v2"].notna()
    pairs = frame[keys].assign(
        x=frame["v1"].where(both).astype("float64"), y=frame["v2"].where(both).astype("float64")
    )
    grouped = pairs.groupby(keys, dropna=False, observed=True, sort=False)
    dx = pairs["x"] - grouped["x"].transform("mean")
    dy = pairs["y"] - grouped["y"].transform("mean")
    sums = (
        pairs[keys]
        .assign(x=pairs["x"], y=pairs["y"], xy=dx * dy, xx=dx * dx, yy=dy * dy)
        .groupby(keys, dropna=False, observed=True, sort=False)
        .agg(
            n=("x", "count"),
            x=("x", "mean"),
            y=("y", "mean"),
            xy=("xy", "sum"),
            xx=("xx", "sum"),
            yy=("yy", "sum"),
        )
    )
    defined = sums["xx"] > 0
    slope = (sums["xy"] / sums["xx"]).where(defined)
    r2 = (sums["xy"] ** 2 / (sums["xx"] * sums["yy"])).where(sums["yy"] > 0, 1.0)
    answer = pd.DataFrame(
        {
            "slope": slope,
            "intercept": (sums["y"] - slope * sums["x"]).where(defined),
            "r2": r2.where(defined),
        }
    )
    return answer.reset_index()


# -- checks against the truth (untimed) --------------------------------------------------------
def _column(result: pa.Table, name: str) -> np.ndarray:
    return result.column(name).to_numpy().astype(np.float64)


def check_coefficients(result: pa.Table, dataset: Any, reference: pa.Table) -> str | None:
    """The fitted coefficients within 6 standard errors of the generator's beta and intercept
    (the ``reference`` answer's own coefficients are compared value by value before this).

    X = Z L has covariance L'L and mean 0, so the OLS coefficients have standard errors
    sigma * sqrt(diag((L'L)^-1) / n) and the intercept sigma / sqrt(n).
    """
    meta = dataset.metadata
    mixing = np.array(meta["mixing_matrix"])
    n = dataset.table_rows()
    se = meta["noise_sigma"] * np.sqrt(
        np.concatenate([[1.0], np.diag(np.linalg.inv(mixing.T @ mixing))]) / n
    )
    truth = np.array([meta["intercept"], *meta["beta"]])
    terms = result.column("term").to_pylist()
    fitted = dict(zip(terms, _column(result, "coefficient"), strict=True))
    for name, want, error in zip(["intercept", *FEATURES], truth, se, strict=True):
        if abs(fitted[name] - want) > STANDARD_ERRORS * error:
            return (
                f"coefficient of {name} is {fitted[name]!r}, more than {STANDARD_ERRORS:g} "
                f"standard errors ({error:.3g}) from the true {want!r}"
            )
    return None


def _inertia_and_sizes(dataset: Any, centres: list[np.ndarray]) -> list[tuple[float, np.ndarray]]:
    """One pass over the Parquet files with pyarrow and numpy: per set of centres, the sum of
    squared distances of the rows to their nearest centre, and the clusters' sizes."""
    import pyarrow.dataset as pds

    totals = [(0.0, np.zeros(CLUSTERS, dtype=np.int64)) for _ in centres]
    source = pds.dataset(
        dataset.arrow_path(), filesystem=dataset.arrow_filesystem, format="parquet"
    )
    for batch in source.to_batches(columns=list(FEATURES)):
        points = np.column_stack([batch.column(name).to_numpy() for name in FEATURES])
        for i, these in enumerate(centres):
            nearest, distances = _assign(points, these)
            inertia, sizes = totals[i]
            totals[i] = (
                inertia + float(distances.sum()),
                sizes + np.bincount(nearest, minlength=CLUSTERS),
            )
    return totals


def check_clusters(result: pa.Table, dataset: Any, reference: pa.Table) -> str | None:
    """The centres within 6 standard errors (sigma / sqrt(size)) of the true centres, the sizes
    those of the nearest-centre partition, and the inertia, recomputed here rather than taken
    from any library, equal to the reference's (its centres, recomputed in the same pass)."""
    meta = dataset.metadata
    truth = np.array(meta["centres"])
    order = np.argsort(result.column("cluster").to_numpy())
    centres = np.column_stack([_column(result, name) for name in FEATURES])[order]
    counts = result.column("count").to_numpy()[order]
    if len(centres) != CLUSTERS:
        return f"{len(centres)} clusters, expected {CLUSTERS}"
    allowed = STANDARD_ERRORS * meta["sigma"] / np.sqrt(np.maximum(counts, 1))
    far = np.abs(centres - truth).max(axis=1) > allowed
    if far.any():
        k = int(np.flatnonzero(far)[0])
        return f"centre {k} is more than {STANDARD_ERRORS:g} standard errors from the true one"
    expected = np.column_stack([_column(reference, name) for name in FEATURES])
    (inertia, sizes), (want, _) = _inertia_and_sizes(dataset, [centres, expected])
    if not np.array_equal(sizes, counts):
        return f"cluster sizes {counts.tolist()} are not the nearest-centre sizes {sizes.tolist()}"
    if not np.isclose(inertia, want, rtol=KMEANS_REL_TOL, atol=0):
        return f"inertia {inertia!r} differs from the reference's {want!r}"
    return None


# -- canonical SQL -----------------------------------------------------------------------------
def covariance_sql() -> str:
    terms = ", ".join(f"covar_samp({a}, {b}) AS {a}_{b}" for a, b in PAIRS)
    return f"SELECT {terms} FROM x"


def _product(a: str | None, b: str | None) -> str:
    return "*".join(c for c in (a, b) if c) or "1"


def moments_sql() -> str:
    terms = ", ".join(
        "count(*) AS n" if name == "n" else f"sum({_product(a, b)}) AS {name}"
        for name, a, b in MOMENTS
    )
    return f"SELECT {terms} FROM x"


def _literal(value: float) -> str:
    """A float64 as a SQL DOUBLE literal that reads back exactly (17 significant digits)."""
    return f"({float(value):.16e})"


def lloyd_sql(centres: np.ndarray, table: str = TABLE_ALIAS) -> str:
    """One Lloyd iteration over ``table``: squared distances to each centre, the first nearest,
    the means."""
    distances = ", ".join(
        " + ".join(
            f"({name} - {_literal(c)}) * ({name} - {_literal(c)})"
            for name, c in zip(FEATURES, centre, strict=True)
        )
        + f" AS d{k}"
        for k, centre in enumerate(centres)
    )
    names = [f"d{k}" for k in range(len(centres))]
    first = " ".join(f"WHEN {d} = m THEN {k}" for k, d in enumerate(names))
    means = ", ".join(f"avg({name}) AS {name}" for name in FEATURES)
    return (
        f"SELECT cluster, count(*) AS count, {means} FROM ("
        f"SELECT *, CASE {first} END AS cluster FROM ("
        f"SELECT *, least({', '.join(names)}) AS m FROM ("
        f"SELECT {', '.join(FEATURES)}, {distances} FROM {table}"
        ") AS distances) AS nearest) AS assigned GROUP BY cluster"
    )


def _lloyd_sql_template() -> str:
    """The statement of one iteration, centres as placeholders (for people and the README)."""
    placeholders = np.array([[0.0] * len(FEATURES)] * CLUSTERS)
    text = lloyd_sql(placeholders)
    return text.replace(_literal(0.0), ":c")


REGRESSION_SQL = (
    "SELECT id2, id4, regr_slope(v2, v1) AS slope, regr_intercept(v2, v1) AS intercept, "
    "regr_r2(v2, v1) AS r2 FROM x GROUP BY id2, id4"
)


# -- the workloads -----------------------------------------------------------------------------
# The suite runs the ml questions at 1/100 of its scale (1e5 rows at the default 1e7): Lloyd's
# k-means on Spark SQL took 28 s per iteration per 1e6 rows here, and its 136-column covariance
# 84 s at 1e6, so at 1e7 one sample of m3 alone would take about 45 minutes.
SUITE_SHARE = 0.01


def _ml(name: str, table: str, question: str, sql: str, **fields: Any) -> Workload:
    return Workload(
        name=f"ml_{name}",
        family="ml",
        table=table,
        question=question,
        sql=sql,
        suite_share=SUITE_SHARE,
        **fields,
    )


PCA = _ml(
    "m1",
    "ml",
    "PCA of the 16 features: the sample covariance matrix (ddof 1) and its eigen-decomposition",
    covariance_sql(),
    columns=PCA_COLUMNS,
    keys=("component",),
    input_columns=FEATURES,
    reference=_pca,
    rel_tol=PCA_REL_TOL,
)
OLS = _ml(
    "m2",
    "ml",
    "OLS of y on the 16 features with intercept, from one pass of moments X'X, X'y",
    moments_sql(),
    columns=OLS_COLUMNS,
    keys=("term",),
    input_columns=(*FEATURES, TARGET),
    reference=_ols,
    rel_tol=OLS_REL_TOL,
    check=check_coefficients,
)
KMEANS = _ml(
    "m3",
    "blobs",
    "k-means (Lloyd's, k = 8, exactly 10 iterations from the manifest's initial centres)",
    _lloyd_sql_template(),
    columns=KMEANS_COLUMNS,
    keys=("cluster",),
    input_columns=(*FEATURES, "label"),
    reference=_kmeans,
    rel_tol=KMEANS_REL_TOL,
    check=check_clusters,
)
REGRESSION = _ml(
    "m4",
    "groupby",
    "simple regression of v2 on v1 by id2, id4 (slope, intercept, r2; K^2 groups)",
    REGRESSION_SQL,
    columns=("id2", "id4", "slope", "intercept", "r2"),
    keys=("id2", "id4"),
    input_columns=("id2", "id4", "v1", "v2"),
    reference=_regression,
    rel_tol=MOMENTS_REL_TOL,
)


def _library(base: Workload, library: str, sql: str, **changes: Any) -> Workload:
    """The question of ``base`` answered with each engine's ML library: the same data, keys,
    reference and checks unless ``changes`` says otherwise."""
    question = f"{base.name.removeprefix('ml_')} with the engine's ML library ({library})"
    return replace(base, name=f"{base.name}_lib", question=question, sql=sql, **changes)


PCA_LIB = _library(
    PCA,
    "pyspark.ml PCA, dask-ml PCA, vaex.ml.PCA",
    "-- library: PCA(k=16) of the assembled features; explained variance ratio and components",
    columns=tuple(c for c in PCA_COLUMNS if c != "eigenvalue"),
    reference=_pca_ratios,
)
OLS_LIB = _library(
    OLS,
    "pyspark.ml LinearRegression, dask-ml LinearRegression",
    "-- library: LinearRegression with intercept, no regularization",
)
KMEANS_LIB = _library(
    KMEANS,
    "dask-ml KMeans, vaex.ml KMeans",
    "-- library: KMeans(k=8, 10 iterations, tol=0) from the manifest's initial centres",
)

WORKLOADS: tuple[Workload, ...] = (PCA, OLS, KMEANS, REGRESSION, PCA_LIB, OLS_LIB, KMEANS_LIB)
LIBRARY_WORKLOADS = ("ml_m1_lib", "ml_m2_lib", "ml_m3_lib")


def no_library(engine: str, answer: str, detail: str = "") -> dict[str, str]:
    """``UNSUPPORTED`` for the library variants of an engine that ships no ML library: the
    versions computed in its own API (``answer``: SQL, dataframe, compute) are its answer."""
    why = f"no PCA, regression or k-means{'; ' + detail if detail else ''}"
    reason = f"{engine} ships no machine-learning library ({why}); the {answer} versions "
    return dict.fromkeys(LIBRARY_WORKLOADS, reason + "(ml_m1..ml_m3) are its answer")
