"""``bakeoff frontier``: where each engine stops on this machine, under memory caps.

For each cap, engine and family, the family's workloads run one by one at increasing scales
(``bakeoff run --memory-cap``, with the Python that has the engine) until a scale does not
complete: a workload out of memory, timed out, failed or wrong. The rest of that scale and the
larger scales are then not run, and say so: what cannot finish 1e7 rows under a cap will not
finish 1e8. Caps go from the largest down, and what failed under a larger cap is not run
again under a smaller one: less memory does not make an engine finish. Every record goes
to the run log like any ``bakeoff run``; :func:`frontier` reads the log back into the table the
report draws (scale down, caps across, each cell completed with its time or labelled with its
failure), so a frontier measured in several sittings, or on several commits, is one table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
from dataclasses import dataclass, field

from bakeoff import paths
from bakeoff.engines import ENGINE_NAMES, engine_pythons
from bakeoff.runner import DamagedRecord, RunRecord
from datagen.dataset import format_rows, parse_rows
from shared.errors import InputError
from shared.units import format_bytes, parse_bytes
from workloads import Workload, select_workloads

CAP_KEY = "memory_cap_bytes"  # where every capped record keeps its cap (bakeoff.runner)
COMPLETED = ("ok", "unsupported", "recovered")  # unsupported: not this engine's question


@dataclass
class FrontierCell:
    """One engine, family, cap and scale: the newest record of each workload run there."""

    engine: str
    family: str
    cap_bytes: int
    rows: int
    records: dict[str, RunRecord] = field(default_factory=dict)

    @property
    def answered(self) -> list[RunRecord]:
        return [r for r in self.records.values() if r.status != "unsupported"]

    @property
    def failure(self) -> RunRecord | None:
        return next((r for _, r in sorted(self.records.items()) if r.status not in COMPLETED), None)

    @property
    def completed(self) -> bool:
        return self.failure is None and bool(self.answered)

    @property
    def total_s(self) -> float:
        return sum(r.wall_s or 0.0 for r in self.answered)

    @property
    def peak_bytes(self) -> int:
        return max((r.peak_bytes or 0 for r in self.answered), default=0)

    def text(self) -> str:
        """Completed with its time and peak, or the first failure, by workload."""
        if (failed := self.failure) is not None:
            return f"{failed.status} ({failed.workload})"
        if not self.answered:
            return "unsupported"
        names = ", ".join(r.workload.removeprefix(f"{self.family}_") for r in self.answered)
        return (  # which questions: cells of one family may hold different ones
            f"completed {names} in {self.total_s:.3g} s; peak {format_bytes(self.peak_bytes)}"
        )


def frontier(records: list[RunRecord]) -> dict[tuple[str, str, int, int], FrontierCell]:
    """The capped records of the run log as cells, keyed (engine, family, cap, rows)."""
    from bakeoff.report.table import FAULT_INJECTION, family_of

    cells: dict[tuple[str, str, int, int], FrontierCell] = {}
    for record in sorted(records, key=lambda r: r.started_at):
        cap = (record.limits or {}).get(CAP_KEY)
        if (
            cap is None
            or record.provenance.get("asv_env_name")
            or FAULT_INJECTION in (record.settings or {})
        ):
            continue
        family = family_of(record.workload)
        key = (record.engine, family, int(cap), record.rows)
        cell = cells.setdefault(key, FrontierCell(record.engine, family, int(cap), record.rows))
        cell.records[record.workload] = record  # the newest run of each workload wins
    return cells


def stopped_at(
    cells: dict[tuple[str, str, int, int], FrontierCell], engine: str, family: str, cap: int
) -> FrontierCell | None:
    """The smallest scale this engine did not complete for the family under this cap or, as
    :func:`cmd_frontier` then runs nothing larger under a smaller one, under a larger cap."""
    failed = [
        cell
        for (e, f, c, _), cell in cells.items()
        if (e, f) == (engine, family) and c >= cap and not cell.completed
    ]
    return min(failed, key=lambda cell: (cell.rows, -cell.cap_bytes), default=None)


# -- running ---------------------------------------------------------------------------------
def run_scale(
    engine: str, python: str, workloads: list[Workload], rows: int, cap: str, timeout: float
) -> list[RunRecord]:
    """One ``bakeoff run`` of these workloads at ``rows`` under ``cap``; its records."""
    command = [
        *(python, "-m", "bakeoff", "run", "--engine", engine, "--rows", str(rows), "--json"),
        *("--workload", ",".join(w.name for w in workloads)),
        *("--memory-cap", cap, "--timeout", str(timeout)),
    ]
    print("+ " + " ".join(command[1:]), flush=True)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    ) as process:
        try:
            out, err = process.communicate()
        except BaseException:  # Ctrl-C, SIGTERM: the run ends its worker and engine itself,
            process.terminate()  # which a SIGKILL (subprocess.run's) would leave orphaned
            process.communicate(timeout=120)
            raise
    records = []
    for line in out.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(DamagedRecord):  # an engine's own output, not a record
                records.append(RunRecord.from_json(line))
    if not records:  # refused before any run (bad input, no data): say why and stop here
        raise InputError(f"{engine} at {format_rows(rows)}: {err.strip()[-500:]}")
    return records


def cmd_frontier(args: argparse.Namespace) -> int:
    caps = [part.strip() for part in args.caps.split(",") if part.strip()]
    for cap in caps:
        parse_bytes(cap)  # a bad cap is refused before anything runs
    try:
        scales = sorted({parse_rows(part) for part in args.rows.split(",") if part.strip()})
    except ValueError as error:
        raise InputError(str(error)) from None
    workloads = select_workloads([args.workloads])
    engines = [e.strip() for e in args.engines.split(",")] if args.engines else ENGINE_NAMES
    pythons = engine_pythons()
    if missing := [e for e in engines if e not in pythons]:
        raise InputError(
            f"{', '.join(missing)} not installed here; name its Python in "
            "BAKEOFF_ENGINE_PYTHONS=engine=/path/to/python or leave it out with --engines"
        )
    families: dict[str, list[Workload]] = {}
    for workload in workloads:
        families.setdefault(workload.family, []).append(workload)
    caps.sort(key=parse_bytes, reverse=True)
    failed_at: dict[tuple[str, str], int] = {}  # under a larger cap: not run again below it
    for cap in caps:
        for engine in engines:
            for family, chosen in families.items():
                for rows in scales:
                    if rows >= failed_at.get((engine, family), rows + 1):
                        break
                    records: list[RunRecord] = []
                    for workload in chosen:
                        records += run_scale(
                            engine, pythons[engine], [workload], rows, cap, args.timeout
                        )
                        if records[-1].status not in COMPLETED:
                            break  # this scale is not completed: its other workloads are moot
                    summary = ", ".join(f"{r.workload} {r.status}" for r in records)
                    print(f"{engine} {family} {format_rows(rows)} cap {cap}: {summary}")
                    if records[-1].status not in COMPLETED:
                        failed_at[engine, family] = rows
                        break  # the larger scales of this family are not run
    print("\n".join(_lines(engines, list(families), caps, scales)))
    return 0


def _lines(engines: list[str], families: list[str], caps: list[str], scales: list[int]) -> list:
    """What the run log now says of these cells: one line per engine, family and scale."""
    from bakeoff.report.table import read_log

    cells = frontier(read_log(paths.run_log()))
    return [
        f"{engine} {family} {format_rows(rows)}: "
        + " | ".join(
            f"cap {cap}: {cell.text() if cell else 'not run'}"
            for cap in caps
            for cell in [cells.get((engine, family, parse_bytes(cap), rows))]
        )
        for engine in engines
        for family in families
        for rows in scales
    ]


def configure(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "frontier",
        help="the largest scale each engine completes under memory caps (bakeoff run, capped)",
    )
    parser.add_argument("--caps", required=True, help="memory caps, e.g. 4GiB,8GiB")
    parser.add_argument("--rows", default="1e6,1e7,1e8", help="scales, smallest first")
    parser.add_argument(
        "--workloads", default="groupby,join", help="workloads or families (default: %(default)s)"
    )
    parser.add_argument(
        "--engines",
        default=None,
        help=f"default: {','.join(ENGINE_NAMES)} (their Pythons: "
        "this one, or BAKEOFF_ENGINE_PYTHONS=vaex=/path/to/python)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds per workload (default %(default)s)"
    )
    parser.set_defaults(handler=cmd_frontier)
