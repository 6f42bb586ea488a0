"""Reference answers: each workload answered independently with pandas, stored beside the data.

pandas is none of the engines under test, so agreement with it is evidence rather than
consensus. A reference is computed once per (dataset, workload), under a lock, and the result
itself is written atomically to ``<data_dir>/_reference/<dataset>/<workload>.parquet``, with
the dataset's checksum and the result's digest in the file's metadata, so that every engine's
result can be compared with it value by value and a regenerated dataset never meets a stale
answer. Above ``REFERENCE_MAX_ROWS`` input rows pandas would need more memory than the engines
under test, so none is computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from filelock import FileLock

from bakeoff.validation import Digest, digest_table, normalize
from datagen.dataset import Dataset
from shared.lazy import lazy_import
from workloads.spec import Workload

pd = lazy_import("pandas")  # only where a reference is computed: not in asv's cell processes

REFERENCE_MAX_ROWS = 10_000_000
METADATA_KEY = b"bakeoff.reference"


@dataclass(frozen=True)
class Reference:
    """A stored reference result: where it is, and its digest (read without the rows)."""

    path: Path
    digest: Digest
    computed_with: str

    def table(self) -> pa.Table:
        """The stored rows, as :func:`bakeoff.validation.normalize` left them (sorted by key
        and then by every column) before they were written."""
        return pq.read_table(self.path)


def reference_path(dataset: Dataset, workload: Workload) -> Path:
    return dataset.path.parent / "_reference" / dataset.name / f"{workload.name}.parquet"


def read_frame(dataset: Dataset, table: str | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """One table of the dataset as a pandas DataFrame on Arrow types (every column if none);
    CSV files are read with the manifest's declared schema, as the engines are asked to."""
    file_format: str | pds.FileFormat = "parquet"
    if dataset.file_format == "csv":
        types = {name: pa.type_for_alias(kind) for name, kind in dataset.manifest["schema"].items()}
        file_format = pds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=types))
    source = pds.dataset(
        dataset.arrow_path(table),
        filesystem=dataset.arrow_filesystem,
        format=file_format,
        partitioning="hive" if dataset.partition_by else None,
    )
    return source.to_table(columns=list(columns) or None).to_pandas(types_mapper=pd.ArrowDtype)


def compute_reference(dataset: Dataset, workload: Workload) -> pa.Table:
    """Answer the workload with pandas over the dataset's Parquet files, sorted by its keys."""
    if workload.reads:
        answer = workload.reference(
            {name: read_frame(dataset, name, ()) for name in workload.reads}
        )
    else:
        answer = workload.reference(read_frame(dataset, None, workload.input_columns))
    return normalize(pa.Table.from_pandas(answer, preserve_index=False), workload)


def _stored(path: Path, dataset: Dataset, workload: Workload) -> Reference | None:
    """The reference at ``path`` if it is this workload's on this dataset and intact.

    A file that is unreadable, of another dataset or workload, or whose rows no longer give
    the digest stored with them is not used: it is a cache of an answer that can always be
    recomputed from the (verified) dataset, so it is recomputed, with a warning, rather than
    refused. Trusting it could blame an engine for a wrong answer that was the file's.
    """
    try:
        meta = json.loads(pq.read_schema(path).metadata[METADATA_KEY])
        if (meta.get("dataset_checksum"), meta.get("workload")) != (
            dataset.checksum,
            workload.name,
        ):
            problem = f"it belongs to another dataset or workload ({meta.get('workload')})"
        elif _file_hash(path) != _hash_path(path).read_text().strip():
            problem = "its bytes do not match the hash written with it (altered, or older)"
        else:
            return Reference(path, Digest.from_dict(meta["digest"]), meta["computed_with"])
    except FileNotFoundError:
        return None
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as error:
        problem = f"it is unreadable ({type(error).__name__})"
    warnings.warn(f"recomputing the reference {path}: {problem}", stacklevel=3)
    return None


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _file_hash(path: Path) -> str:
    """SHA-256 of the file: checking it costs a read, not a re-digest of millions of rows."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def reference_answer(dataset: Dataset, workload: Workload) -> Reference | None:
    """The stored reference, computed first if needed; ``None`` above the pandas limit."""
    if dataset.spec.rows > REFERENCE_MAX_ROWS:  # the scale (join: rows of x, not all tables)
        return None
    path = reference_path(dataset, workload)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if (found := _stored(path, dataset, workload)) is not None:
            return found
        table = compute_reference(dataset, workload)
        meta = {
            "dataset_checksum": dataset.checksum,
            "workload": workload.name,
            "computed_with": f"pandas {pd.__version__}",
            "digest": digest_table(table, workload, normalized=True).to_dict(),
        }
        table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta)})
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        hashed = _hash_path(partial)
        try:
            pq.write_table(table, partial)
            hashed.write_text(_file_hash(partial) + "\n")
            os.replace(hashed, _hash_path(path))  # a hash without its file is never trusted,
            os.replace(partial, path)  # and the file comes last
        finally:  # an interrupted write leaves no partial file behind
            partial.unlink(missing_ok=True)
            hashed.unlink(missing_ok=True)
        return Reference(path, Digest.from_dict(meta["digest"]), meta["computed_with"])
