"""Whether the machine was busy while a cell ran: load average, CPU steal, other processes.

A timing taken while something else used the cores is slower and noisier than the engine is.
The run log records, around each cell's validated run, what the rest of the machine did: the
1-minute load average (``os.getloadavg``), the share of CPU time the hypervisor stole (the
``steal`` column of ``/proc/stat``, read through psutil) and the share of all cores that
*other* processes used, that is the machine's busy CPU time (``/proc/stat``) less the CPU time
of this run's own process tree (the bench process and everything under it: asv, the
benchmark process, a JVM, Dask workers). Counting it that way also catches processes too short
to be seen by walking the process list.

A cell is marked busy when other processes used more than ``BUSY_OTHER_SHARE`` of all cores in
any window around it; ``bakeoff bench`` warns before it starts when the machine is not idle.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

# Other processes above this share of all cores (half a core on a 2-core machine) make a cell
# busy: one core's worth of interference is already a large error on a 2-core machine.
BUSY_OTHER_SHARE = 0.25
# The window sampled just before a validated run: long enough to see a busy neighbour, short
# enough to cost little over a catalogue of a few hundred cells.
BEFORE_WINDOW_S = 0.25
# Shorter windows are recorded but never mark a cell busy.
MIN_JUDGED_WINDOW_S = 0.1
# ``bakeoff bench``'s idle check at start takes a longer look.
IDLE_CHECK_WINDOW_S = 1.0
# The bench process; its descendants are this run's own tree (set by ``bakeoff bench`` so the
# benchmark processes asv starts exclude asv and the bench process too).
RUN_PID_VARIABLE = "BAKEOFF_RUN_PID"


@dataclass(frozen=True)
class LoadSample:
    """What the machine did during one window."""

    window_s: float
    load_1m: float  # the load average at the window's end (includes this run's processes)
    steal_share: float  # share of all CPU time stolen by the hypervisor
    other_share: float  # share of all cores used by processes outside this run's tree
    cores: int

    @property
    def busy(self) -> bool:
        """Others above the threshold, in a window long enough to judge (the kernel counts
        CPU time in ticks of 10 ms: a 20 ms window is a handful of ticks)."""
        return self.window_s >= MIN_JUDGED_WINDOW_S and self.other_share > BUSY_OTHER_SHARE

    def to_dict(self) -> dict[str, Any]:
        return {key: round(value, 4) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class _Counters:
    at: float
    busy_s: float  # CPU seconds, all cores, not idle, not stolen
    total_s: float  # CPU seconds, all cores, everything
    steal_s: float
    ours: dict[int, float]  # CPU seconds of each live process of this run's tree


def _run_root() -> psutil.Process:
    """The root of this run's process tree: the bench process if alive, else this process."""
    pid = os.environ.get(RUN_PID_VARIABLE, "")
    if pid.isdigit():
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(int(pid))
            if root.pid == os.getpid() or os.getpid() in {
                p.pid for p in root.children(recursive=True)
            }:
                return root
    return psutil.Process()


def _cpu_of(process: psutil.Process) -> float:
    """CPU seconds of a process with the children it has reaped: a peer script or a cell's
    process that ended within the window stays this run's, not another's."""
    times = process.cpu_times()
    reaped = getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
    return times.user + times.system + reaped


def _tree(root: psutil.Process) -> Iterator[tuple[psutil.Process, float]]:
    """Each live process of the tree with its CPU seconds (:func:`_cpu_of`)."""
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            cpu = _cpu_of(process)
            yield process, cpu


def _tree_cpu(root: psutil.Process) -> dict[int, float]:
    return {process.pid: cpu for process, cpu in _tree(root)}


class _OwnProcesses:
    """This run's processes, by pid, with the CPU seconds each had when last seen.

    A process once seen in the tree stays this run's when its parent ends before it: a JVM
    whose Python exits is reparented to init, which alone reaps it, so its CPU never reaches
    the tree's reaped-children times (PySpark's JVM outlives every peer script: 24 s of CPU
    each, counted as another process's before). Such an orphan keeps its last-seen CPU once
    it has ended. A process that vanished from the tree without being seen as an orphan was
    reaped inside it, and its CPU is in its parent's reaped times."""

    def __init__(self, root: psutil.Process):
        self.root = root
        self._seen: dict[int, psutil.Process] = {}
        self._orphans: dict[int, float] = {}
        self._lock = threading.Lock()

    def cpu(self) -> dict[int, float]:
        with self._lock:
            found = {}
            for process, cpu in _tree(self.root):
                found[process.pid] = cpu
                self._seen.setdefault(process.pid, process)
            for pid, process in self._seen.items():
                if pid in found:
                    continue
                with contextlib.suppress(psutil.Error):
                    if process.is_running():  # same pid and start time: alive outside the tree
                        self._orphans[pid] = _cpu_of(process)
            return {**self._orphans, **found}


def _counters(ours: _OwnProcesses) -> _Counters:
    times = psutil.cpu_times()  # /proc/stat on Linux; guest time is already inside user
    steal = getattr(times, "steal", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
    return _Counters(time.monotonic(), busy, busy + idle + steal, steal, ours.cpu())


def _between(start: _Counters, end: _Counters) -> LoadSample:
    total = max(end.total_s - start.total_s, 1e-9)
    # A process of ours that started in the window counts whole; one that ended is unknown.
    ours = sum(cpu - start.ours.get(pid, 0.0) for pid, cpu in end.ours.items())
    others = max(0.0, (end.busy_s - start.busy_s) - ours)
    return LoadSample(
        window_s=end.at - start.at,
        load_1m=os.getloadavg()[0],
        steal_share=max(0.0, end.steal_s - start.steal_s) / total,
        other_share=min(1.0, others / total),
        cores=psutil.cpu_count(logical=True) or 1,
    )


@dataclass
class LoadMeter:
    """Consecutive windows (laps) of machine load around one run, named ``before`` /
    ``during`` / ``after``; :meth:`recorded` is what a run record keeps.

    With ``poll_s``, a thread also looks at this run's processes that often until
    :meth:`close`, so that one started and orphaned within a lap (a fresh process's JVM) is
    seen and stays this run's (:class:`_OwnProcesses`)."""

    root: psutil.Process = field(default_factory=_run_root)
    laps: dict[str, LoadSample] = field(default_factory=dict)
    poll_s: float | None = None

    def __post_init__(self) -> None:
        self._ours = _OwnProcesses(self.root)
        self._last = _counters(self._ours)
        self._stop = threading.Event()
        if self.poll_s:
            threading.Thread(target=self._poll, args=(self.poll_s,), daemon=True).start()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with contextlib.suppress(psutil.Error):
                self._ours.cpu()

    def close(self) -> None:
        self._stop.set()

    def lap(self, name: str, min_window_s: float = 0.0) -> LoadSample:
        """The load since the previous lap (waiting until ``min_window_s`` has passed)."""
        if (wait := min_window_s - (time.monotonic() - self._last.at)) > 0:
            time.sleep(wait)
        now = _counters(self._ours)
        self.laps[name] = _between(self._last, now)
        self._last = now
        return self.laps[name]

    @property
    def busy(self) -> bool:
        return any(sample.busy for sample in self.laps.values())

    def recorded(self) -> dict[str, Any]:
        return {
            **{name: sample.to_dict() for name, sample in self.laps.items()},
            "busy": self.busy,
            "busy_other_share": BUSY_OTHER_SHARE,
        }


def sample_load(window_s: float = IDLE_CHECK_WINDOW_S) -> LoadSample:
    """The machine's load over the next ``window_s`` seconds."""
    return LoadMeter().lap("window", window_s)


def busiest_others(window_s: float, count: int = 3) -> list[tuple[str, float]]:
    """The processes outside this run's tree that used the most CPU over ``window_s``: name
    and share of all cores, highest first."""
    ours = set(_tree_cpu(_run_root()))

    def cpu() -> dict[int, tuple[str, float]]:
        found = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if process.pid not in ours and times is not None:
                found[process.pid] = (process.info["name"] or "?", times.user + times.system)
        return found

    start = cpu()
    time.sleep(window_s)
    capacity = window_s * (psutil.cpu_count(logical=True) or 1)
    used = [
        (name, (seconds - start[pid][1]) / capacity)
        for pid, (name, seconds) in cpu().items()
        if pid in start
    ]
    return sorted((u for u in used if u[1] > 0), key=lambda u: -u[1])[:count]


def idle_warning(window_s: float = IDLE_CHECK_WINDOW_S) -> str | None:
    """A warning for ``bakeoff bench`` to print when other processes use the machine, else
    None. Judged on the CPU they used in the window, not on the load average, which still
    counts for minutes a process that has just ended (a killed run's JVM)."""
    sample = sample_load(window_s)
    if not sample.busy:
        return None
    top = ", ".join(f"{name} {share:.0%}" for name, share in busiest_others(window_s))
    return (
        f"warning: the machine is not idle: other processes used {sample.other_share:.0%} of "
        f"the {sample.cores} cores over {sample.window_s:.1f} s (load average "
        f"{sample.load_1m:.2f}, CPU steal {sample.steal_share:.0%})"
        + (f"; busiest: {top}" if top else "")
        + ". Timings taken now are slower and noisier than the engines are; cells measured "
        f"while others use more than {BUSY_OTHER_SHARE:.0%} of the cores are marked busy in "
        "the report."
    )
