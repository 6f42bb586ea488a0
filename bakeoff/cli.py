"""The ``bakeoff`` command: generate data, run workloads, list the matrix, benchmark, report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bakeoff.errors import InputError


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit code 2, without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    from bakeoff import commands
    from datagen import cli as datagen_cli

    parser = OneLineParser(
        prog="bakeoff",
        description="Fair, validated benchmarks of DuckDB, Polars, Dask, Spark and Vaex.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    datagen_cli.configure_parser(
        sub.add_parser("datagen", help="write a synthetic, seeded, partitioned Parquet dataset")
    )
    commands.configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except InputError as exc:
        print(f"bakeoff: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bakeoff: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
