"""The tidy table: one row per engine x version x workload x scale x machine x harness commit.

asv's results hold the warm samples (``time_query``) and the tree peak
(``track_peak_tree_bytes``) of every environment, machine and commit. The run log holds the
first, validated run that each asv benchmark made in its ``setup``, and every ``bakeoff run``.
A log record belongs to an asv cell when it has the cell's engine, workload, scale and commit
and started while asv ran that benchmark: it gives the first-run time, the engine version and
settings, and, when asv has no time, why. Records that belong to no asv cell are single
validated runs of ``bakeoff run``, kept as rows of their own, so a scale asv never ran is never
shown as an asv failure.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bakeoff.cells import ENGINE_VARIABLE
from bakeoff.engines import ENGINE_NAMES, variant_label, variant_of
from bakeoff.engines.base import option_variables
from bakeoff.report.asvlog import Reasons, reason_for
from bakeoff.runner import RunRecord, display_path, read_run_log
from shared import atomic
from workloads import Unsupported, all_workloads, implementation

WORKLOAD_MODULE = "bench_workloads"
TIME_KEY = "time_query"
MEMORY_KEY = "track_peak_tree_bytes"
VERSION_VARIABLE = "BAKEOFF_ENGINE_VERSION"  # set in an A/B environment: the pinned version
ASV = "asv"
SINGLE_RUN = "bakeoff run"
ASV_FAILED = "asv failed"
ASV_SKIPPED = "asv skipped"
# How each status that is not a time reads on the page and in the charts.
FAILURE_LABELS = {
    "out_of_memory": "out of memory",
    "timeout": "timeout",
    "error": "error",
    "wrong_answer": "wrong answer",
    "unsupported": "unsupported",
    ASV_FAILED: "asv failed",
    ASV_SKIPPED: "skipped",
}
WINDOW_SLACK_S = 1.0  # run-log times are whole seconds
ASV_ENV_KEY = "asv_env_name"  # provenance of a record made under asv (its ASV_ENV_NAME)


@dataclass
class Row:
    """One measured cell, with where it came from. ``time_s`` is asv's median of the warm
    samples (a single run's time for ``bakeoff run``); it is None whenever status is not ok."""

    source: str
    engine: str
    engine_version: str
    pinned: str  # the environment's BAKEOFF_ENGINE_VERSION; "" when not an A/B environment
    environment: str
    family: str
    workload: str
    rows: int
    machine: str
    commit: str
    date: str
    status: str
    detail: str = ""
    time_s: float | None = None
    time_q25_s: float | None = None
    time_q75_s: float | None = None
    time_ci99_low_s: float | None = None
    time_ci99_high_s: float | None = None
    samples: int | None = None
    first_run_s: float | None = None
    peak_bytes: float | None = None
    dataset: str = ""
    dataset_checksum: str = ""
    python: str = ""
    java: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    busy: bool = False  # measured while other processes used the cores (bakeoff.load)
    variant: str = ""  # the engine's labelled variant (``in-memory``); "" for its default form
    # Kept for the report, not written to the CSV:
    stats: dict[str, Any] | None = field(default=None, repr=False)
    sample_values: list[float] | None = field(default=None, repr=False)
    timeline: list[list[float]] = field(default_factory=list, repr=False)
    dataset_location: str = field(default="", repr=False)  # where its manifest is

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.time_s is not None

    @property
    def failed(self) -> bool:
        """No number, and not for a good reason: ``recovered`` (a fault-tolerance test the
        engine passed) is neither ok nor a failure."""
        return not self.ok and self.status != RECOVERED

    @property
    def label(self) -> str:
        """The engine as charts and tables name it: with its variant (``polars[in-memory]``),
        and its version in an A/B."""
        named = variant_label(self.engine, self.variant)
        return f"{named}=={self.pinned}" if self.pinned else named


def engine_of(label: str) -> str:
    """The engine a label names, without version or variant: its colour, its pip extra."""
    return label.split("==")[0].split("[")[0]


RECOVERED = "recovered"  # bakeoff.runner.Status.RECOVERED
FAULT_INJECTION = "fault_injection"  # the settings key bakeoff.chaos records under
REPORT_ONLY = ("stats", "sample_values", "timeline", "dataset_location")
CSV_FIELDS = [f.name for f in fields(Row) if f.name not in REPORT_ONLY]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _epoch(iso: str) -> float:
    try:
        return dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return math.nan


def _iso(epoch_ms: float) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).isoformat(timespec="seconds")


def read_log(log: Path) -> list[RunRecord]:
    """Every record of the run log; fields this version does not know are ignored, so logs
    written by older and newer harness versions both read. Damaged lines are skipped, and
    counted in one line on stderr."""
    run_log = read_run_log(log)
    run_log.warn()
    return run_log.records


def family_of(workload: str) -> str:
    known = all_workloads().get(workload)
    return known.family if known else workload.rsplit("_", 1)[0]


def unsupported_reason(engine: str, workload: str) -> str | None:
    try:
        cell = implementation(engine, all_workloads()[workload])
    except (KeyError, ImportError):
        return None
    return cell.reason if isinstance(cell, Unsupported) else None


@dataclass
class _Measured:
    """One asv benchmark's value for one parameter combination, and when it ran."""

    value: Any
    started: float
    duration: float
    stats: dict[str, Any] | None
    samples: list[float] | None


def _asv_values(result: Any) -> Iterator[tuple[str, str, str, int, _Measured]]:
    """(benchmark, kind, workload, rows, measurement) for every workload benchmark in one
    result file."""
    for key in result.get_all_result_keys():
        module, kind = key.split(".", 1)[0], key.rsplit(".", 1)[-1]
        if module != WORKLOAD_MODULE or kind not in (TIME_KEY, MEMORY_KEY):
            continue
        params = result.get_result_params(key)
        combos = list(itertools.product(*params))
        columns = (
            result.get_result_value(key, params),
            result.get_result_stats(key, params),
            result.get_result_samples(key, params),
        )
        started = result.started_at.get(key, 0) / 1000
        duration = result.duration.get(key) or 0.0
        for (workload, rows), value, stats, samples in zip(combos, *columns, strict=True):
            measured = _Measured(value, started, duration, stats, samples)
            yield key, kind, workload.strip("'\""), int(rows), measured


class _RecordIndex:
    """Run-log records by (engine, workload, rows, commit), found again by when they ran."""

    def __init__(self, records: list[RunRecord]) -> None:
        self.records = records
        self.used: set[int] = set()
        self._by_cell: dict[tuple[str, str, int, str], list[int]] = {}
        for index, record in enumerate(records):
            commit = record.provenance.get("harness_commit", "")
            key = (record.engine, record.workload, record.rows, commit)
            self._by_cell.setdefault(key, []).append(index)

    def during(
        self, engine: str, workload: str, rows: int, commit: str, measured: _Measured
    ) -> RunRecord | None:
        """The first record of this cell started while asv ran the benchmark (its setup's
        validated run); every record in that time is asv's and marked used."""
        return next(iter(self._in_window(engine, workload, rows, commit, measured)), None)

    def retry_during(
        self, engine: str, workload: str, rows: int, commit: str, measured: _Measured
    ) -> RunRecord | None:
        """The record of a timed sample re-run after an engine error, if asv's run of this
        cell had one (``PreparedWorkload.run_once``)."""
        retried = self._in_window(engine, workload, rows, commit, measured, retries=True)
        return next(iter(retried), None)

    def _in_window(
        self,
        engine: str,
        workload: str,
        rows: int,
        commit: str,
        measured: _Measured,
        retries: bool = False,
    ) -> list[RunRecord]:
        low = measured.started - WINDOW_SLACK_S
        high = measured.started + measured.duration + WINDOW_SLACK_S
        found = []
        for index in self._by_cell.get((engine, workload, rows, commit), []):
            record = self.records[index]
            if low <= _epoch(record.started_at) <= high:
                self.used.add(index)
                if bool(record.retried_sample) == retries:
                    found.append(record)
        return found

    def unused(self) -> list[RunRecord]:
        """Records no asv cell accounts for, less those that say asv made them (a result
        file asv has since replaced): the single runs of ``bakeoff run``."""
        return [
            record
            for index, record in enumerate(self.records)
            if index not in self.used and not record.provenance.get(ASV_ENV_KEY)
        ]


def _with_record(row: Row, record: RunRecord | None) -> None:
    """Version, settings, dataset and provenance of the run that made this cell."""
    if record is None:
        return
    row.engine_version = record.version
    row.settings = record.settings
    row.dataset = record.dataset.get("name", "")
    row.dataset_checksum = record.dataset.get("checksum", "")
    row.dataset_location = record.dataset.get("path", "")
    row.python = record.provenance.get("python", row.python)
    row.java = record.provenance.get("java", "") or str(record.settings.get("java_version", ""))
    row.busy = bool(record.machine_load.get("busy"))


def _asv_status(row: Row, measured: _Measured, record: RunRecord | None, reason: str) -> None:
    """ok with asv's statistics, or why asv has no time: the run log's status when the
    validated run failed, asv's own reason when asv failed, unsupported when skipped."""
    value = measured.value
    if _finite(value):
        stats = measured.stats or {}
        row.status, row.time_s, row.stats = "ok", float(value), stats
        row.time_q25_s, row.time_q75_s = stats.get("q_25"), stats.get("q_75")
        row.time_ci99_low_s, row.time_ci99_high_s = stats.get("ci_99_a"), stats.get("ci_99_b")
        row.samples = len(measured.samples) if measured.samples else stats.get("repeat")
        row.sample_values = measured.samples
        row.detail = record.detail if record is not None else ""
        if record is not None and record.status == "ok":
            row.first_run_s = record.wall_s
    elif value is None and record is not None and record.status != "ok":
        row.status, row.detail = record.status, record.detail
    elif value is None:
        row.status = ASV_FAILED
        row.detail = reason or "asv recorded no result; `asv run --show-stderr` shows why"
    else:  # NaN: asv skipped it (setup raised NotImplementedError)
        why = unsupported_reason(row.engine, row.workload)
        row.status = "unsupported" if why else ASV_SKIPPED
        row.detail = why or "setup said this environment cannot run it"


def _with_retry(row: Row, retry: RunRecord | None) -> None:
    """A cell one of whose timed samples raised: said beside its time, or, when the re-run
    failed too, the cell's status is the engine's failure instead of asv's bare one."""
    if retry is None:
        return
    if row.status == ASV_FAILED and retry.retried_sample.get("rerun") != "ok":
        row.status = retry.status
        row.detail = retry.detail
    elif row.status == "ok":
        row.detail = "; ".join(part for part in (row.detail, retry.detail) if part)


ASV_SKIP_FILES = ("machine.json", "benchmarks.json")  # asv's files that hold no results
_ENGINE_IN_ENV = re.compile(rf"-{ENGINE_VARIABLE}(?P<engine>[^-_][^-]*)")
_PINNED_IN_ENV = re.compile(rf"-{VERSION_VARIABLE}(?P<pinned>[^-]+)")
_OPTIONS_IN_ENV = re.compile(r"-BAKEOFF_[A-Z]+_OPTIONS(?P<options>.+)$")


@dataclass
class _Unreadable:
    """An asv result file that could not be read, and why."""

    path: Path
    reason: str


def _asv_result_paths(asv_results: Path) -> list[Path]:
    """Every asv result file: ``<machine>/<commit>-<environment>.json``."""
    if not asv_results.is_dir():
        return []
    return [p for p in sorted(asv_results.glob("*/*.json")) if p.name not in ASV_SKIP_FILES]


def _error_text(error: BaseException, path: Path) -> str:
    """The error's first line, without the file's path: the message names the file already
    (asv's say "Error parsing JSON in file '/abs/path': ...")."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    where = os.path.abspath(path)
    text = re.sub(rf"\s*(?:in )?(?:results )?file '{re.escape(where)}'", "", text)
    return text.replace(where, path.name)


def _result_rows(result: Any, index: _RecordIndex, reasons: Reasons) -> list[Row]:
    """The engine cells of one asv result file; an error in its content raises before any
    cell is kept, so a damaged file gives none of its own."""
    engine = result.env_vars.get(ENGINE_VARIABLE, "")
    if engine not in ENGINE_NAMES:
        return []
    pinned = result.env_vars.get(VERSION_VARIABLE, "")
    variant = variant_of(engine, result.env_vars.get(option_variables(engine)[1], ""))
    cells: dict[tuple[str, int], Row] = {}
    for benchmark, kind, workload, scale, measured in sorted(
        _asv_values(result), key=lambda item: item[1] != TIME_KEY
    ):
        record = index.during(engine, workload, scale, result.commit_hash, measured)
        retry = index.retry_during(engine, workload, scale, result.commit_hash, measured)
        row = cells.get((workload, scale))
        if row is None:
            row = cells[workload, scale] = Row(
                source=ASV,
                engine=engine,
                engine_version=pinned or "unknown",
                pinned=pinned,
                variant=variant,
                environment=result.env_name,
                family=family_of(workload),
                workload=workload,
                rows=scale,
                machine=result.params.get("machine", ""),
                commit=result.commit_hash,
                date=_iso(measured.started * 1000),
                status="not run",
                python=result.params.get("python", ""),
            )
        if kind == TIME_KEY:
            _with_record(row, record)
            reason = reason_for(
                reasons, result.commit_hash, result.env_name, benchmark, workload, scale
            )
            _asv_status(row, measured, record, reason)
            _with_retry(row, retry)
            row.timeline = record.memory_timeline if record is not None else []
        elif _finite(measured.value) and row.status == "ok":
            row.peak_bytes = float(measured.value)
    return list(cells.values())


def _unreadable_rows(file: _Unreadable, read: list[Row], index: _RecordIndex) -> list[Row]:
    """An unreadable result file's cells, as asv failed with the file named: the cells the
    other environments of its machine and commit have, and those the run log says asv ran in
    its environment. Never dropped: a missing engine would read as a ranking without it."""
    commit_prefix, _, environment = file.path.stem.partition("-")
    engine_found = _ENGINE_IN_ENV.search(environment)
    if engine_found is None or engine_found["engine"] not in ENGINE_NAMES:
        return []
    engine, machine = engine_found["engine"], file.path.parent.name
    pinned_found = _PINNED_IN_ENV.search(environment)
    pinned = pinned_found["pinned"] if pinned_found else ""
    options_found = _OPTIONS_IN_ENV.search(environment)  # the last variable: options hold "-"
    variant = variant_of(engine, options_found["options"]) if options_found else ""
    # (workload, rows) -> (date, full commit) of that cell in the same run
    found: dict[tuple[str, int], tuple[str, str]] = {}
    for row in read:
        if row.machine == machine and row.commit.startswith(commit_prefix):
            found[row.workload, row.rows] = max(
                found.get((row.workload, row.rows), ("", "")), (row.date, row.commit)
            )
    # The validated runs asv made there: named by their environment, or (in logs older than
    # that) by engine, version and commit; they give the cells' version and provenance.
    records: dict[tuple[str, int], RunRecord] = {}
    for record in sorted(index.records, key=lambda r: r.started_at):
        commit = record.provenance.get("harness_commit", "")
        made_in = record.provenance.get(ASV_ENV_KEY) or None
        same_engine = record.engine == engine and record.version == (pinned or record.version)
        if not commit.startswith(commit_prefix) or made_in not in (environment, None):
            continue
        if made_in == environment:
            found.setdefault((record.workload, record.rows), (record.started_at, commit))
        if made_in == environment or same_engine:
            records[record.workload, record.rows] = record
    rows = []
    for (workload, scale), (date, commit) in sorted(found.items()):
        row = Row(
            source=ASV,
            engine=engine,
            engine_version=pinned or "unknown",
            pinned=pinned,
            variant=variant,
            environment=environment,
            family=family_of(workload),
            workload=workload,
            rows=scale,
            machine=machine,
            commit=commit,
            date=date,
            status=ASV_FAILED,
            detail=f"asv's result file {file.path.name} is unreadable: {file.reason}",
        )
        _with_record(row, records.get((workload, scale)))
        rows.append(row)
    return rows


def _unreadable_text(file: _Unreadable, rows: list[Row]) -> str:
    """One line for the warning and the page."""
    shown = display_path(file.path)
    if not rows:
        return (
            f"asv's result file {shown} is unreadable ({file.reason}); none of its cells is known"
        )
    noun = "cell is" if len(rows) == 1 else "cells are"
    return (
        f"asv's result file {shown} is unreadable ({file.reason}); its {len(rows)} {noun} shown "
        f"as {ASV_FAILED}"
    )


def asv_rows(
    asv_results: Path, index: _RecordIndex, reasons: Reasons, damage: list[str] | None = None
) -> list[Row]:
    """Every engine cell of every asv result file (every machine, commit and environment);
    a file that cannot be read gives its cells as asv failed, and a line in ``damage``."""
    from asv.results import Results

    rows: list[Row] = []
    unreadable: list[_Unreadable] = []
    for path in _asv_result_paths(asv_results):
        # asv's own iter_results drops a file it cannot read with a log line, which would
        # take the engine out of the ranking unseen; any damage (bad JSON, missing keys,
        # foreign shapes) makes the file's cells asv failed instead.
        try:
            rows += _result_rows(Results.load(str(path)), index, reasons)
        except Exception as error:
            unreadable.append(_Unreadable(path, _error_text(error, path)))
    for file in unreadable:
        failed = _unreadable_rows(file, rows, index)
        rows += failed
        if damage is not None:
            damage.append(_unreadable_text(file, failed))
    return rows


def timed_samples(asv_results: Path, since: float = 0.0) -> list[float]:
    """The seconds of every finite timed sample in the result files written since ``since``
    (a time as ``time.time()`` gives); a file asv cannot read gives none (the report says
    why)."""
    from asv.results import Results

    found: list[float] = []
    for path in _asv_result_paths(asv_results):
        if path.stat().st_mtime < since:
            continue
        try:
            values = list(_asv_values(Results.load(str(path))))
        except Exception:
            continue
        for _key, kind, _workload, _rows, measured in values:
            if kind == TIME_KEY:
                found += [sample for sample in measured.samples or [] if _finite(sample)]
    return found


def single_run_rows(records: list[RunRecord]) -> list[Row]:
    """``bakeoff run`` records, the newest of each cell, as single validated runs."""
    newest: dict[tuple[Any, ...], RunRecord] = {}
    for record in sorted(records, key=lambda r: r.started_at):
        provenance = record.provenance
        key = (record.engine, record.version, record.workload, record.rows)
        faulted = FAULT_INJECTION in record.settings  # a fault-tolerance test is its own cell
        cap = (record.limits or {}).get("memory_cap_bytes")  # so is each memory cap
        newest[
            (*key, provenance.get("machine"), provenance.get("harness_commit"), faulted, cap)
        ] = record
    rows = []
    for record in newest.values():
        ok = record.status == "ok" and record.wall_s is not None
        row = Row(
            source=SINGLE_RUN,
            engine=record.engine,
            engine_version=record.version,
            pinned="",
            environment=SINGLE_RUN,
            family=family_of(record.workload),
            workload=record.workload,
            rows=record.rows,
            machine=record.provenance.get("machine", ""),
            commit=record.provenance.get("harness_commit", ""),
            date=record.started_at,
            status=record.status,
            detail=record.detail,
            time_s=record.wall_s if ok else None,
            samples=1 if ok else None,
            first_run_s=record.wall_s if ok else None,
            peak_bytes=record.peak_bytes if ok else None,
            timeline=record.memory_timeline,
        )
        _with_record(row, record)
        rows.append(row)
    return rows


@dataclass
class Collected:
    """The whole table, the run log's records, and one sentence per damaged input (skipped
    run-log lines, unreadable asv files), which the report says on stderr and on the page."""

    rows: list[Row]
    records: list[RunRecord]
    damage: list[str]

    def warn(self) -> None:
        for line in self.damage:
            print(f"bakeoff: {line}", file=sys.stderr)


def gather(asv_results: Path, log: Path, reasons: Reasons | None = None) -> Collected:
    """The whole table: asv's cells first, then the single runs no asv cell accounts for;
    damaged inputs are skipped and listed, never a traceback and never silent."""
    run_log = read_run_log(log)
    damage = [run_log.damage_text()] if run_log.damaged else []
    index = _RecordIndex(run_log.records)
    rows = asv_rows(asv_results, index, reasons or {}, damage)
    return Collected(rows + single_run_rows(index.unused()), run_log.records, damage)


def collect(asv_results: Path, log: Path, reasons: Reasons | None = None) -> list[Row]:
    """:func:`gather`'s table, its damage said on stderr."""
    collected = gather(asv_results, log, reasons)
    collected.warn()
    return collected.rows


def write_csv(rows: list[Row], path: Path) -> Path:
    import csv

    from bakeoff.redact import redact

    with atomic.replacing(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            values = {name: getattr(row, name) for name in CSV_FIELDS}
            values["settings"] = json.dumps(row.settings, sort_keys=True, default=str)
            writer.writerow(redact(values))
    return path
