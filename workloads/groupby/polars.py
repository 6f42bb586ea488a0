"""Polars answers the groupby questions with lazy ``group_by().agg()`` expressions."""

from __future__ import annotations

from bakeoff.lazy import lazy_import

pl = lazy_import("polars")


def q1(engine, dataset):
    return engine.scan(dataset).group_by("id1").agg(pl.col("v1").sum())


def q2(engine, dataset):
    return engine.scan(dataset).group_by("id1", "id2").agg(pl.col("v1").sum())


def q3(engine, dataset):
    return engine.scan(dataset).group_by("id3").agg(pl.col("v1").sum(), pl.col("v3").mean())


def q4(engine, dataset):
    return engine.scan(dataset).group_by("id4").agg(pl.col("v1", "v2", "v3").mean())


def q5(engine, dataset):
    return engine.scan(dataset).group_by("id6").agg(pl.col("v1", "v2", "v3").sum())


QUERIES = {"groupby_q1": q1, "groupby_q2": q2, "groupby_q3": q3, "groupby_q4": q4, "groupby_q5": q5}
