"""Peak memory of a whole process tree: exact for this process, sampled for its children.

asv's own ``peakmem_`` only sees the benchmark's Python process; the engines we measure
do their work in a JVM (Spark), in worker processes (Dask) or in native threads. The probe
sums the resident set size of the process and all of its descendants, so every byte an
engine holds on our behalf is counted.

Sampling every 20 ms can miss a short peak. For the measuring process itself, where DuckDB,
Polars and Vaex do all their work, the kernel keeps an exact high-water mark (``VmHWM``),
which the probe resets on entry (``/proc/self/clear_refs``, value 5) and reads on exit.
Child processes (Spark's JVM, Dask's workers) have no mark we may reset, so they are sampled.
Each report says which method its number used (``MemoryReport.method``).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import psutil

DEFAULT_INTERVAL_S = 0.02
EXACT = "exact: this process's kernel high-water mark (VmHWM); no child processes"
MIXED = "this process exact (VmHWM) + child processes sampled every {interval:g} ms"
SAMPLED = "sampled every {interval:g} ms (no resettable high-water mark here)"
# Reading the RSS of known processes is cheap; finding new descendants scans all of /proc
# (about 1.5 ms with 70 processes), so the tree is re-scanned only every few samples: a child
# is seen within ``RESCAN_EVERY * interval`` of its start, at a few per mille of one core.
RESCAN_EVERY = 10


def tree_processes(root: psutil.Process) -> list[psutil.Process]:
    """``root`` and its live descendants (finding them scans every process: the costly part)."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss_of(processes: list[psutil.Process]) -> int:
    """Resident bytes of ``processes``; a process that ended meanwhile counts nothing."""
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and every live descendant."""
    return rss_of(tree_processes(root))


def reset_high_water_mark() -> bool:
    """Reset this process's VmHWM to its current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def high_water_mark() -> int | None:
    """This process's peak resident bytes since the last reset (VmHWM), if the kernel says."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass
class MemoryReport:
    """What one probed interval used: the peak above the baseline, and how it got there."""

    baseline_bytes: int
    peak_bytes: int  # peak tree RSS minus the baseline, never negative
    peak_total_bytes: int
    samples: int
    method: str = ""  # how the peak was measured: exact, mixed or sampled
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds, tree bytes)


class TreeMemoryProbe:
    """Samples the tree RSS of ``pid`` on a background thread while the ``with`` block runs.

    The baseline is taken on entry, so the peak reported is what the measured work added on top
    of an already started engine. ``limit_bytes``, when set, makes ``exceeded`` true as soon as
    a sample of the whole tree goes over it, so a supervisor can stop the run.
    """

    def __init__(
        self,
        pid: int | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        limit_bytes: int | None = None,
        on_exceed: callable | None = None,
    ) -> None:
        self._root = psutil.Process(pid or os.getpid())
        self._interval_s = interval_s
        self._limit_bytes = limit_bytes
        self._on_exceed = on_exceed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timeline: list[tuple[float, int]] = []
        self._baseline = 0
        self._peak_total = 0
        self._t0 = 0.0
        self._samples = 0
        self._processes: list[psutil.Process] = []
        self._own = self._root.pid == os.getpid()  # only our own mark can be reset and read
        self._exact = False
        self._children_seen = False
        self._children_min: int | None = None  # the least the children held in any sample
        self.exceeded = False
        self.report: MemoryReport | None = None

    def _sample(self, rescan: bool = False) -> None:
        self._samples += 1
        if rescan or self._samples % RESCAN_EVERY == 0:
            self._processes = tree_processes(self._root)
        own = rss_of(self._processes[:1])
        children = rss_of(self._processes[1:])
        rss = own + children
        if len(self._processes) > 1:
            self._children_seen = True
        if self._children_min is None or children < self._children_min:
            self._children_min = children
        self._timeline.append((time.perf_counter() - self._t0, rss))
        self._peak_total = max(self._peak_total, rss)
        if self._limit_bytes and rss > self._limit_bytes and not self.exceeded:
            self.exceeded = True
            if self._on_exceed is not None:
                self._on_exceed(rss)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def __enter__(self) -> TreeMemoryProbe:
        self._exact = self._own and reset_high_water_mark()
        self._t0 = time.perf_counter()
        self._processes = tree_processes(self._root)
        self._baseline = rss_of(self._processes)
        self._peak_total = self._baseline
        self._timeline = [(0.0, self._baseline)]
        self._thread = threading.Thread(target=self._loop, name="bakeoff-memory-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(rescan=True)  # the final state counts too, however short the run
        interval_ms = self._interval_s * 1000
        peak, method = self._peak_total, SAMPLED.format(interval=interval_ms)
        mark = high_water_mark() if self._exact else None
        if mark is not None:
            # The children held at least their least sampled RSS at our own peak too, so
            # this sum is a lower bound of the tree's peak, as every sample is.
            peak = max(peak, mark + (self._children_min or 0))
            method = MIXED.format(interval=interval_ms) if self._children_seen else EXACT
        self.report = MemoryReport(
            baseline_bytes=self._baseline,
            peak_bytes=max(0, peak - self._baseline),
            peak_total_bytes=peak,
            samples=len(self._timeline),
            method=method,
            timeline=self._timeline,
        )
