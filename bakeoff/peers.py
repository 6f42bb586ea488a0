"""``bakeoff peers``: bakeoff's published number held against the plain script an engine's own
experts would write (``benchmarks/peers/<engine>_peer.py``, which imports nothing of bakeoff).

Rounds alternate the two sides on the same dataset, A B A B ...: A is bakeoff's own timing of
the cell, the path asv takes (a :class:`bakeoff.suite.PreparedWorkload` in a fresh process: a
validated run, then warm samples between ``before_sample`` and ``after_sample``); B is the peer
script in a fresh process (one cold repetition, then warm ones). The ratio is bakeoff's warm
median over the peer's: above 1.10, bakeoff is doing more work than the engine needs, until a
plan or a profile shows otherwise. A number means something only on a quiet machine, so the
share of the cores other processes used is measured before and during the comparison (both
sides' processes are this command's own and are left out), and the load average printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bakeoff import paths
from bakeoff.engines import engine_pythons
from bakeoff.load import BUSY_OTHER_SHARE, IDLE_CHECK_WINDOW_S, LoadMeter
from datagen.dataset import DatasetSpec, parse_rows
from shared.errors import InputError
from workloads import Unsupported, Workload, implementation, select_workloads

PEER_ENGINES = ("duckdb", "polars", "dask", "spark", "vaex")
FAMILIES = ("join", "window", "ml")
PEER_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"
REPOSITORY = PEER_DIR.parents[1]
# How often the load meter looks at the comparison's processes: each side's engine (a JVM, Dask
# workers) lives seconds at least, and is seen before its parent process ends.
PROCESS_POLL_S = 0.5
SUSPECT_RATIO = 1.10  # the threshold: above it, a bug in bakeoff until shown otherwise


@dataclass
class Comparison:
    """One workload's samples from both sides, over every round."""

    workload: str
    rows: int
    status: str = "ok"  # ok, skipped (no such cell) or failed (a side did not finish)
    detail: str = ""
    bakeoff_s: list[float] = field(default_factory=list)
    peer_s: list[float] = field(default_factory=list)
    peer_cold_s: list[float] = field(default_factory=list)
    ratio_by_round: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not (self.bakeoff_s and self.peer_s):
            return None
        return statistics.median(self.bakeoff_s) / statistics.median(self.peer_s)

    def summary(self) -> dict[str, Any]:
        medians = {
            "bakeoff_median_s": statistics.median(self.bakeoff_s) if self.bakeoff_s else None,
            "peer_median_s": statistics.median(self.peer_s) if self.peer_s else None,
        }
        return {**asdict(self), **medians, "ratio": self.ratio}


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_json(command: list[str], env: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """Run a side in a fresh process; its JSON lines, or RuntimeError with its last words."""
    done = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{Path(command[1]).name} exited {done.returncode}: {last}")
    return lines


def _run_json_text(command: list[str]) -> str:
    done = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise InputError(f"{Path(command[1]).name} cannot list its questions: {done.stderr}")
    return done.stdout


def bakeoff_side(python: str, engine: str, workload: Workload, rows: int, samples: int) -> list:
    """Bakeoff's warm samples of the cell, exactly as asv takes them, in a fresh process."""
    env = {**os.environ, "BAKEOFF_ENGINE": engine}
    command = [python, "-m", "bakeoff.peers", workload.name, str(rows), str(samples)]
    return [line["seconds"] for line in _run_json(command, env, _timeout(rows, samples))]


def peer_side(
    python: str, engine: str, workload: Workload, dataset: Path, rows: int, samples: int
) -> tuple[float, list[float]]:
    """The peer script's cold repetition and its warm ones, in a fresh process."""
    script = PEER_DIR / f"{engine}_peer.py"
    command = [python, str(script), str(dataset), "--workload", workload.name]
    lines = _run_json(
        [*command, "--repeat", str(samples)], dict(os.environ), _timeout(rows, samples)
    )
    return lines[0]["seconds"], [line["seconds"] for line in lines[1:]]


def _timeout(rows: int, samples: int) -> float:
    from bakeoff.cells import default_timeout

    return default_timeout(rows) * (samples + 2)


def compare(
    engine: str, workloads: list[Workload], scale: int, rounds: int, samples: int
) -> list[Comparison]:
    """Every workload, ``rounds`` times A then B, on the dataset bakeoff runs it on."""
    from bakeoff.reference import reference_answer
    from datagen.cli import usable_dataset

    python = engine_pythons()[engine]
    script = [python, str(PEER_DIR / f"{engine}_peer.py")]
    answered = json.loads(_run_json_text([*script, "--list"]))
    cells = []
    for workload in workloads:
        rows = workload.suite_rows(scale)
        comparison = Comparison(workload.name, rows)
        query = implementation(engine, workload)
        if isinstance(query, Unsupported):
            comparison.status, comparison.detail = "skipped", f"unsupported: {query.reason}"
            cells.append((comparison, None))
            continue
        if workload.name not in answered:
            comparison.status, comparison.detail = "skipped", f"no peer script for {engine}"
            cells.append((comparison, None))
            continue
        spec = DatasetSpec(table=workload.table, rows=rows, file_format=workload.file_format)
        dataset = usable_dataset(spec, paths.data_root())
        reference_answer(dataset, workload)  # once, here: neither side waits for pandas
        cells.append((comparison, dataset))
    for _ in range(rounds):
        for comparison, dataset in cells:
            if comparison.status != "ok":
                continue
            workload = next(w for w in workloads if w.name == comparison.workload)
            try:
                ours = bakeoff_side(python, engine, workload, comparison.rows, samples)
                cold, theirs = peer_side(
                    python, engine, workload, dataset.path, comparison.rows, samples
                )
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                comparison.status, comparison.detail = "failed", str(error)
                continue
            comparison.bakeoff_s += ours
            comparison.peer_s += theirs
            comparison.peer_cold_s.append(cold)
            comparison.ratio_by_round.append(statistics.median(ours) / statistics.median(theirs))
    return [comparison for comparison, _ in cells]


def _seconds(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}" if values else "-"


def print_table(comparisons: list[Comparison]) -> None:
    print(
        f"{'workload':<12} {'rows':>10} {'bakeoff s':>10} {'peer s':>10} {'ratio':>6}  "
        f"{'bakeoff range':<14} {'peer range':<14} ratio by round"
    )
    for c in comparisons:
        if c.status != "ok" or c.ratio is None:
            print(f"{c.workload:<12} {c.rows:>10} {c.status}: {c.detail}")
            continue
        summary = c.summary()
        flag = "  above 1.10: bakeoff does more work?" if c.ratio > SUSPECT_RATIO else ""
        rounds = ", ".join(f"{r:.2f}" for r in c.ratio_by_round)
        print(
            f"{c.workload:<12} {c.rows:>10} {summary['bakeoff_median_s']:>10.3f} "
            f"{summary['peer_median_s']:>10.3f} {c.ratio:>6.2f}  {_seconds(c.bakeoff_s):<14} "
            f"{_seconds(c.peer_s):<14} {rounds}{flag}"
        )


def cmd_peers(args: argparse.Namespace) -> int:
    workloads = select_workloads(args.workloads)
    other = [w.name for w in workloads if w.family not in FAMILIES]
    if other:
        raise InputError(f"peers covers the {', '.join(FAMILIES)} families, not {other[0]}")
    if args.engine not in engine_pythons():
        raise InputError(
            f"{args.engine} is not installed here (or set BAKEOFF_ENGINE_PYTHONS="
            f"{args.engine}=/path/to/python)"
        )
    if args.rounds < 1 or args.samples < 1:
        raise InputError("--rounds and --samples must be at least 1")
    count, load_start = cores(), os.getloadavg()
    meter = LoadMeter(poll_s=PROCESS_POLL_S)
    if (before := meter.lap("before", IDLE_CHECK_WINDOW_S)).busy:
        print(_busy_warning(before.other_share, count), file=sys.stderr, flush=True)
    started = time.time()
    try:
        comparisons = compare(args.engine, workloads, args.rows, args.rounds, args.samples)
        load_end = os.getloadavg()
        during = meter.lap("during")
    finally:
        meter.close()
    if during.busy:
        print(_busy_warning(during.other_share, count), file=sys.stderr, flush=True)
    if args.json:
        print(
            json.dumps(
                {
                    "engine": args.engine,
                    "rows": args.rows,
                    "rounds": args.rounds,
                    "samples": args.samples,
                    "cores": count,
                    "load_average_start": load_start,
                    "load_average_end": load_end,
                    "quiet": not meter.busy,
                    "machine_load": meter.recorded(),
                    "seconds": time.time() - started,
                    "workloads": [c.summary() for c in comparisons],
                }
            )
        )
    else:
        print(
            f"{args.engine} against its peer script, {args.rows:g} rows (ml at its suite share), "
            f"{args.rounds} rounds of {args.samples} warm samples a side; ratio = bakeoff / peer"
        )
        print(f"load average at start: {' '.join(f'{v:.2f}' for v in load_start)} ({count} cores)")
        print_table(comparisons)
        print(f"load average at end:   {' '.join(f'{v:.2f}' for v in load_end)}")
        print(
            f"other processes' share of the cores during the comparison: {during.other_share:.0%}"
        )
    return 1 if any(c.status == "failed" for c in comparisons) else 0


def _busy_warning(other_share: float, count: int) -> str:
    return (
        f"warning: other processes used {other_share:.0%} of the {count} cores (above "
        f"{BUSY_OTHER_SHARE:.0%}): these ratios measure the other load, not bakeoff"
    )


def _rows_option(text: str) -> int:
    try:
        return parse_rows(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def configure(sub: argparse._SubParsersAction) -> None:
    peers = sub.add_parser(
        "peers", help="time bakeoff's number against the engine experts' plain script"
    )
    peers.add_argument("--engine", required=True, choices=PEER_ENGINES)
    peers.add_argument(
        "--workloads",
        action="append",
        required=True,
        help="join, window, ml or workload names; repeat or separate with commas",
    )
    peers.add_argument("--rows", type=_rows_option, default=parse_rows("1e7"))
    peers.add_argument("--rounds", type=int, default=3, help="A B rounds (default 3)")
    peers.add_argument(
        "--samples", type=int, default=3, help="warm samples per side and round (default 3)"
    )
    peers.add_argument("--json", action="store_true", help="one JSON object")
    peers.set_defaults(handler=cmd_peers)


def sample(workload: str, rows: int, samples: int) -> None:
    """Side A in this process: the cell prepared and validated as under asv, then ``samples``
    warm samples timed around ``run_once`` alone, one JSON line each."""
    from bakeoff.cells import sample_timer
    from bakeoff.suite import PreparedWorkload

    prepared = PreparedWorkload(workload, rows)
    try:
        for _ in range(samples):
            prepared.before_sample()
            began = sample_timer()
            prepared.run_once()
            seconds = sample_timer() - began
            prepared.after_sample()
            print(json.dumps({"workload": workload, "seconds": seconds}), flush=True)
    finally:
        prepared.close()


if __name__ == "__main__":
    sample(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
