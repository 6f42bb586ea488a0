"""What the asv benchmarks run, kept in the package so it is versioned with the engines.

asv runs ``benchmarks/`` once per engine environment; each environment names its engine in
``BAKEOFF_ENGINE``. A :class:`PreparedWorkload` does everything that must stay outside the
timing (dataset, reference, engine start) and one validated, memory-probed run whose record
goes to the run log; the benchmark then times only :meth:`PreparedWorkload.run_once`, between
:meth:`PreparedWorkload.before_sample` and :meth:`PreparedWorkload.after_sample` (asv's
``setup`` and ``teardown``), which release the previous result and drop what the engine could
reuse, untimed. Between samples the OS page cache and the engine session stay warm; no result,
metadata or task-key cache does.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import os
import time
from collections.abc import Iterable

from bakeoff import chaos, paths
from bakeoff.cells import (
    ENGINE_VARIABLE,
    leave_out_of_sample,
    record_peak,
    suite_scales,
    suite_timeout,
    suite_workloads,
)
from bakeoff.engines import (
    ENGINE_NAMES,
    EngineOptions,
    create_engine,
    engine_class,
    is_installed,
)
from bakeoff.engines.base import memory_cap, option_variables
from bakeoff.output import Output
from bakeoff.reference import reference_answer
from bakeoff.runner import (
    Limits,
    RunRecord,
    Status,
    append_to_log,
    default_memory_limit,
    first_line,
    prepare_output,
    provenance,
    read_run_log,
    run_workload,
)
from datagen.cli import locate, usable_dataset
from datagen.dataset import Dataset, DatasetSpec
from shared.errors import InputError
from shared.lifetime import watch_parent
from workloads import Unsupported, Workload, get_workload, implementation


def check_environment(engines: Iterable[str]) -> None:
    """Parse now, with the parsers the benchmarks use, everything the suite reads from the
    environment (scales, workloads, ``BAKEOFF_TIMEOUT``, ``BAKEOFF_MEMORY_CAP``,
    ``BAKEOFF_CHAOS_KILL_AFTER``, and each engine's ``BAKEOFF_<ENGINE>_OPTIONS`` and
    ``_ADDRESS``): a bad value is then one line before any data or asv environment is made,
    not a failed cell per benchmark after them."""
    suite_scales()
    suite_workloads()
    suite_timeout()
    memory_cap()
    chaos.from_environment()
    for name in engines:
        try:
            engine_class(name).check_options(EngineOptions.from_environment(name))
        except InputError as error:
            raise InputError(f"{error}; set in {' or '.join(option_variables(name))}") from None


def suite_engine() -> str:
    """This environment's engine; NotImplementedError (asv: skipped) where there is none."""
    name = os.environ.get(ENGINE_VARIABLE, "")
    if name not in ENGINE_NAMES:
        raise NotImplementedError(f"no engine in this environment ({ENGINE_VARIABLE}={name!r})")
    if not is_installed(name):
        raise NotImplementedError(f"{name} is not installed in this environment")
    return name


class PreparedWorkload:
    """A started engine, its dataset and one validated run of the workload on it."""

    def __init__(self, workload_name: str, rows: int) -> None:
        try:
            engine_name, self.workload = check_cell(workload_name)
        except NotImplementedError as reason:
            record_peak(workload_name, rows, None, unsupported=str(reason))
            raise
        watch_parent()  # asv's benchmark process: if asv dies, so do it and its engine
        self.query = implementation(engine_name, self.workload)
        self.dataset = usable_dataset(
            DatasetSpec(
                table=self.workload.table, rows=rows, file_format=self.workload.file_format
            ),
            paths.data_root(),
        )
        self.engine = create_engine(engine_name)
        self._materialized: object | None = None
        self._output: Output | None = None  # a write workload's next output location
        self.samples = 0  # timed samples begun
        self.retried: RunRecord | None = None  # the one sample re-run after an engine error
        self.reference = reference_answer(self.dataset, self.workload)
        self.engine.start()
        self.record: RunRecord = run_workload(
            self.engine,
            self.workload,
            self.dataset,
            limits=suite_limits(rows),
            reference=self.reference,
            emit=lambda record: append_to_log(record, paths.run_log()),
        )
        if self.record.status != Status.OK:
            self.engine.stop()
            if self.record.status == Status.UNSUPPORTED:  # where the data is (Spark on S3)
                record_peak(workload_name, rows, None, unsupported=self.record.detail)
                raise NotImplementedError(self.record.detail)  # asv: skipped, with the reason
            raise RuntimeError(f"{self.record.status}: {self.record.detail}")
        record_peak(workload_name, rows, self.record.peak_bytes)

    def before_sample(self) -> None:
        """Untimed: release what the last sample kept, drop the engine's reusable caches, and
        for a write workload make a fresh output location (an append's earlier partitions
        in place)."""
        self.after_sample()
        self.engine.before_run()
        self._output = prepare_output(self.engine, self.workload, self.reference)
        self.samples += 1

    def run_once(self) -> None:
        """The timed work: Parquet on disk to the full result computed by the engine (a write
        workload: to the engine's writer having closed every file).

        The validated run succeeded, so an engine error in a timed sample may be a transient
        fault of the engine rather than its answer: the first one in a cell is re-run once,
        after the untimed cleanup, and the sample counts the re-run alone (``sample_timer``).
        The run log gets a record of it either way; a second error fails the cell."""
        began = time.perf_counter()
        try:
            self._materialized = self.engine.run(self.query, self.dataset, self._output)
            return
        except Exception as error:
            if self.retried is not None:
                raise
            first = error
        self.before_sample()
        self.samples -= 1  # the same sample, run again
        leave_out_of_sample(time.perf_counter() - began)
        try:
            self._materialized = self.engine.run(self.query, self.dataset, self._output)
        except Exception as second:
            self._record_retry(first, second)
            raise
        logging = time.perf_counter()
        self._record_retry(first, None)
        leave_out_of_sample(time.perf_counter() - logging)

    def _status_of(self, error: Exception) -> Status:
        return Status.OUT_OF_MEMORY if self.engine.is_out_of_memory(error) else Status.ERROR

    def _record_retry(self, first: Exception, second: Exception | None) -> None:
        """The run log's record of a re-run sample: the first error's status and both
        outcomes, beside the cell's validated run (the report shows it with the cell)."""
        rerun = "ok" if second is None else str(self._status_of(second))
        detail = f"timed sample {self.samples} raised {first_line(first)}; re-run once: "
        detail += (
            "ok, and the sample is the re-run's time"
            if second is None
            else f"{rerun} again ({first_line(second)})"
        )
        self.retried = dataclasses.replace(
            self.record,
            status=self._status_of(first),
            detail=detail,
            wall_s=None,
            peak_bytes=None,
            memory_method="",
            memory_timeline=[],
            digest=None,
            validated=False,
            output={},
            machine_load={},
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            retried_sample={"sample": self.samples, "error": first_line(first), "rerun": rerun},
        )
        append_to_log(self.retried, paths.run_log())

    def after_sample(self) -> None:
        """Untimed: drop the sample's result (a DuckDB table, Dask's persisted futures, a
        write workload's output directory)."""
        if self._output is not None:
            output, self._output, self._materialized = self._output, None, None
            output.remove()
        if self._materialized is not None:
            materialized, self._materialized = self._materialized, None
            self.engine.discard(materialized)

    def close(self) -> None:
        self.after_sample()
        self.engine.stop()


def suite_limits(rows: int) -> Limits:
    return Limits(timeout_s=suite_timeout(rows), memory_bytes=default_memory_limit())


def check_cell(workload_name: str) -> tuple[str, Workload]:
    """This environment's engine and the workload; NotImplementedError (asv: skipped) where
    there is no engine or it does not answer this workload, without starting anything."""
    engine_name = suite_engine()
    workload = get_workload(workload_name)
    query = implementation(engine_name, workload)
    if isinstance(query, Unsupported):
        raise NotImplementedError(query.reason)
    return engine_name, workload


def validated_peak(workload_name: str, rows: int) -> float:
    """The tree peak of this cell's validated run under asv, without running it twice.

    asv runs ``time_query`` and the peak benchmark of a cell in separate processes. The timing
    process's validated run is in the run log; when it was made by this asv commit and
    environment, on this dataset, under the same limits, its peak is this cell's. Otherwise
    (asv resumed, ``--bench`` chose only the peak, the run failed) the cell is prepared here.
    """
    engine_name, workload = check_cell(workload_name)
    record = _logged_run(engine_name, workload, rows)
    if record is None:
        record = prepared_workload(workload_name, rows).record
    return float(record.peak_bytes)


def _logged_run(engine_name: str, workload: Workload, rows: int) -> RunRecord | None:
    """The newest validated run of this cell by this asv commit and environment, if any."""
    here = provenance()
    if not here.get("asv_env_name") or here.get("harness_commit") in (None, "", "unknown"):
        return None  # not under asv: nothing identifies the run to reuse
    path, url = locate(
        DatasetSpec(table=workload.table, rows=rows, file_format=workload.file_format),
        paths.data_root(),
    )
    try:
        checksum = Dataset.open(path, url).checksum
    except Exception:  # missing or unreadable: preparing the cell says what is wrong
        return None
    limits = suite_limits(rows).recorded()
    found = None
    for record in read_run_log(paths.run_log()).records:  # a damaged line is no record
        if (
            record.engine == engine_name
            and record.workload == workload.name
            and record.rows == rows
            and record.status == Status.OK
            and record.validated
            and record.peak_bytes is not None
            and record.dataset.get("checksum") == checksum
            and record.limits == limits
            and all(record.provenance.get(key) == here[key] for key in _SAME_RUN)
        ):
            found = record
    return found


_SAME_RUN = ("harness_commit", "asv_env_name", "machine")
_current: PreparedWorkload | None = None


def prepared_workload(workload_name: str, rows: int) -> PreparedWorkload:
    """The prepared workload, kept across asv's calls to ``setup`` within one process.

    asv re-runs ``setup`` (after ``teardown``) before every timing sample. Starting the engine
    and validating again each time would measure nothing new and cost a Spark start per
    sample; instead the samples are consecutive warm runs in one session, the way
    db-benchmark times a query twice in a row. Only one engine is alive at a time.
    """
    global _current
    if _current is not None and (_current.workload.name, _current.dataset.spec.rows) == (
        workload_name,
        rows,
    ):
        return _current
    if _current is not None:
        _current.close()
        _current = None
    _current = PreparedWorkload(workload_name, rows)
    return _current


@atexit.register
def _close_current() -> None:
    if _current is not None:
        _current.close()
