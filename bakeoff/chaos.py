"""Fault injection: kill one worker of a cluster in the middle of a timed run.

``BAKEOFF_CHAOS_KILL_AFTER=1.5`` (seconds; ``1.5s`` and ``500ms`` read too) makes every run
of the session a fault-tolerance test: that long after the timed region starts, one worker of
the engine's cluster is killed with SIGKILL, its whole process tree (Spark: the Worker daemon,
its executor and Python workers; Dask: the nanny and its worker process), as a machine that
dies would take it. The run then goes on as usual and its record says what happened:
``recovered`` when the engine finished and the answer still matches the reference, else the
usual ``wrong_answer`` / ``error`` / ``timeout`` with "after a worker was killed" in the detail.

The engine names its workers (:meth:`bakeoff.engines.base.Engine.worker_processes`); this
module only knows how to kill a process tree. A worker can only be killed on this machine, so
at least two of the cluster's workers must run here. An engine with no worker process (DuckDB,
Polars, Vaex, Spark in local mode) gets ``unsupported``, saying why; a cluster of one worker
cannot survive losing it, and is refused with ``error`` before anything runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

from shared.errors import InputError
from shared.units import positive_number

if TYPE_CHECKING:
    from bakeoff.engines.base import Engine

KILL_AFTER_VARIABLE = "BAKEOFF_CHAOS_KILL_AFTER"
MIN_WORKERS = 2  # one to lose, one to carry on
# Status values as bakeoff.runner.Status spells them (kept as text: the runner imports us).
OK, RECOVERED, UNSUPPORTED, ERROR = "ok", "recovered", "unsupported", "error"


def parse_seconds(text: str, name: str = KILL_AFTER_VARIABLE) -> float:
    """``"2"``, ``"2s"``, ``"1.5 s"``, ``"500ms"`` -> seconds; InputError on anything else."""
    value = text.strip().lower().replace(" ", "")
    scale = 1.0
    if value.endswith("ms"):
        value, scale = value[:-2], 1e-3
    elif value.endswith("s"):
        value = value[:-1]
    try:
        return positive_number(value, name) * scale
    except InputError:
        raise InputError(f"{name} is a positive time (2, 1.5s, 500ms), not {text!r}") from None


def from_environment() -> WorkerKill | None:
    """The fault ``BAKEOFF_CHAOS_KILL_AFTER`` asks for, or None."""
    text = os.environ.get(KILL_AFTER_VARIABLE, "").strip()
    return WorkerKill(after_s=parse_seconds(text)) if text else None


def kill_tree(pid: int) -> tuple[float, list[int]]:
    """SIGKILL a process and every descendant (all found before the first dies); the
    ``time.perf_counter()`` at which the first signal went out, and the pids."""
    root = psutil.Process(pid)
    if pid == os.getpid() or root in psutil.Process().parents():
        raise RuntimeError(f"refusing to kill process {pid}: it is this run or its parent")
    tree = [root, *root.children(recursive=True)]
    sent = time.perf_counter()
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(tree, timeout=10)
    return sent, [process.pid for process in tree]


@dataclass
class WorkerKill:
    """One run's fault: which worker dies, when, and what the run made of it."""

    after_s: float
    workers: dict[str, int] = field(default_factory=dict)  # name -> root pid on this machine
    killed: str | None = None
    killed_at_s: float | None = None  # since the timed region started
    killed_pids: list[int] = field(default_factory=list)
    run_ended_at_s: float | None = None
    failure: str | None = None  # why the kill itself failed
    refused: bool = False  # the engine cannot take the fault: the run is not made

    def refusal(self, engine: Engine) -> tuple[str, str] | None:
        """(status, detail) when this engine cannot take the fault; None when it can."""
        self.workers = engine.worker_processes()
        self.refused = len(self.workers) < MIN_WORKERS
        if not self.workers:
            return UNSUPPORTED, f"fault tolerance: {engine.no_worker_reason()}"
        if self.refused:
            return ERROR, (
                f"fault tolerance needs {MIN_WORKERS} or more workers on this machine; "
                f"found {len(self.workers)}"
            )
        return None

    @contextlib.contextmanager
    def during_run(self) -> Iterator[None]:
        """Arm the kill for ``after_s`` after entry (the start of the timed region)."""
        started = time.perf_counter()
        timer = threading.Timer(self.after_s, self._kill, args=(started,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            self.run_ended_at_s = time.perf_counter() - started
            timer.cancel()
            timer.join()

    def _kill(self, started: float) -> None:
        name = sorted(self.workers)[-1]
        try:
            sent, self.killed_pids = kill_tree(self.workers[name])
        except (psutil.Error, RuntimeError) as error:
            self.failure = f"could not kill {name}: {error}"
            return
        self.killed, self.killed_at_s = name, sent - started

    def outcome(self, status: str, detail: str) -> tuple[str, str]:
        """The record's status and detail, given what the run would have said without us."""
        if self.refused or status == UNSUPPORTED:
            return status, detail
        if self.killed is not None and self.killed_at_s > (self.run_ended_at_s or math.inf):
            self.failure = (
                f"{self.killed} was killed at t={self.killed_at_s:.2f} s, after the run ended "
                f"at t={self.run_ended_at_s:.2f} s"
            )
            self.killed = None
        if self.killed is None:
            why = self.failure or (
                f"the run ended at t={self.run_ended_at_s:.2f} s, before the kill at "
                f"t={self.after_s:g} s"
                if self.run_ended_at_s is not None
                else "the run never started"
            )
            return status, f"no worker was killed ({why}); {detail}"
        killed = f"{self.killed} killed at t={self.killed_at_s:.2f} s"
        if status == OK:
            return RECOVERED, f"{killed}; recovered, answer validated: {detail}"
        return status, f"after a worker was killed ({killed}): {detail}"

    def recorded(self) -> dict[str, Any]:
        """What the record keeps of the fault, under ``settings["fault_injection"]``."""
        return {
            "kill_worker_after_s": self.after_s,
            "workers": len(self.workers),
            "killed": self.killed,
            "killed_at_s": None if self.killed_at_s is None else round(self.killed_at_s, 3),
            "killed_pids": self.killed_pids,
        }
