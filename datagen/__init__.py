"""Synthetic, seeded Parquet datasets that every engine reads identically.

``ensure_dataset(spec)`` returns the finished dataset of ``spec``, generating it only if no
complete copy exists (:mod:`datagen.api`). The names below load on first use: a process that
only reads a dataset's description (asv's per-cell processes, :mod:`datagen.dataset`) does not
import the generators, pyarrow and numpy with the package.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the module that defines it.
_HOMES = {
    **dict.fromkeys(("Dataset", "DatasetSpec", "parse_rows"), "datagen.dataset"),
    "FilePlan": "datagen.table",
    "Materialized": "datagen.writer",
    **dict.fromkeys(
        ("TABLES", "build_chunk", "ensure_dataset", "generate", "plan_files", "validate"),
        "datagen.api",
    ),
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'datagen' has no attribute {name!r}")
