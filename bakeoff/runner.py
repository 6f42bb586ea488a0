"""Run one workload on one started engine: time it, probe its memory, check its answer.

This is the single path every measurement takes: the ``bakeoff run`` worker and the asv
benchmarks both call :func:`run_workload`. The timed region is exactly "Parquet on disk to the
full result computed by the engine", ended by the engine's cheapest complete sink; reading the
result back, the comparison with the reference and releasing the result come after, untimed.
A run that exceeds its time or memory limit is ended from a watchdog thread, after its record
(``timeout`` / ``out_of_memory``) has been emitted, because an engine stuck in native code
cannot be interrupted politely. Reading the result back gets the same time limit again, and a
read-back past it is an ``error``: the answer was never checked, so it is not a timing.
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
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa

import bakeoff
from bakeoff import chaos
from bakeoff.engines.base import Engine, memory_cap
from bakeoff.load import BEFORE_WINDOW_S, LoadMeter
from bakeoff.output import Output, OutputProblem
from bakeoff.probe import TreeMemoryProbe
from bakeoff.redact import redact
from bakeoff.reference import Reference
from bakeoff.validation import FULL_COMPARE_MAX_ROWS, compare, digest_table, normalize
from datagen.dataset import Dataset
from shared.units import format_bytes
from workloads import Unsupported, implementation
from workloads.spec import Workload

EXIT_ABORTED = 3  # a worker ended by its own watchdog
TIMELINE_POINTS = 200  # memory timeline kept per record, evenly thinned
# Above this many result rows and with no reference to compare with, a result is counted in the
# engine but not read back into this process for a digest (a join at 1e8 rows is 1e8 rows).
READ_BACK_MAX_ROWS = FULL_COMPARE_MAX_ROWS


class Status(enum.StrEnum):
    OK = "ok"
    WRONG_ANSWER = "wrong_answer"
    ERROR = "error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    UNSUPPORTED = "unsupported"
    RECOVERED = "recovered"  # a worker was killed mid-run and the answer is right (bakeoff.chaos)


# A process tree past this share of physical memory is stopped and recorded out_of_memory,
# before the kernel's OOM killer would take the machine's other processes with it.
DEFAULT_MEMORY_SHARE = 0.9


def default_memory_limit() -> int:
    """The tree probe's limit: the run's memory cap if one is set, else 90 % of RAM."""
    return memory_cap() or int(psutil.virtual_memory().total * DEFAULT_MEMORY_SHARE)


@dataclass(frozen=True)
class Limits:
    timeout_s: float | None = None
    memory_bytes: int | None = None  # for the whole process tree

    def recorded(self) -> dict[str, Any]:
        """What every record says of its limits: these, and the run's memory cap (or None)."""
        return {**asdict(self), "memory_cap_bytes": memory_cap()}


class DamagedRecord(ValueError):
    """A run-log line that is not a whole record: torn by a full disk or a kill, not JSON, or
    a JSON value some other tool put there. Readers skip and count it rather than stop."""


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
    memory_method: str = ""  # how peak_bytes was measured (see bakeoff.probe)
    session_runs: int = 0  # runs this engine session made before this one; 0 = a cold session
    digest: dict[str, Any] | None = None
    validated: bool = False
    dataset: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    memory_timeline: list[tuple[float, int]] = field(default_factory=list)
    started_at: str = ""
    limits: dict[str, Any] = field(default_factory=dict)  # the Limits the run was held to
    # A write workload's output: files, bytes, row groups and partitions written (and, for an
    # append, the earlier files the harness put in place); empty for the other workloads.
    output: dict[str, Any] = field(default_factory=dict)
    # The machine's load before, during and after the run and whether it was busy (see
    # bakeoff.load); empty in records written before it was recorded.
    machine_load: dict[str, Any] = field(default_factory=dict)
    # Set only on the record of a timed asv sample that raised after the validated run had
    # succeeded: which sample, and how its one re-run ended ("ok" or the re-run's status).
    retried_sample: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """One JSON line, with secrets (passwords in addresses, credentials) masked."""
        return json.dumps(redact(asdict(self)), default=str)

    @classmethod
    def from_json(cls, line: str) -> RunRecord:
        """A record from its JSON line; fields this version does not know are ignored, so
        logs written by older and newer harness versions both read. A line that is not a
        record raises :class:`DamagedRecord` (a ValueError), whatever is wrong with it."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise DamagedRecord(f"not JSON ({error})") from None
        if not isinstance(data, dict):
            raise DamagedRecord(f"a JSON {type(data).__name__}, not a record")
        if missing := [name for name in _REQUIRED_FIELDS if name not in data]:
            raise DamagedRecord(f"no {', '.join(missing)}")
        kinds = _field_kinds()
        if wrong := [k for k, v in data.items() if k in kinds and not isinstance(v, kinds[k])]:
            raise DamagedRecord(f"{', '.join(wrong)} of the wrong type")
        return cls(**{k: v for k, v in data.items() if k in kinds})


_REQUIRED_FIELDS = [
    f.name for f in fields(RunRecord) if f.default is MISSING and f.default_factory is MISSING
]
_JSON_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int, float),  # a number is a number: 1e6 bytes is a peak, not damage
    "float": (int, float),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
    "None": (type(None),),
}


@functools.cache
def _field_kinds() -> dict[str, tuple[type, ...]]:
    """Each field's JSON types, from its annotation (``float | None`` -> int, float, None): a
    line whose fields have other types (a string for a number, a list for a mapping) is
    foreign, and would fail later, far from its cause."""
    kinds = {}
    for spec in fields(RunRecord):
        accepted: tuple[type, ...] = ()
        for part in str(spec.type).split("|"):
            accepted += _JSON_KINDS.get(part.strip().split("[")[0], (object,))
        kinds[spec.name] = accepted
    return kinds


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
        "java": java_version(),
        "platform": platform.platform(),
        "asv_env_name": os.environ.get("ASV_ENV_NAME"),  # set when asv ran it
        "pid": os.getpid(),  # which worker process ran it
    }


def java_version() -> str | None:
    """The first line of ``java -version`` (Spark's runtime), or None without a Java."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else "java"
    try:
        banner = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = banner.stderr.strip().splitlines()
    return lines[0] if lines else None


def dataset_info(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "path": dataset.location,
        "checksum": dataset.checksum,
        "bytes": dataset.size_bytes,
        "format": dataset.manifest.get("format", {}),  # layout and encodings, for the report
        # what the check before the run could not prove (object storage: not re-hashed)
        **({"note": note} if (note := dataset.unverified_note) else {}),
    }


def new_record(
    engine: Engine,
    workload: Workload,
    dataset: Dataset,
    status: Status,
    detail: str = "",
    **fields: Any,
) -> RunRecord:
    resolved = fields.pop("resolved", {})  # what the engine chose for this run
    try:
        settings = {**engine.settings(), **resolved}
    except Exception:  # the engine never started: no settings to report
        settings = {}
    if engine.resources.capped:  # what every native limit above was derived from
        settings["memory_cap_bytes"] = engine.resources.memory_bytes
    return RunRecord(
        engine=engine.name,
        version=engine.version(),
        settings=settings,
        workload=workload.name,
        rows=dataset.spec.rows,  # the scale asked for (join: the rows of x, as asv names it)
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

    def arm(
        self, timeout_s: float | None, status: Status = Status.TIMEOUT, detail: str = ""
    ) -> None:
        """Fire after ``timeout_s``; armed again after :meth:`disarm`, it watches a new phase."""
        self._fired = threading.Lock()  # a disarmed watchdog holds the old one
        if timeout_s:
            self._timer = threading.Timer(
                timeout_s,
                self.abort,
                args=(status, detail or f"no result after the {timeout_s:g} s time limit"),
            )
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """Stop watching; if the watchdog already fired, wait here for it to end the process.

        The run and the watchdog race to report: whoever takes ``_fired`` first reports, so a
        run that finished just as its limit passed is never recorded twice.
        """
        if self._timer is not None:
            self._timer.cancel()
        if not self._fired.acquire(blocking=False):
            threading.Event().wait()  # the watchdog is emitting its record and exiting


def run_workload(
    engine: Engine,
    workload: Workload,
    dataset: Dataset,
    *,
    reference: Reference | None,
    limits: Limits = Limits(),
    emit: Callable[[RunRecord], None] = lambda record: None,
) -> RunRecord:
    """Run, time, probe and validate one workload on a started engine; emit its record."""

    held = limits.recorded()
    fault = chaos.from_environment()  # BAKEOFF_CHAOS_KILL_AFTER: kill a worker mid-run
    load = LoadMeter()  # was anything else using the cores around this run?

    def make_record(status: Status, detail: str = "", **fields: Any) -> RunRecord:
        if fault is not None:
            status, detail = fault.outcome(status, detail)
            fields["resolved"] = {**fields.get("resolved", {}), "fault_injection": fault.recorded()}
        if load.laps:
            fields.setdefault("machine_load", load.recorded())
        return new_record(engine, workload, dataset, Status(status), detail, limits=held, **fields)

    def finish(status: Status, detail: str = "", **fields: Any) -> RunRecord:
        if "before" in load.laps:  # from the timed run's end to here: read-back, checks
            load.lap("after")
        record = make_record(status, detail, **fields)
        emit(record)
        return record

    query = implementation(engine.name, workload)
    if isinstance(query, Unsupported):
        return finish(Status.UNSUPPORTED, query.reason)
    if fault is not None and (refused := fault.refusal(engine)):
        return finish(*refused)
    if (reason := engine.cannot_read(dataset)) is not None:
        return finish(Status.UNSUPPORTED, reason)

    watchdog = _Watchdog(emit, make_record)
    limit = limits.memory_bytes
    what = "memory cap" if limit is not None and limit == memory_cap() else "limit"
    probe = TreeMemoryProbe(
        limit_bytes=limit,
        on_exceed=lambda rss: watchdog.abort(
            Status.OUT_OF_MEMORY,
            f"process tree reached {format_bytes(rss)}, over the {format_bytes(limit)} {what}",
        ),
    )
    session_runs = engine.runs
    output: Output | None = None
    try:
        engine.prepare(dataset)
        engine.before_run()
        output = prepare_output(engine, workload, reference)
        load.lap("before", BEFORE_WINDOW_S)
        watchdog.arm(limits.timeout_s)
        with probe, fault.during_run() if fault else contextlib.nullcontext():
            started = time.perf_counter()
            materialized = engine.run(query, dataset, output)
            wall_s = time.perf_counter() - started
        watchdog.disarm()
        load.lap("during")
    except Exception as error:  # every engine failure becomes a record, never a crash
        watchdog.disarm()
        if output is not None:
            output.remove()
        status = Status.OUT_OF_MEMORY if engine.is_out_of_memory(error) else Status.ERROR
        return finish(status, first_line(error), session_runs=session_runs)

    memory = probe.report
    measured = {
        "wall_s": wall_s,
        "peak_bytes": memory.peak_bytes,
        "memory_method": memory.method,
        "memory_timeline": _thin(memory.timeline),
        "session_runs": session_runs,
    }
    watchdog.arm(  # a read-back that never ends (a worker restarted without end) is an error
        limits.timeout_s,
        Status.ERROR,
        f"reading the result back did not finish within the {limits.timeout_s or 0:g} s limit",
    )
    try:
        resolved = engine.resolved_for(materialized) if output is None else {}
        if output is not None:  # read back and checked by the harness, never by the engine
            table, measured["output"] = output.read()
            measured["output"]["prior_files"] = len(output.prior)
            result = normalize(table, workload)
        elif reference is None and (count := engine.count_rows(materialized)) > READ_BACK_MAX_ROWS:
            return finish(  # a 1e8-row join result would not fit beside the engine's data
                Status.OK,
                f"not validated: no reference answer at this scale; the result's {count} rows "
                "were counted, not read back",
                resolved=resolved,
                **measured,
            )
        else:
            result = normalize(engine.read_back(materialized), workload)  # once: sorting is costly
    except OutputProblem as problem:  # a file out of place, a partition rewritten: no timing
        return finish(Status.WRONG_ANSWER, str(problem), session_runs=session_runs)
    except Exception as error:
        return finish(
            Status.ERROR, f"reading the result back failed: {first_line(error)}", **measured
        )
    finally:
        watchdog.disarm()
        if output is not None:
            output.remove()
        else:
            engine.discard(materialized)
    digest = digest_table(result, workload, normalized=True).to_dict()
    if reference is None:
        return finish(
            Status.OK,
            "not validated: no reference answer at this scale",
            digest=digest,
            resolved=resolved,
            **measured,
        )
    expected = (
        reference.table() if reference.digest.rows <= FULL_COMPARE_MAX_ROWS else reference.digest
    )
    problem = compare(result, expected, workload, normalized=True)
    if not problem and workload.check is not None:
        problem = workload.check(result, dataset, reference.table())
    written = {"output": measured["output"]} if output is not None else {}
    if problem:  # a wrong answer keeps its digest for diagnosis, but never a timing
        return finish(
            Status.WRONG_ANSWER,
            problem,
            digest=digest,
            resolved=resolved,
            session_runs=session_runs,
            **written,
        )
    how = "value by value" if isinstance(expected, pa.Table) else "by keyed checksums"
    return finish(
        Status.OK,
        f"matches the {reference.computed_with} reference {how}",
        digest=digest,
        validated=True,
        resolved=resolved,
        **measured,
    )


def prepare_output(
    engine: Engine, workload: Workload, reference: Reference | None
) -> Output | None:
    """A write workload's fresh output location (for an append, with the earlier partitions
    in place, written from the reference answer); None for the other workloads. Untimed."""
    if not workload.writes:
        return None
    output = Output.fresh(engine.resources.scratch_dir, workload)
    if workload.appends:
        if reference is None:
            raise RuntimeError(
                f"{workload.name} needs the reference answer to place the earlier partitions"
            )
        output.place_prior(reference.table())
    return output


def append_to_log(record: RunRecord, log: Path) -> None:
    """Append one record as one line, in one write on an O_APPEND descriptor, so concurrent
    writers' lines stay whole. A last line left torn (no newline: a full disk, a kill) is ended
    first, in the same write, so it cannot swallow this record: it stays one damaged line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    line = (record.to_json() + "\n").encode()
    descriptor = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(descriptor).st_size
        if size and os.pread(descriptor, 1, size - 1) != b"\n":
            line = b"\n" + line
        written = 0
        while written < len(line):  # a short write (the disk filled) raises on the next one
            written += os.write(descriptor, line[written:])
    finally:
        os.close(descriptor)


DAMAGED_LINES_SHOWN = 10


def display_path(path: Path) -> str:
    """``path`` as a message names it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


@dataclass
class RunLog:
    """The run log's records and the numbers (from 1) of its lines that were not records, so
    every reader skips damage the same way and can say how much it skipped."""

    path: Path
    records: list[RunRecord] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)

    def damage_text(self) -> str:
        """``skipped 2 damaged lines of results/runs.jsonl (lines 5, 9)``; "" when whole."""
        if not self.damaged:
            return ""
        shown = ", ".join(str(n) for n in self.damaged[:DAMAGED_LINES_SHOWN])
        shown += ", ..." if len(self.damaged) > DAMAGED_LINES_SHOWN else ""
        noun = "line" if len(self.damaged) == 1 else "lines"
        return (
            f"skipped {len(self.damaged)} damaged {noun} of {display_path(self.path)} "
            f"({noun} {shown})"
        )

    def warn(self) -> None:
        """One line on stderr when lines were skipped."""
        if self.damaged:
            print(f"bakeoff: {self.damage_text()}", file=sys.stderr)


def read_run_log(log: Path, first_line: int = 0) -> RunLog:
    """Every record of the run log after its first ``first_line`` lines; a damaged line
    (torn, not UTF-8, not JSON, not a record) is skipped and counted, never a traceback that
    loses every other record. Blank lines hold nothing and are not counted."""
    found = RunLog(log)
    try:
        data = log.read_bytes()
    except FileNotFoundError:
        return found
    for number, raw in enumerate(data.split(b"\n"), 1):
        if number <= first_line or not raw.strip():
            continue
        try:
            found.records.append(RunRecord.from_json(raw.decode()))
        except (DamagedRecord, UnicodeDecodeError):
            found.damaged.append(number)
    return found
