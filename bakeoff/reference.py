"""Reference answers: each workload answered independently with pandas, stored beside the data.

pandas is none of the engines under test, so agreement with it is evidence rather than
consensus. A reference is computed once per (dataset, workload), under a lock, and written
atomically to ``<data_dir>/_reference/<dataset>/<workload>.json``; it records the dataset's
checksum so a regenerated dataset never meets a stale answer. Above ``REFERENCE_MAX_ROWS``
pandas would need more memory than the engines under test, so none is computed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pds
from filelock import FileLock

from bakeoff.validation import Digest, digest_table
from datagen.dataset import Dataset
from workloads.spec import Workload

REFERENCE_MAX_ROWS = 10_000_000


def reference_path(dataset: Dataset, workload: Workload) -> Path:
    return dataset.path.parent / "_reference" / dataset.name / f"{workload.name}.json"


def compute_reference(dataset: Dataset, workload: Workload) -> Digest:
    """Answer the workload with pandas over the dataset's Parquet files."""
    source = pds.dataset(
        dataset.path, format="parquet", partitioning="hive" if dataset.partition_by else None
    )
    frame = source.to_table(columns=list(workload.input_columns)).to_pandas(
        types_mapper=pd.ArrowDtype
    )
    answer = workload.reference(frame)
    return digest_table(pa.Table.from_pandas(answer, preserve_index=False), workload)


def reference_digest(dataset: Dataset, workload: Workload) -> Digest | None:
    """The stored reference, computed first if needed; ``None`` above the pandas limit."""
    if dataset.rows > REFERENCE_MAX_ROWS:
        return None
    path = reference_path(dataset, workload)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            stored = json.loads(path.read_text())
            if stored.get("dataset_checksum") == dataset.checksum:
                return Digest.from_dict(stored["digest"])
        digest = compute_reference(dataset, workload)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(
            json.dumps(
                {
                    "dataset_checksum": dataset.checksum,
                    "computed_with": f"pandas {pd.__version__}",
                    "digest": digest.to_dict(),
                }
            )
        )
        os.replace(partial, path)
        return digest
