"""Processes that end when the process that started them dies.

``kill -9``, the kernel's out-of-memory killer or a closed terminal end a process without
running any of its cleanup, so whatever it started (a run's worker with its JVM or Dask
workers, the generator's writer processes, asv) would run on, reparented to PID 1, to the end
of its work, holding memory, CPU and, for the generator, the dataset's lock. Each such child
watches its parent instead: when the parent is gone, it kills everything it started and then
itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

import psutil

WATCH_INTERVAL_S = 0.25  # how soon a child notices (the check is one getppid call)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_watched_in: int | None = None  # the pid whose watcher runs (a forked child has no threads)


def end_everything_started_here() -> None:
    """SIGKILL to every descendant of this process, then to this process."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    os.kill(os.getpid(), signal.SIGKILL)


def watch_parent(interval_s: float = WATCH_INTERVAL_S) -> None:
    """Start a daemon thread that ends this process and everything under it once its parent
    has died (this process is then reparented, so ``getppid`` changes). Call it in the child,
    first thing: a parent already gone by then is noticed at the first check. One watcher a
    process: later calls do nothing."""
    global _watched_in
    if _watched_in == os.getpid():
        return
    _watched_in = os.getpid()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        end_everything_started_here()

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def die_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)`` of a program that is not ours (asv): Linux
    delivers SIGKILL to the child when this process dies. Elsewhere, nothing (the program's
    own children still watch their parents where they run our code)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
