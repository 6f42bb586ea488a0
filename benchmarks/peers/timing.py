"""The loop every peer script shares: start the engine once, then time the question from the
Parquet files to its sink, one cold and ``--repeat`` warm repetitions, one JSON line each."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Question = Callable[[Any, Path], Any]  # (session, dataset directory) -> the computed result


def files(data: Path, table: str | None = None) -> str:
    """A glob of one table's Parquet files (join: x/, small/, medium/, big/)."""
    return str((data / table if table else data) / "*.parquet")


def main(
    start: Callable[[], Any],
    questions: dict[str, Question],
    rows: Callable[[Any, Any], int],
    drop: Callable[[Any, Any], None] = lambda session, result: None,
    stop: Callable[[Any], None] = lambda session: None,
) -> None:
    """Parse ``DATA --workload NAME [--repeat N]`` and time it. ``rows`` and ``drop`` (count
    the result's rows, release what the sink holds) run after the clock stops.

    Rows are counted after the cold repetition and the last one only. Where counting runs
    the plan again (Spark), a count between warm repetitions would be one more untimed
    execution before each of them, warming the JIT further than bakeoff's samples, which
    follow one another as asv takes them (join_q2's warm runs in one session go from 2.8 s
    to 1.8 s over seven executions). After the cold one it mirrors bakeoff's read-back."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path, nargs="?", help="the dataset directory")
    parser.add_argument("--workload", choices=sorted(questions))
    parser.add_argument("--repeat", type=int, default=3, help="warm repetitions after the cold")
    parser.add_argument("--list", action="store_true", help="print the questions answered")
    args = parser.parse_args()
    if args.list:
        print(json.dumps(sorted(questions)))
        return
    if args.data is None or args.workload is None:
        parser.error("give the dataset directory and --workload (or --list)")
    question = questions[args.workload]
    session = start()
    try:
        for repetition in range(args.repeat + 1):
            began = time.perf_counter()
            result = question(session, args.data)
            seconds = time.perf_counter() - began
            line = {
                "workload": args.workload,
                "repetition": repetition,
                "cold": repetition == 0,
                "seconds": seconds,
            }
            if repetition in (0, args.repeat):
                line["rows"] = rows(session, result)
            drop(session, result)
            print(json.dumps(line), flush=True)
    finally:
        stop(session)
