"""Vaex as its users would time the questions: ``VAEX_NUM_THREADS`` = cores, ``vaex.open`` of
the Parquet directory, answers computed eagerly into memory (a join's columns evaluated, the
aggregations returned as numbers or an in-memory groupby). k-means and the vaex-ml estimators
read their input several times, so it is read into memory once. Vaex has no window functions:
this script answers no window question.

    /path/to/vaex/python benchmarks/peers/vaex_peer.py DATA --workload join_q2 --repeat 3
"""

from __future__ import annotations

import os

os.environ.setdefault("VAEX_NUM_THREADS", str(len(os.sched_getaffinity(0))))

from pathlib import Path
from typing import Any

import numpy as np
import questions as q
import vaex
import vaex.ml
import vaex.ml.cluster
from timing import Question, main


def read(data: Path, table: str | None = None) -> Any:
    return vaex.open(str(data / table) if table else str(data))


def join(name: str) -> Question:
    right, on, how = q.JOINS[name]
    columns = q.renamed(right, on)

    def answer(_: Any, data: Path) -> list:
        other = read(data, right)[[on, *columns]]
        for column, renamed in columns.items():
            other.rename(column, renamed)
        joined = read(data, "x").join(other, on=on, how=how)
        return joined.evaluate(joined.get_column_names())[0]

    return answer


def pca(_: Any, data: Path) -> np.ndarray:
    frame = read(data)
    rows = len(frame)
    return q.pca(np.asarray(frame.cov(q.FEATURES)) * rows / (rows - 1))


def ols(_: Any, data: Path) -> np.ndarray:
    """X'X and X'y from Vaex's covariance and means of [X, y] in one pass."""
    frame = read(data)
    columns = [*q.FEATURES, "y"]
    rows = len(frame)
    cov, means = frame.cov(columns, delay=True), frame.mean(columns, delay=True)
    frame.execute()
    means = np.asarray(means.get())
    raw = rows * (np.asarray(cov.get()) + np.outer(means, means))
    gram = np.block([[np.array([[rows]]), rows * means[None, :]], [rows * means[:, None], raw]])
    return np.linalg.solve(gram[:17, :17], gram[:17, 17])


def in_memory(data: Path) -> Any:
    """The features read once into numpy arrays. (Not ``materialize``: it routes reads through
    Vaex's column cache, which is shared by every frame of the same files, so a later
    repetition would find the data there.)"""
    return vaex.from_arrays(**dict(zip(q.FEATURES, read(data).evaluate(q.FEATURES), strict=True)))


def distance(centre: np.ndarray) -> str:
    """sum of (x - c)^2 as one expression (Vaex's parser reads ``x - -1.5`` as a call)."""
    terms = (
        f"({f} - {c!r})" if c >= 0 else f"({f} + {-c!r})"
        for f, c in zip(q.FEATURES, centre, strict=True)
    )
    return " + ".join(f"{t} * {t}" for t in terms)


def kmeans(_: Any, data: Path) -> np.ndarray:
    points = in_memory(data)
    centres = q.initial_centres(data)
    for _iteration in range(q.ITERATIONS):
        frame = points.copy()
        for k, centre in enumerate(centres):
            frame[f"d{k}"] = distance(centre)
        smallest = "d0"
        for k in range(1, q.K):
            smallest = f"minimum({smallest}, d{k})"
        frame["m"] = smallest
        cluster = str(q.K - 1)
        for k in range(q.K - 2, -1, -1):
            cluster = f"where(d{k} == m, {k}, {cluster})"
        frame["c"] = cluster
        frame = frame.materialize("c")  # binned by 17 aggregators: computed once
        grouped = frame.groupby("c", agg={"n": "count", **{f: "mean" for f in q.FEATURES}})
        rows = zip(*(grouped[c].tolist() for c in ["c", "n", *q.FEATURES]), strict=True)
        centres, _counts = q.next_centres(centres, list(rows))
    return centres


def regression(_: Any, data: Path) -> Any:
    both = "~(ismissing(v1) | ismissing(v2))"
    sums = read(data).groupby(
        ["id2", "id4"],
        agg={
            "n": vaex.agg.count(selection=both),
            **{
                name: vaex.agg.sum(expression, selection=both)
                for name, expression in {
                    "x": "v1 * 1.0",
                    "y": "v2 * 1.0",
                    "xx": "v1 * 1.0 * v1",
                    "yy": "v2 * 1.0 * v2",
                    "xy": "v1 * 1.0 * v2",
                }.items()
            },
        },
    )
    n = sums["n"]
    sxx, syy = sums["xx"] - sums["x"] ** 2 / n, sums["yy"] - sums["y"] ** 2 / n
    sxy = sums["xy"] - sums["x"] * sums["y"] / n
    sums["slope"] = sums.func.where(sxx > 0, sxy / sxx, None)
    sums["intercept"] = sums.func.where(sxx > 0, (sums["y"] - sums["slope"] * sums["x"]) / n, None)
    r2 = sums.func.where(syy > 0, sxy**2 / (sxx * syy), 1.0)
    sums["r2"] = sums.func.where(sxx > 0, r2, None)
    return sums[["id2", "id4", "slope", "intercept", "r2"]].materialize(
        ["slope", "intercept", "r2"]
    )


def pca_lib(_: Any, data: Path) -> np.ndarray:
    model = vaex.ml.PCA(features=q.FEATURES, n_components=16)
    model.fit(in_memory(data))
    return np.array(model.eigen_vectors_).T


def kmeans_lib(_: Any, data: Path) -> np.ndarray:
    points = in_memory(data)
    model = vaex.ml.cluster.KMeans(
        features=q.FEATURES,
        n_clusters=q.K,
        init=q.initial_centres(data).tolist(),
        max_iter=10,
        n_init=1,
    )
    model.fit(points)
    model.transform(points).count(binby=model.prediction_label, limits=[-0.5, q.K - 0.5], shape=q.K)
    return np.array(model.cluster_centers)


QUESTIONS: dict[str, Question] = {
    **{name: join(name) for name in q.JOINS},
    "ml_m1": pca,
    "ml_m2": ols,
    "ml_m3": kmeans,
    "ml_m4": regression,
    "ml_m1_lib": pca_lib,
    "ml_m3_lib": kmeans_lib,
}

if __name__ == "__main__":
    main(lambda: None, QUESTIONS, lambda _, result: len(result))
