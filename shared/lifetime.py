"""Processes that end when the process that started them dies, and directories that name the
process they belong to.

``kill -9``, the kernel's out-of-memory killer or a closed terminal end a process without
running any of its cleanup, so whatever it started (a run's worker with its JVM or Dask
workers, the generator's writer processes, asv) would run on, reparented to PID 1, to the end
of its work, holding memory, CPU and, for the generator, the dataset's lock. So each such child
watches its parent and, once the parent is gone, kills everything it started and then itself:

- A :class:`Lifeline` is a pipe whose write end only the parent holds: the child's read sees
  end-of-file the moment the parent is gone, however and whenever it died, even before the
  child began to watch (the end-of-file waits for it). The parent never writes to it.
- Without one, the child polls its parent, naming the pid it expects so that a parent that
  died before the watch began is noticed too (:func:`watch_parent`); on Linux the kernel can
  also send SIGKILL to a direct child at its parent's death (:func:`die_with_parent`), which
  needs no thread of the child to run but reaches none of the child's own children.

What a killed process leaves on disk is removed at the next start, but only what surely
belongs to a dead process: :func:`claim` writes into a directory who owns it (host and PID
namespace, boot, pid, start time), and :func:`abandoned` says a directory may go only when
every owner it names is known to be dead, never for a live owner, one whose pid was reused
by now, or one on another machine sharing the file system.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from shared import atomic

LIFELINE_VARIABLE = "BAKEOFF_LIFELINE_FD"  # the child's read end of its Lifeline, by number
WATCH_INTERVAL_S = 0.25  # how soon a polling child notices (the check is one getppid call)
OWNER_FILE = ".owner.json"  # in a claimed directory: who it belongs to
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_watched_in: int | None = None  # the pid whose watcher runs (a forked child has no threads)
_prctl: Any = None  # looked up before any fork: a forked child of threads must not dlopen
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        _prctl = ctypes.CDLL(None, use_errno=True).prctl


class Lifeline:
    """The parent's side of a pipe that tells a child when the parent has died.

    Both ends are created non-inheritable: only the child named in :meth:`popen_arguments`
    receives the read end, and the write end stays in this process alone, so no other
    program it starts can keep the pipe open after it dies. Close it once the child is gone.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()

    def popen_arguments(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``pass_fds`` and ``env`` for ``subprocess.Popen`` of a child that calls
        :func:`watch_parent` (``env`` defaults to this process's environment)."""
        base = os.environ if env is None else env
        return {"pass_fds": (self._read,), "env": {**base, LIFELINE_VARIABLE: str(self._read)}}

    def started(self) -> None:
        """The child has its copy of the read end: drop this process's."""
        self._close_read()

    def close(self) -> None:
        """Cut the line: a child still watching it ends now."""
        self._close_read()
        if self._write >= 0:
            os.close(self._write)
            self._write = -1

    def _close_read(self) -> None:
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def __enter__(self) -> Lifeline:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def end_everything_started_here() -> None:
    """SIGKILL to every descendant of this process, to its process group if it leads one (a
    JVM or Dask worker whose own parent is already gone is no longer a descendant, but is
    still in the group), then to this process."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)  # this process included
    os.kill(os.getpid(), signal.SIGKILL)


def _lifeline_from_environment() -> int | None:
    """The read end of this process's Lifeline, taken out of the environment so that no
    program started from here mistakes some other descriptor of that number for it."""
    value = os.environ.pop(LIFELINE_VARIABLE, None)
    if value is None or not value.isdigit():
        return None
    descriptor = int(value)
    try:
        if not stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            return None
    except OSError:
        return None
    os.set_inheritable(descriptor, False)
    return descriptor


def _until_end_of_file(descriptor: int, parent: int, interval_s: float) -> None:
    try:
        while os.read(descriptor, 4096):  # the parent never writes; only end-of-file comes
            pass
    except OSError:  # the line itself was lost (closed here by mistake): watch the pid instead
        _while_alive(parent, interval_s)
    end_everything_started_here()


def _while_alive(parent: int, interval_s: float) -> None:
    if parent == os.getppid():  # a direct child: one cheap call a check, and exact
        while os.getppid() == parent:
            time.sleep(interval_s)
    else:  # a process further up, or one already gone (then this process was reparented)
        with contextlib.suppress(psutil.Error):
            watched = psutil.Process(parent)
            # is_running compares start times (a reused pid is not the parent); a zombie is dead
            while watched.is_running() and watched.status() != psutil.STATUS_ZOMBIE:
                time.sleep(interval_s)
    end_everything_started_here()


def watch_parent(parent: int | None = None, interval_s: float = WATCH_INTERVAL_S) -> None:
    """Start a daemon thread that ends this process and everything under it once its parent
    is gone: the parent's :class:`Lifeline` when it passed one, else process ``parent`` (by
    default this process's parent when called, so call it first thing: a parent that died
    before the call would go unnoticed). One watcher a process: later calls do nothing."""
    global _watched_in
    if _watched_in == os.getpid():
        return
    _watched_in = os.getpid()
    lifeline = _lifeline_from_environment()
    expected = os.getppid() if parent is None else parent
    if lifeline is not None:
        watch = threading.Thread(target=_until_end_of_file, args=(lifeline, expected, interval_s))
    else:
        watch = threading.Thread(target=_while_alive, args=(expected, interval_s))
    watch.name, watch.daemon = "watch-parent", True
    watch.start()


def die_with_parent() -> None:
    """Ask Linux to send this process SIGKILL when its parent dies; elsewhere nothing.

    Usable as ``subprocess.Popen(preexec_fn=...)`` for a program that is not ours (asv), or
    first thing in a child of ours. The kernel acts even while no thread of the child can run,
    but reaches the child alone, and counts the death of the parent's *thread* that started the
    child: start such children from a thread that outlives them (the main thread). Check the
    parent afterwards (:func:`watch_parent` with its pid does): one that died before this
    call is not signalled.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# -- owners of directories ---------------------------------------------------------------------


def _host() -> str:
    """This machine's name, and its PID namespace when not the initial one: containers that
    share a host name (or a file system) number their processes independently."""
    try:
        namespace = f"/pidns:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        namespace = ""
    return socket.gethostname() + namespace


def _boot() -> str:
    """What tells this boot from the machine's earlier ones."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"boot-time:{psutil.boot_time():.0f}"


def identity(pid: int | None = None) -> dict[str, Any]:
    """Who a process is, beyond a pid that the system may give to another one later."""
    process = psutil.Process(pid)
    return {"host": _host(), "boot": _boot(), "pid": process.pid, "started": process.create_time()}


def is_dead(owner: Mapping[str, Any]) -> bool:
    """Whether the process ``owner`` (:func:`identity`) is known to have ended: it ran on this
    machine and namespace, and the boot it ran in is over, or it is a zombie, or its pid is
    free or another process's. One on another machine may be alive: not known dead."""
    try:
        if owner["host"] != _host():
            return False
        if owner["boot"] != _boot():
            return True
        process = psutil.Process(int(owner["pid"]))
        if process.create_time() != float(owner["started"]):
            return True  # the pid is another process's now
        return process.status() == psutil.STATUS_ZOMBIE  # ended, not yet reaped
    except psutil.NoSuchProcess:
        return True
    except (KeyError, TypeError, ValueError, psutil.Error):
        return False  # not a record we can read, or a process we may not see: not known


def claim(directory: Path, *pids: int) -> None:
    """Record in ``directory`` the processes it belongs to (default: this one), written
    whole or not at all. It is abandoned once they have all died (:func:`abandoned`)."""
    owners = []
    for pid in pids or (None,):
        with contextlib.suppress(psutil.NoSuchProcess):  # one already gone owns nothing
            owners.append(identity(pid))
    if not owners:
        return
    atomic.write_text(directory / OWNER_FILE, json.dumps({"owners": owners}) + "\n")


def abandoned(directory: Path, pid_in_name: int | None = None) -> bool:
    """Whether ``directory`` surely belongs to nobody alive: every owner it records is dead.
    A directory with no record (made before records were kept, or its owner was killed
    before writing one) falls back on ``pid_in_name``, the pid its name gives, if any."""
    try:
        owners = json.loads((directory / OWNER_FILE).read_text())["owners"]
    except FileNotFoundError:
        return pid_in_name is not None and not psutil.pid_exists(pid_in_name)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(owners, list) and bool(owners) and all(is_dead(owner) for owner in owners)
