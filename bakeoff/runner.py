"""Run one workload on one started engine: time it, probe its memory, check its answer.

This is the single path every measurement takes: the ``bakeoff run`` worker and the asv
benchmarks both call :func:`run_workload`. The timed region is exactly "Parquet on disk to the
full result materialized inside the engine"; the digest and the check come after, untimed.
A run that exceeds its time or memory limit is ended from a watchdog thread, after its record
(``timeout`` / ``out_of_memory``) has been emitted, because an engine stuck in native code
cannot be interrupted politely.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

import bakeoff
from bakeoff.engines.base import Engine
from bakeoff.probe import TreeMemoryProbe
from bakeoff.units import format_bytes
from bakeoff.validation import Digest, compare, digest_table
from datagen.dataset import Dataset
from workloads import Unsupported, implementation
from workloads.spec import Workload

EXIT_ABORTED = 3  # a worker ended by its own watchdog
TIMELINE_POINTS = 200  # memory timeline kept per record, evenly thinned


class Status(enum.StrEnum):
    OK = "ok"
    WRONG_ANSWER = "wrong_answer"
    ERROR = "error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    UNSUPPORTED = "unsupported"


# A process tree past this share of physical memory is stopped and recorded out_of_memory,
# before the kernel's OOM killer would take the machine's other processes with it.
DEFAULT_MEMORY_SHARE = 0.9


def default_memory_limit() -> int:
    return int(psutil.virtual_memory().total * DEFAULT_MEMORY_SHARE)


@dataclass(frozen=True)
class Limits:
    timeout_s: float | None = None
    memory_bytes: int | None = None  # for the whole process tree


@dataclass
class RunRecord:
    engine: str
    version: str
    settings: dict[str, Any]
    workload: str
    rows: int
    status: str
    detail: str = ""
    wall_s: float | None = None
    peak_bytes: int | None = None
    digest: dict[str, Any] | None = None
    validated: bool = False
    dataset: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    memory_timeline: list[tuple[float, int]] = field(default_factory=list)
    started_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        return cls(**json.loads(line))


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


@functools.cache
def provenance() -> dict[str, Any]:
    """Where a number came from: harness version and commit, and the machine."""
    commit = os.environ.get("ASV_COMMIT")
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                cwd=Path(bakeoff.__file__).parent,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = "unknown"
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "harness_version": bakeoff.__version__,
        "harness_commit": commit,
        "machine": platform.node(),
        "cpu": cpu,
        "cores": psutil.cpu_count(logical=True),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pid": os.getpid(),  # which worker process ran it
    }


def dataset_info(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "path": str(dataset.path),
        "checksum": dataset.checksum,
        "bytes": dataset.size_bytes,
    }


def new_record(
    engine: Engine,
    workload: Workload,
    dataset: Dataset,
    status: Status,
    detail: str = "",
    **fields: Any,
) -> RunRecord:
    try:
        settings = engine.settings()
    except Exception:  # the engine never started: no settings to report
        settings = {}
    return RunRecord(
        engine=engine.name,
        version=engine.version(),
        settings=settings,
        workload=workload.name,
        rows=dataset.rows,
        status=str(status),
        detail=detail,
        dataset=dataset_info(dataset),
        provenance=provenance(),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **fields,
    )


def _thin(timeline: list[tuple[float, int]]) -> list[tuple[float, int]]:
    step = max(1, len(timeline) // TIMELINE_POINTS)
    return [(round(t, 3), rss) for t, rss in timeline[::step]]


def kill_children() -> None:
    """Kill every descendant of this process (JVM, Dask workers) before we exit."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


class _Watchdog:
    """Ends the process, after emitting the record, when a limit is hit mid-run."""

    def __init__(self, emit: Callable[[RunRecord], None], make_record: Callable[..., RunRecord]):
        self._emit = emit
        self._make_record = make_record
        self._fired = threading.Lock()
        self._timer: threading.Timer | None = None

    def abort(self, status: Status, detail: str) -> None:
        if not self._fired.acquire(blocking=False):
            return
        self._emit(self._make_record(status, detail))
        kill_children()
        os._exit(EXIT_ABORTED)

    def arm(self, timeout_s: float | None) -> None:
        if timeout_s:
            self._timer = threading.Timer(
                timeout_s,
                self.abort,
                args=(Status.TIMEOUT, f"no result after the {timeout_s:g} s time limit"),
            )
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def run_workload(
    engine: Engine,
    workload: Workload,
    dataset: Dataset,
    *,
    reference: Digest | None,
    limits: Limits = Limits(),
    emit: Callable[[RunRecord], None] = lambda record: None,
) -> RunRecord:
    """Run, time, probe and validate one workload on a started engine; emit its record."""

    def finish(status: Status, detail: str = "", **fields: Any) -> RunRecord:
        record = new_record(engine, workload, dataset, status, detail, **fields)
        emit(record)
        return record

    query = implementation(engine.name, workload)
    if isinstance(query, Unsupported):
        return finish(Status.UNSUPPORTED, query.reason)

    watchdog = _Watchdog(
        emit, lambda status, detail: new_record(engine, workload, dataset, status, detail)
    )
    limit = limits.memory_bytes
    probe = TreeMemoryProbe(
        limit_bytes=limit,
        on_exceed=lambda rss: watchdog.abort(
            Status.OUT_OF_MEMORY,
            f"process tree reached {format_bytes(rss)}, over the {format_bytes(limit)} limit",
        ),
    )
    materialized = None
    try:
        engine.prepare(dataset)
        watchdog.arm(limits.timeout_s)
        with probe:
            started = time.perf_counter()
            materialized = engine.materialize(query(engine, dataset))
            wall_s = time.perf_counter() - started
        watchdog.disarm()
    except Exception as error:  # every engine failure becomes a record, never a crash
        watchdog.disarm()
        status = Status.OUT_OF_MEMORY if engine.is_out_of_memory(error) else Status.ERROR
        return finish(status, first_line(error))

    memory = probe.report
    measured = {
        "wall_s": wall_s,
        "peak_bytes": memory.peak_bytes,
        "memory_timeline": _thin(memory.timeline),
    }
    try:
        digest = digest_table(engine.to_arrow(materialized), workload)
    except Exception as error:
        return finish(
            Status.ERROR, f"reading the result back failed: {first_line(error)}", **measured
        )
    finally:
        engine.release(materialized)
    if reference is None:
        return finish(
            Status.OK,
            "not validated: no reference answer at this scale",
            digest=digest.to_dict(),
            **measured,
        )
    problem = compare(digest, reference, rel_tol=workload.rel_tol, sum_columns=workload.sum_columns)
    if problem:  # a wrong answer keeps its digest for diagnosis, but never a timing
        return finish(Status.WRONG_ANSWER, problem, digest=digest.to_dict())
    return finish(
        Status.OK,
        "matches the pandas reference",
        digest=digest.to_dict(),
        validated=True,
        **measured,
    )


def append_to_log(record: RunRecord, log: Path) -> None:
    """Append one record as one line; O_APPEND keeps concurrent writers' lines whole."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write(record.to_json() + "\n")
