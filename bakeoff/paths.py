"""Where bakeoff keeps datasets, scratch space and results.

Defaults are relative to the working directory (the repository, for the README's commands);
``BAKEOFF_DATA_DIR``, ``BAKEOFF_RESULTS_DIR`` and ``BAKEOFF_SCRATCH_DIR`` move them, which is
how the asv benchmarks point every engine environment at the same datasets.
Where the datasets are (``BAKEOFF_DATA_DIR``, which may be object storage) is the data's own
business: :func:`datagen.storage.data_root` and :func:`datagen.storage.data_dir`, named here
too so that the runtime finds every location in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from datagen.storage import data_dir, data_root

__all__ = ["data_dir", "data_root", "results_dir", "run_log", "scratch_dir"]


def _env_path(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or default).resolve()


def results_dir() -> Path:
    return _env_path("BAKEOFF_RESULTS_DIR", "results")


def scratch_dir() -> Path:
    """Spill space for engines (DuckDB temp_directory, Spark local dir, Dask local_directory)."""
    return _env_path("BAKEOFF_SCRATCH_DIR", str(data_dir() / "_scratch"))


def run_log() -> Path:
    """Every run's record, one JSON object a line, appended and never rewritten."""
    return results_dir() / "runs.jsonl"
