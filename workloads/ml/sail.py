"""Sail answers the ml questions in Spark SQL, as Spark does (workloads/ml/sql.py with
workloads/ml/spark.py's fetch and hold), but for m4 and the library versions.

m4's statement is right on Sail for every group whose v1 and v2 both vary, but Sail's
``regr_r2(y, x)`` treats the two degenerate cases the other way round from Spark (and SQL): it
is 1 where x is constant (Spark: NULL, no regression line) and NULL where only y is constant
(Spark: 1), so the answer is wrong for such groups. The library versions are pyspark.ml, whose
estimators Sail's server refuses (``UnsupportedOperationException: ml command``): Sail ships no
ML library of its own.
"""

from workloads.ml import KMEANS_LIB, OLS_LIB, PCA_LIB, REGRESSION
from workloads.ml.spark import fetch, hold
from workloads.ml.sql import sql_queries

NO_ML_LIBRARY = (
    "Sail ships no ML library and does not run pyspark.ml (its server answers "
    "'UnsupportedOperationException: ml command')"
)
UNSUPPORTED = {
    REGRESSION.name: "Sail's regr_r2(y, x) is 1 where x is constant and NULL where only y is "
    "constant, the two cases swapped from Spark's and SQL's definition (NULL, then 1), so r2 "
    "is wrong for such groups",
    **{workload.name: NO_ML_LIBRARY for workload in (PCA_LIB, OLS_LIB, KMEANS_LIB)},
}
QUERIES = {
    name: query for name, query in sql_queries(fetch, hold).items() if name not in UNSUPPORTED
}
