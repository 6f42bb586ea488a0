"""``bakeoff datagen``: generate (or find) a dataset and say where it is.

The dataset path is the only thing printed on stdout, so ``DIR=$(bakeoff datagen ...)`` works;
the summary goes to stderr with the progress bar. A dataset whose files no longer match its
manifest is regenerated here (``--verify`` only checks), while the commands that read data
refuse it with the command that repairs it (:func:`usable_dataset`).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from datagen import TABLES, ensure_dataset, generate, storage, validate
from datagen.dataset import (
    FILE_FORMATS,
    MANIFEST_NAME,
    Dataset,
    DatasetError,
    DatasetSpec,
    format_rows,
    parse_rows,
)
from shared.units import format_bytes

DEFAULTS = DatasetSpec()


def _rows(text: str) -> int:
    """A row count: ``10000``, ``1e7``, ``2.5e6`` or a named scale (``tiny``)."""
    try:
        return parse_rows(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(text: str) -> int:
    """A count written ``100`` or ``1e2``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected a whole number like 100 or 1e2, not {text!r}")
    return int(value)


def _number(kind: Callable[[str], float | int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, not {text!r}") from None

    return parse


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose a dataset (its spec) and where datasets live."""
    parser.add_argument("--table", default=DEFAULTS.table, choices=sorted(TABLES))
    parser.add_argument(
        "--rows", type=_rows, default=DEFAULTS.rows, help="row count: 1e7, 10000 or tiny"
    )
    parser.add_argument(
        "--k", type=_whole_number, default=DEFAULTS.k, help="number of groups (K; groupby only)"
    )
    parser.add_argument(
        "--null-pct",
        type=_number(float),
        default=None,
        help="percent of id values and of value rows that are null (groupby; window: x; "
        "events: value, default 5; else default 0)",
    )
    parser.add_argument(
        "--dup-pct",
        type=_number(float),
        default=None,
        help="percent of rows that re-send an earlier event, 0 to 50 (events; default 2)",
    )
    parser.add_argument(
        "--format",
        dest="file_format",
        default=DEFAULTS.file_format,
        choices=FILE_FORMATS,
        help="part file format (csv: events only)",
    )
    parser.add_argument("--sorted", action="store_true", help="sort rows by id1 .. id6 (groupby)")
    parser.add_argument("--seed", type=_number(int), default=DEFAULTS.seed)
    parser.add_argument(
        "--partition-by", metavar="COLUMN", help="hive-partition by a column (groupby)"
    )
    parser.add_argument(
        "--rows-per-file",
        type=_whole_number,
        default=DEFAULTS.rows_per_file,
        help="most rows in one part file",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="output root, a directory or s3://bucket/prefix (default: $BAKEOFF_DATA_DIR)",
    )


def spec_from_args(args: argparse.Namespace) -> DatasetSpec:
    """The spec named by the options of :func:`add_dataset_arguments`."""
    return DatasetSpec(
        table=args.table,
        rows=args.rows,
        k=args.k,
        null_pct=args.null_pct,
        sorted=args.sorted,
        seed=args.seed,
        partition_by=args.partition_by,
        rows_per_file=args.rows_per_file,
        dup_pct=args.dup_pct,
        file_format=args.file_format,
    )


def data_root(data_dir: str | Path | None) -> Path | str:
    """Where datasets go: ``--data-dir`` or ``BAKEOFF_DATA_DIR`` (default ``data/``), a
    directory or an ``s3://`` prefix."""
    return storage.resolve_root(data_dir)


def locate(spec: DatasetSpec, root: Path | str) -> tuple[Path, str | None]:
    """Where ``spec``'s dataset is under ``root``: its directory and, in object storage, its
    ``s3://`` prefix (the directory is then where this machine keeps what belongs beside it)."""
    if isinstance(root, str):
        return storage.dataset_location(root, spec.name, storage.data_dir())
    return root / spec.name, None


def exists(path: Path, url: str | None) -> bool:
    """Whether anything of the dataset is there (object storage: its manifest)."""
    if url is None:
        return path.exists()
    try:
        storage.read_text(storage.join(url, MANIFEST_NAME))
    except FileNotFoundError:
        return False
    return True


def datagen_command(spec: DatasetSpec, data_dir: Path | str | None = None) -> str:
    """The ``bakeoff datagen`` command line that (re)generates ``spec``'s dataset."""
    defaults = DatasetSpec(table=spec.table)
    options = {
        "--table": spec.table,
        "--rows": format_rows(spec.rows),
        "--k": None if spec.k == DEFAULTS.k else format_rows(spec.k),
        "--null-pct": None if spec.null_pct == defaults.null_pct else f"{spec.null_pct:g}",
        "--dup-pct": None if spec.dup_pct == defaults.dup_pct else f"{spec.dup_pct:g}",
        "--format": None if spec.file_format == DEFAULTS.file_format else spec.file_format,
        "--seed": None if spec.seed == DEFAULTS.seed else str(spec.seed),
        "--partition-by": spec.partition_by,
        "--rows-per-file": (
            None if spec.rows_per_file == DEFAULTS.rows_per_file else str(spec.rows_per_file)
        ),
        "--data-dir": None if data_dir is None or data_dir == storage.data_root() else data_dir,
    }
    # quoted for a POSIX shell, so the line can be pasted whatever the path holds
    words = [f"{name} {shlex.quote(str(value))}" for name, value in options.items() if value]
    return " ".join(["bakeoff datagen", *words, *(["--sorted"] if spec.sorted else [])])


def usable_dataset(spec: DatasetSpec, data_dir: Path | str | None = None) -> Dataset:
    """The dataset of ``spec``, generated if missing, and checked against its manifest.

    A dataset that is there but does not match its manifest is refused with the command that
    regenerates it, never read and never silently replaced: something outside bakeoff changed
    it (a disk, a person, another tool), and the user should know before a number depends on it.
    """
    root = data_root(data_dir)
    path, url = locate(spec, root)
    try:
        if exists(path, url):
            Dataset.open(path, url).verify()
        dataset = ensure_dataset(spec, root)
        dataset.verify()
    except DatasetError as problem:
        fix = datagen_command(spec, data_dir and root)
        raise DatasetError(f"{problem}; regenerate it with `{fix}`") from None
    return dataset


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``datagen`` options to ``parser`` and make :func:`run` its handler."""
    add_dataset_arguments(parser)
    parser.add_argument(
        "--jobs", type=_number(int), default=None, help="worker processes (default: all cores)"
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if complete")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="only check the dataset's files against its manifest (SHA-256 of every file)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: on a terminal, outside CI)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate or reuse the dataset; its path on stdout, a summary on stderr."""
    spec = spec_from_args(args)
    root = data_root(args.data_dir)
    validate(spec, root)
    path, url = locate(spec, root)
    if args.verify:
        return verify(spec, path, url, args.data_dir and root)
    force = args.force
    if not force and exists(path, url):
        try:
            Dataset.open(path, url).verify()
        except DatasetError as problem:
            print(f"regenerating: {problem}", file=sys.stderr, flush=True)
            force = True
    result = generate(spec, root, jobs=args.jobs, force=force, progress=args.progress)
    dataset = result.dataset
    print(dataset.location)
    summary = (
        f"{'generated' if result.generated else 'reused'} {dataset.name}: "
        f"{dataset.rows:,} rows, {dataset.file_count} files, "
        f"{dataset.size_bytes:,} bytes ({format_bytes(dataset.size_bytes)}), {result.seconds:.2f} s"
    )
    if result.generated:
        summary += f", {dataset.rows / max(result.seconds, 1e-9):,.0f} rows/s"
    print(summary, file=sys.stderr)
    return 0


def verify(spec: DatasetSpec, path: Path, url: str | None, data_dir: Path | str | None) -> int:
    """``--verify``: hash every file of the dataset against its manifest; never writes data."""
    fix = datagen_command(spec, data_dir)
    if not exists(path, url):
        raise DatasetError(f"there is no dataset {url or path}; generate it with `{fix}`")
    try:
        dataset = Dataset.open(path, url)
        dataset.verify(full=True)
    except DatasetError as problem:
        raise DatasetError(f"{problem}; regenerate it with `{fix}`") from None
    print(dataset.location)
    print(
        f"verified {dataset.name}: {dataset.file_count} files match their manifest's SHA-256",
        file=sys.stderr,
    )
    return 0
