"""Where datasets live: a local directory, or a prefix in S3-compatible object storage.

A data root of ``s3://bucket/prefix`` keeps every dataset under ``s3://bucket/prefix/<name>/``,
with the same files and manifest as on disk. The endpoint, region and credentials come from the
standard AWS environment variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), which every reader
here (pyarrow, Polars, s3fs) takes on its own; bakeoff never copies them anywhere.

Object storage has no rename, so a dataset is complete when its manifest exists: the generator
writes the part files first and the manifest last, and removes an old manifest before anything
else when it replaces a dataset. What bakeoff keeps beside a remote dataset (its reference
answers, its verification stamps, the generator's lock) lives on this machine, under
``<local data dir>/_remote/<bucket>/<prefix>/``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, TypeVar

from shared.errors import InputError

SCHEMES = ("s3://",)
# Characters that a glob pattern takes as operators: engines read a table as ``<dir>/*.parquet``
# (DuckDB, Polars, DataFusion, Dask: ``* ? [ ]``; Spark's Hadoop globs also ``{ }``), each
# escaping them differently if at all, so a data directory holding one is refused up front.
GLOB_CHARACTERS = "*?[]{}"
REMOTE_HOME = "_remote"  # under the local data directory: what is kept beside remote datasets
_READ_BYTES = 8 * 1024**2
Root = TypeVar("Root", Path, str)


def is_remote(location: object) -> bool:
    """Whether ``location`` names object storage rather than a local path."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def resolve_root(data_dir: str | Path | None) -> Path | str:
    """A data root as given (``--data-dir``): an ``s3://`` prefix, normalized, or a local
    directory, resolved; ``BAKEOFF_DATA_DIR``'s when none is given."""
    if data_dir is None:
        return data_root()
    if isinstance(data_dir, str) and "://" in data_dir:
        return plain_root(parse_root(data_dir), "--data-dir")
    return plain_root(Path(data_dir).resolve(), "--data-dir")


def data_root() -> Path | str:
    """Where datasets are (``BAKEOFF_DATA_DIR``, default ``data/``): a local directory,
    resolved, or an ``s3://bucket/prefix``, normalized."""
    text = os.environ.get("BAKEOFF_DATA_DIR") or "data"
    root = parse_root(text) if is_remote(text) else Path(text).resolve()
    return plain_root(root, "BAKEOFF_DATA_DIR")


def data_dir() -> Path:
    """The local data directory: the datasets' own, or, when they are in object storage, the
    one that holds what is kept beside them here (``BAKEOFF_LOCAL_DATA_DIR``, default
    ``data/``: references, stamps, spill space)."""
    root = data_root()
    if isinstance(root, Path):
        return root
    local = Path(os.environ.get("BAKEOFF_LOCAL_DATA_DIR") or "data").resolve()
    return plain_root(local, "BAKEOFF_LOCAL_DATA_DIR")


def plain_root(root: Root, source: str) -> Root:
    """``root``, unless it holds a glob character (:data:`GLOB_CHARACTERS`): then a one-line
    error naming where it came from (``source``), rather than engines that read no files."""
    if found := [c for c in GLOB_CHARACTERS if c in str(root)]:
        raise InputError(
            f"data directory {str(root)!r} ({source}) contains {' '.join(found)}, which the "
            f"engines take as a glob pattern when they read its files: use a path without any "
            f"of {' '.join(GLOB_CHARACTERS)}"
        )
    return root


def parse_root(text: str) -> str:
    """``s3://bucket/prefix/`` -> ``s3://bucket/prefix``; a one-line error for anything that
    names no bucket or another scheme."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InputError(f"{text!r} is not an object-storage address")
    if f"{scheme}://" not in SCHEMES:
        raise InputError(
            f"data root {text!r}: bakeoff reads object storage through s3:// only, not {scheme}://"
        )
    parts = [part for part in rest.split("/") if part]
    if not parts:
        raise InputError(f"data root {text!r} names no bucket (s3://bucket/prefix)")
    return f"{scheme}://" + "/".join(parts)


def join(url: str, *names: str) -> str:
    return "/".join([url.rstrip("/"), *(name.strip("/") for name in names if name)])


def bucket_path(url: str) -> str:
    """``s3://bucket/a/b`` -> ``bucket/a/b``, the path pyarrow's S3 filesystem takes."""
    return url.partition("://")[2].strip("/")


@functools.cache
def _filesystem(scheme: str, bucket: str) -> Any:
    import pyarrow.fs as pafs

    # from_uri reads AWS_ENDPOINT_URL and the region as a user's pyarrow would
    filesystem, _ = pafs.FileSystem.from_uri(f"{scheme}://{bucket}")
    return filesystem


def filesystem(url: str) -> Any:
    """The pyarrow filesystem of ``url``'s bucket (one per bucket and process)."""
    scheme = url.partition("://")[0]
    return _filesystem(scheme, bucket_path(url).split("/")[0])


def local_home(url: str, local_dir: Path) -> Path:
    """The directory on this machine that holds what bakeoff keeps beside remote ``url``."""
    return local_dir / REMOTE_HOME / bucket_path(url)


def dataset_location(root: str, name: str, local_dir: Path) -> tuple[Path, str]:
    """A dataset under remote ``root``: its local home (stamps, references) and its URL."""
    url = join(root, name)
    return local_home(url, local_dir), url


def read_text(url: str) -> str:
    """The object at ``url``; ``FileNotFoundError`` when there is none."""
    with filesystem(url).open_input_stream(bucket_path(url)) as stream:
        return stream.read().decode()


def write_text(url: str, text: str) -> None:
    with filesystem(url).open_output_stream(bucket_path(url)) as stream:
        stream.write(text.encode())


def listing(url: str) -> dict[str, tuple[int, int]]:
    """Every object under ``url``, by path relative to it: (size, modification time in ns)."""
    import pyarrow.fs as pafs

    fs, base = filesystem(url), bucket_path(url)
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return {
        info.path[len(base) + 1 :]: (int(info.size), int(info.mtime_ns or 0))
        for info in infos
        if info.type == pafs.FileType.File
    }


def sha256(url: str) -> str:
    """SHA-256 of the object at ``url``, streamed (a part file never sits whole in memory)."""
    digest = hashlib.sha256()
    with filesystem(url).open_input_stream(bucket_path(url)) as stream:
        while chunk := stream.read(_READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def delete_prefix(url: str, first: str | None = None) -> None:
    """Remove every object under ``url``: ``first`` (a manifest) before all the others, so a
    dataset being replaced never looks complete with some of its files gone."""
    fs, base = filesystem(url), bucket_path(url)
    present = listing(url)
    if first is not None and first in present:
        fs.delete_file(f"{base}/{first}")
    if present:
        fs.delete_dir_contents(base, missing_dir_ok=True)


def upload(local: Path, url: str, files: list[str], last: str) -> None:
    """Copy ``files`` (relative to ``local``) under ``url``, then ``last`` (the manifest)."""
    import pyarrow.fs as pafs

    fs, base, here = filesystem(url), bucket_path(url), pafs.LocalFileSystem()
    for name in [*files, last]:
        pafs.copy_files(
            str(local / name),
            f"{base}/{name}",
            source_filesystem=here,
            destination_filesystem=fs,
            chunk_size=_READ_BYTES,
        )
