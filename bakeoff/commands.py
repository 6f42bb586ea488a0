"""The ``bakeoff`` subcommands other than ``datagen``: run, workloads, bench, report."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bakeoff import paths
from bakeoff.engines import (
    ENGINE_NAMES,
    EngineOptions,
    create_engine,
    is_installed,
    parse_options,
)
from bakeoff.runner import Limits, RunRecord, append_to_log, default_memory_limit
from shared.errors import InputError
from shared.units import format_bytes, positive_number
from workloads import Unsupported, Workload, all_workloads, implementation, select_workloads

T = TypeVar("T")


def describe(record: RunRecord) -> str:
    wall = f"{record.wall_s:.3f} s" if record.wall_s is not None else "-"
    peak = format_bytes(record.peak_bytes) if record.peak_bytes is not None else "-"
    line = (
        f"{record.engine:<7} {record.workload:<12} rows={record.rows:<11} "
        f"{record.status:<13} {wall:>11} {peak:>12}  {record.detail}"
    )
    if record.digest:
        sums = ", ".join(
            f"sum({name})={value:.10g}"
            for name, value in record.digest["sums"].items()
            if value is not None
        )
        line += f"\n        digest: {record.digest['rows']} rows; {sums}"
    return line


def writable_log(log: Path) -> Path:
    """The run log, checked before any work: a record nobody can write is a record lost."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a"):
            pass
    except OSError as error:
        raise InputError(
            f"cannot write the run log {log}: {error.strerror}; set BAKEOFF_RESULTS_DIR to a "
            "writable directory (or pass --no-log)"
        ) from None
    return log


def add_memory_cap_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-cap",
        type=memory_cap_option,
        default=None,
        metavar="SIZE",
        help="cap the whole run (e.g. 4GiB): every engine's native limit is derived from it and "
        "a run that crosses it is recorded out_of_memory (same as BAKEOFF_MEMORY_CAP)",
    )


def argument_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a parser that raises InputError, so the option is refused
    while the command line is read, before any work, with the parser's own words (argparse
    shows an ArgumentTypeError's message, but turns any other ValueError into 'invalid')."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


@argument_type
def memory_cap_option(text: str) -> str:
    """Check a --memory-cap and set it for this process and everything it starts."""
    from bakeoff.engines.base import MEMORY_CAP_VARIABLE, parse_memory_cap

    parse_memory_cap(text, "--memory-cap")
    os.environ[MEMORY_CAP_VARIABLE] = text
    return text


@argument_type
def kill_worker_option(text: str) -> str:
    """Check a --kill-worker-after and set it for this process and the workers it starts."""
    from bakeoff.chaos import KILL_AFTER_VARIABLE, parse_seconds

    parse_seconds(text, "--kill-worker-after")
    os.environ[KILL_AFTER_VARIABLE] = text
    return text


@argument_type
def timeout_option(text: str) -> float:
    """--timeout, in seconds, parsed as ``BAKEOFF_TIMEOUT`` is."""
    from bakeoff.cells import parse_timeout

    return parse_timeout(text, "--timeout")


@argument_type
def memory_limit_option(text: str) -> int:
    """--memory-limit, given in GiB, in bytes: positive, finite, and no more than the machine
    has (see :func:`bakeoff.engines.base.within_memory`)."""
    from bakeoff.engines.base import within_memory

    gib = positive_number(text, "--memory-limit", "GiB")
    return within_memory(gib * 2**30, "--memory-limit", text)


@argument_type
def factor_option(text: str) -> float:
    """A slowdown factor (--factor, --ab-factor): a ratio of times, 1 or more."""
    return positive_number(text, "a factor", minimum=1.0)


def by_table(
    workloads: list[Workload], chosen: str | None
) -> dict[tuple[str, str], list[Workload]]:
    """The workloads grouped by the generated table and file format they read (etl_e5 reads
    the CSV files), each group run on its own dataset; ``--table``, when given, must be the
    table of every one of them."""
    wrong = next((w for w in workloads if chosen is not None and w.table != chosen), None)
    if wrong is not None:
        raise InputError(
            f"{wrong.name} reads the {wrong.table} table, not {chosen}: "
            f"drop --table or choose workloads of the {chosen} table"
        )
    groups: dict[tuple[str, str], list[Workload]] = {}
    for workload in workloads:
        groups.setdefault((workload.table, workload.file_format), []).append(workload)
    return groups


def cmd_run(args: argparse.Namespace) -> int:
    from bakeoff.cells import default_timeout
    from bakeoff.reference import reference_answer
    from bakeoff.supervisor import run_supervised
    from datagen import validate
    from datagen.cli import data_root, spec_from_args, usable_dataset

    if not is_installed(args.engine):
        raise InputError(
            f"{args.engine} is not installed in this environment "
            f"(pip install 'bakeoff[{args.engine}]')"
        )
    groups = by_table(select_workloads(args.workload), args.table)
    configured = EngineOptions.from_environment(args.engine)
    options = EngineOptions(
        address=args.address or configured.address,
        extra={**configured.extra, **parse_options(args.option)},
    )
    create_engine(args.engine, options)  # checks the options before any data is made
    specs = {
        (table, form): spec_from_args(
            argparse.Namespace(
                **{
                    **vars(args),
                    "table": table,
                    **({"file_format": form} if form != "parquet" else {}),
                }
            )
        )
        for table, form in groups
    }
    for spec in specs.values():  # every spec and what must be writable, before any work
        validate(spec, data_root(args.data_dir))
    log = None if args.no_log else writable_log(paths.run_log())
    memory = args.memory_limit if args.memory_limit is not None else default_memory_limit()
    failed = False
    for key, workloads in groups.items():
        dataset = usable_dataset(specs[key], args.data_dir)
        for workload in workloads:  # computed here, once, so no timed run waits for pandas
            reference_answer(dataset, workload)
        timeout = args.timeout if args.timeout is not None else default_timeout(specs[key].rows)
        for record in run_supervised(  # each record is kept as soon as it is known
            args.engine,
            options,
            dataset,
            workloads,
            Limits(timeout_s=timeout, memory_bytes=memory),
            share_session=args.share_session,
        ):
            if log is not None:
                append_to_log(record, log)
            print(record.to_json() if args.json else describe(record), flush=True)
            failed |= record.status not in ("ok", "unsupported", "recovered")
    return 1 if failed else 0


def cmd_workloads(args: argparse.Namespace) -> int:
    workloads = list(all_workloads().values())
    cells = {
        (w.name, engine): implementation(engine, w) for w in workloads for engine in ENGINE_NAMES
    }
    if args.json:
        print(
            json.dumps(
                {
                    w.name: {
                        "question": w.question,
                        "sql": w.sql,
                        "engines": {
                            engine: (
                                "implemented"
                                if not isinstance(cell, Unsupported)
                                else f"unsupported: {cell.reason}"
                            )
                            for engine in ENGINE_NAMES
                            for cell in [cells[w.name, engine]]
                        },
                    }
                    for w in workloads
                },
                indent=2,
            )
        )
        return 0
    print(f"{'workload':<12} " + " ".join(f"{engine:<8}" for engine in ENGINE_NAMES) + " question")
    notes = []
    for w in workloads:
        marks = []
        for engine in ENGINE_NAMES:
            cell = cells[w.name, engine]
            if isinstance(cell, Unsupported):
                notes.append(f"  {engine} {w.name}: unsupported, {cell.reason}")
            marks.append(f"{'-' if isinstance(cell, Unsupported) else 'yes':<8}")
        print(f"{w.name:<12} " + " ".join(marks) + f" {w.question}")
    print("\n".join(notes) if notes else "every cell is implemented")
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    from datagen.cli import add_dataset_arguments

    run = sub.add_parser("run", help="run workloads on one engine in this environment")
    run.add_argument("--engine", required=True, choices=ENGINE_NAMES)
    run.add_argument(
        "--workload",
        action="append",
        required=True,
        help="workload, family or 'all'; repeat or separate with commas",
    )
    add_dataset_arguments(run)
    run.set_defaults(table=None)  # by default, the table the chosen workloads read
    run.add_argument(
        "--timeout",
        type=timeout_option,
        default=None,
        help="seconds per workload before it is recorded as a timeout (default by scale: "
        "600 up to 1e7 rows, 1800 up to 1e8, 3600 beyond, as db-benchmark)",
    )
    run.add_argument(
        "--memory-limit",
        type=memory_limit_option,
        default=None,
        metavar="GIB",
        help="process-tree memory limit, at most the physical memory; default 90%% of it",
    )
    add_memory_cap_argument(run)
    run.add_argument(
        "--address",
        default=None,
        help="an existing cluster: spark://host:port or tcp://host:port (dask)",
    )
    run.add_argument(
        "--kill-worker-after",
        type=kill_worker_option,
        default=None,
        metavar="TIME",
        help="fault tolerance: kill one worker of the --address cluster this long (2, 1.5s, "
        "500ms) into each run; recorded as recovered when the answer stays right (same as "
        "BAKEOFF_CHAOS_KILL_AFTER)",
    )
    run.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="engine-specific option, e.g. engine=streaming for polars",
    )
    run.add_argument(
        "--share-session",
        action="store_true",
        help="run all workloads in one engine session (faster; memory peaks then start "
        "from what earlier workloads left behind)",
    )
    run.add_argument("--json", action="store_true", help="one JSON object per workload")
    run.add_argument(
        "--no-log",
        action="store_true",
        help=f"do not append to the run log ({paths.run_log().name})",
    )
    run.set_defaults(handler=cmd_run)

    matrix = sub.add_parser("workloads", help="print the engine x workload matrix")
    matrix.add_argument("--json", action="store_true")
    matrix.set_defaults(handler=cmd_workloads)


__all__ = ["configure"]
