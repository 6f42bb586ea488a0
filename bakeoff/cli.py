"""The ``bakeoff`` command: generate data, run workloads, list the matrix, benchmark, report."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from shared.errors import InputError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit code 2, without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand, each added by the module that runs it."""
    from bakeoff import bench, commands, frontier, peers, report
    from datagen import cli as datagen_cli

    parser = OneLineParser(
        prog="bakeoff",
        description="Fair, validated benchmarks of DuckDB, Polars, Dask, Spark and Vaex.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    datagen_cli.configure_parser(
        sub.add_parser("datagen", help="write a synthetic, seeded, partitioned Parquet dataset")
    )
    for module in (commands, bench, frontier, report, peers):
        module.configure(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` runs: workers and their engines
    are killed, temporary files removed, and finished records kept."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def describe_os_error(error: OSError) -> str:
    """One line for a failure of the machine rather than of the input: what, where, the fix."""
    where = f" ({error.filename})" if error.filename else ""
    text = f"{error.strerror or error}{where}"
    if error.errno in FULL_DISK:
        text += ": free some space or point --data-dir / BAKEOFF_DATA_DIR at a larger disk"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"bakeoff: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"bakeoff: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"bakeoff: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
