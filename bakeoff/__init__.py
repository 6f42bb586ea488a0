"""bakeoff: fair, validated comparisons of big-data engines on identical Parquet data."""

__version__ = "0.1.0"
