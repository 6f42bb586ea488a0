"""Sail answers the etl questions as Spark does (workloads/etl/spark.py): Spark SQL, written
with Spark's ``DataFrameWriter``, which Sail implements."""

from workloads.etl.spark import QUERIES  # noqa: F401 - re-exported
