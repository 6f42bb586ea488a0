"""Vaex answers the groupby questions with ``groupby(by, agg={...})`` and ``vaex.agg``."""

from __future__ import annotations

from bakeoff.lazy import lazy_import

vaex = lazy_import("vaex")


def _aggregate(engine, dataset, by: list[str], aggregations: dict[str, str]):
    frame = engine.scan(dataset)
    agg = {column: getattr(vaex.agg, how)(column) for column, how in aggregations.items()}
    return frame.groupby(by=by, agg=agg)


def q1(engine, dataset):
    return _aggregate(engine, dataset, ["id1"], {"v1": "sum"})


def q2(engine, dataset):
    return _aggregate(engine, dataset, ["id1", "id2"], {"v1": "sum"})


def q3(engine, dataset):
    return _aggregate(engine, dataset, ["id3"], {"v1": "sum", "v3": "mean"})


def q4(engine, dataset):
    return _aggregate(engine, dataset, ["id4"], {"v1": "mean", "v2": "mean", "v3": "mean"})


def q5(engine, dataset):
    return _aggregate(engine, dataset, ["id6"], {"v1": "sum", "v2": "sum", "v3": "sum"})


QUERIES = {"groupby_q1": q1, "groupby_q2": q2, "groupby_q3": q3, "groupby_q4": q4, "groupby_q5": q5}
