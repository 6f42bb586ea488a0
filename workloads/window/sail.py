"""Sail answers the window questions as Spark does (workloads/window/spark.py), in Spark SQL."""

from workloads.window.spark import QUERIES  # noqa: F401 - re-exported
