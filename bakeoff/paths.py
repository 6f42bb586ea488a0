"""Where bakeoff keeps datasets, scratch space and results.

Defaults are relative to the working directory (the repository, for the README's commands);
``BAKEOFF_DATA_DIR``, ``BAKEOFF_RESULTS_DIR`` and ``BAKEOFF_SCRATCH_DIR`` move them, which is
how the asv benchmarks point every engine environment at the same datasets.
``BAKEOFF_DATA_DIR`` may also be object storage (``s3://bucket/prefix``, see
:mod:`datagen.storage`); what bakeoff keeps on this machine then goes to
``BAKEOFF_LOCAL_DATA_DIR`` (default ``data/``).
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_path(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or default).resolve()


def data_root() -> Path | str:
    """Where datasets are: a local directory, or an ``s3://bucket/prefix`` (normalized)."""
    from datagen.storage import is_remote, parse_root

    text = os.environ.get("BAKEOFF_DATA_DIR") or "data"
    return parse_root(text) if is_remote(text) else Path(text).resolve()


def data_dir() -> Path:
    """The local data directory: the datasets' own, or, when they are in object storage, the
    one that holds what is kept beside them here (references, stamps, spill space)."""
    root = data_root()
    return root if isinstance(root, Path) else _env_path("BAKEOFF_LOCAL_DATA_DIR", "data")


def results_dir() -> Path:
    return _env_path("BAKEOFF_RESULTS_DIR", "results")


def scratch_dir() -> Path:
    """Spill space for engines (DuckDB temp_directory, Spark local dir, Dask local_directory)."""
    return _env_path("BAKEOFF_SCRATCH_DIR", str(data_dir() / "_scratch"))


def run_log() -> Path:
    """Every run's record, one JSON object a line, appended and never rewritten."""
    return results_dir() / "runs.jsonl"
