"""Sail answers the groupby questions as Spark does (workloads/groupby/spark.py), in Spark SQL."""

from workloads.groupby.spark import QUERIES  # noqa: F401 - re-exported
