"""Runs workloads in a worker process and turns every way it can end into records.

The worker enforces the time and memory limits itself (see :mod:`bakeoff.runner`); the
supervisor adds what only a parent can see: a worker killed by a signal (the kernel's OOM
killer sends SIGKILL), a worker that crashed, and a worker that stopped answering at all.
After a crash the remaining workloads run in a fresh worker, so one failure never stops a run.

A worker never outlives its supervisor, however the supervisor dies (``kill -9`` included): it
watches a :class:`shared.lifetime.Lifeline` and then kills its process group. It spills and
writes into a scratch directory of its own, removed once it is gone, or at the next start when
a killed run could not (:func:`_remove_abandoned_scratch`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from bakeoff import paths
from bakeoff.engines import EngineOptions, create_engine
from bakeoff.runner import EXIT_ABORTED, Limits, RunRecord, Status, new_record
from datagen.dataset import Dataset
from shared.lifetime import Lifeline, abandoned, claim
from workloads.spec import Workload

STARTUP_ALLOWANCE_S = 300.0  # engine start (JVM, Dask cluster) before the first workload
# + the supervisor's pid: a worker's request, records and log in the temporary directory, and
# its own scratch directory (spill files, outputs) under the scratch directory
SCRATCH_PREFIX = "bakeoff-run-"


def _remove_abandoned_scratch(*parents: Path) -> None:
    """Remove the scratch directories that killed runs left (a ``bakeoff run`` killed with -9
    ran no cleanup): those whose supervisor and worker are both known dead. A live run's stay,
    this one's included, and so does one that another machine sharing the disk may be using."""
    for parent in parents or (Path(tempfile.gettempdir()), paths.scratch_dir()):
        try:
            found = [path for path in parent.glob(f"{SCRATCH_PREFIX}*") if path.is_dir()]
        except OSError:
            continue
        for path in found:
            owner = path.name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
            if abandoned(path, int(owner) if owner.isdigit() else None):
                shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _worker_scratch() -> Iterator[Path]:
    """A scratch directory of the worker's own under the scratch directory, where its engine
    spills and its outputs go, removed with everything in it once the worker is gone (a
    worker killed mid-query leaves its files). Whose it is can be told, unlike the
    directories an engine names itself in a scratch directory shared by all runs."""
    root = paths.scratch_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=root))
    try:
        claim(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no output"


def _read_records(path: Path) -> list[RunRecord]:
    """The worker's records; a last line cut short by a kill is not a record."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(RunRecord.from_json(line))
        except ValueError:
            break
    return records


def _kill_group(process: subprocess.Popen) -> None:
    """Kill everything the worker started: its JVM, Dask workers, and their children.

    The worker leads a process group of its own, so this reaches processes that a dead
    worker left behind, which a walk of its (now gone) process tree could not.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _crash_detail(returncode: int, log: Path) -> tuple[Status, str]:
    if returncode == -signal.SIGKILL:
        return (
            Status.OUT_OF_MEMORY,
            "worker killed by SIGKILL (most likely the kernel's out-of-memory killer)",
        )
    if returncode < 0:
        return Status.ERROR, f"worker died of signal {signal.Signals(-returncode).name}"
    return Status.ERROR, f"worker exited with code {returncode}: {_last_line(log)}"


def run_supervised(
    engine_name: str,
    options: EngineOptions,
    dataset: Dataset,
    workloads: list[Workload],
    limits: Limits,
    *,
    share_session: bool = False,
) -> Iterator[RunRecord]:
    """One record per workload, in order, whatever happens to the worker, each as soon as it
    is known (so an interrupted run keeps the records it finished).

    By default every workload gets a fresh worker and engine, as under asv: a peak measured
    after other queries would start from their leftovers (allocator caches, JVM heap) and
    say less than the query needs. ``share_session`` runs them all in one worker, faster.
    """
    batches = [list(workloads)] if share_session else [[w] for w in workloads]
    for batch in batches:
        yield from _run_in_workers(engine_name, options, dataset, batch, limits)


def _run_in_workers(
    engine_name: str,
    options: EngineOptions,
    dataset: Dataset,
    workloads: list[Workload],
    limits: Limits,
) -> Iterator[RunRecord]:
    """Run ``workloads`` in one worker, and in fresh ones after any crash."""
    engine = create_engine(engine_name, options)  # not started: names version and settings
    remaining = list(workloads)
    while remaining:
        _remove_abandoned_scratch()
        with (
            tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch,
            _worker_scratch() as worker_scratch,
        ):
            claim(Path(scratch))
            records_path, log_path = Path(scratch) / "records.jsonl", Path(scratch) / "worker.log"
            request = {
                "engine": engine_name,
                "options": asdict(options),
                "dataset": str(dataset.path),
                "dataset_url": dataset.url,
                "workloads": [w.name for w in remaining],
                "limits": asdict(limits),
                "records": str(records_path),
            }
            backstop = (
                STARTUP_ALLOWANCE_S + len(remaining) * (limits.timeout_s + 60)
                if limits.timeout_s
                else None
            )
            # The worker ends when this process dies, by any means: the lifeline's end-of-file
            # tells it, and it kills its process group (JVM, Dask workers) and itself.
            with open(log_path, "wb") as log, Lifeline() as lifeline:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "bakeoff.worker"],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    **lifeline.popen_arguments(
                        {**os.environ, "BAKEOFF_SCRATCH_DIR": str(worker_scratch)}
                    ),
                )
                lifeline.started()
                for owned in (Path(scratch), worker_scratch):  # alive while either is
                    claim(owned, os.getpid(), worker.pid)
                worker.stdin.write(json.dumps(request).encode())
                worker.stdin.close()
                hung, interrupted = False, None
                try:
                    worker.wait(timeout=backstop)
                except subprocess.TimeoutExpired:
                    hung = True
                except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM (see bakeoff.cli)
                    interrupted = error
                finally:  # nothing of a worker outlives it, even on Ctrl-C
                    _kill_group(worker)
            finished = _read_records(records_path)
            yield from finished  # an interrupted run still keeps what it finished
            if interrupted is not None:
                raise interrupted
            done = {record.workload for record in finished}
            remaining = [w for w in remaining if w.name not in done]
            # Workloads run in order, so a worker that died ran remaining[0]; a worker its own
            # watchdog ended has already recorded why, and the rest simply go on.
            if remaining and (hung or worker.returncode != EXIT_ABORTED):
                status, detail = (
                    (Status.TIMEOUT, f"worker stopped answering within {backstop:g} s")
                    if hung
                    else _crash_detail(worker.returncode, log_path)
                )
                yield new_record(
                    engine, remaining.pop(0), dataset, status, detail, limits=limits.recorded()
                )
