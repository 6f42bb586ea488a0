"""``kill -9`` (the OOM killer, a closed terminal) of ``bakeoff run`` and ``bakeoff datagen``:
no cleanup runs in the killed process, yet nothing it started keeps running (the run's worker
with its Dask cluster, the generator's writer processes), and the next start removes what it
left on disk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from bakeoff.supervisor import SCRATCH_PREFIX, _remove_abandoned_scratch
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from tests.test_interrupts import start, wait_for

GONE_WITHIN_S = 10.0


def assert_gone(processes: list[psutil.Process]) -> None:
    def alive() -> list[psutil.Process]:
        return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    deadline = time.monotonic() + GONE_WITHIN_S
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), f"still running {GONE_WITHIN_S:g} s after their parent died: {alive()}"


def kill_hard(process: subprocess.Popen) -> list[psutil.Process]:
    """SIGKILL to the bakeoff process alone; what ran under it at that moment."""
    tree = psutil.Process(process.pid).children(recursive=True)
    process.kill()
    process.wait(timeout=30)
    return tree


def dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_a_killed_run_takes_its_worker_and_dask_cluster_along(tmp_path):
    """At 1e6 rows the ten groupby questions keep Dask busy for well over the time allowed."""
    pytest.importorskip("distributed")
    ensure_dataset(DatasetSpec(rows=1_000_000), tmp_path, progress=False)
    arguments = (
        *("run", "--engine", "dask", "--workload", "groupby", "--share-session"),
        *("--rows", "1e6", "--data-dir", str(tmp_path)),
    )
    run = start(*arguments, env={"BAKEOFF_RESULTS_DIR": str(tmp_path)})

    def cluster_up() -> bool:
        return any(
            worker.children()
            for worker in psutil.Process(run.pid).children()
            if "bakeoff.worker" in " ".join(worker.cmdline())
        )

    wait_for(cluster_up, "the worker's Dask cluster")
    tree = kill_hard(run)
    assert len(tree) >= 2, tree  # the worker and its Dask cluster's processes
    assert_gone(tree)
    # What the killed run left in the temporary directory goes at the next start.
    left = list(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{run.pid}-*"))
    assert left, "the killed run's scratch directory (its cleanup never ran)"
    _remove_abandoned_scratch()
    assert not any(path.exists() for path in left)


def test_a_live_runs_scratch_is_not_removed(tmp_path):
    mine = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    gone = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{dead_pid()}-"))
    try:
        _remove_abandoned_scratch()
        assert mine.exists() and not gone.exists()
    finally:
        mine.rmdir()


def test_a_killed_generator_takes_its_writers_along_and_its_staging_goes_next_time(tmp_path):
    generate = ("datagen", "--rows", "4e6", "--rows-per-file", "1e6", "--jobs", "2")
    run = start(*generate, "--no-progress", "--data-dir", str(tmp_path))
    wait_for(lambda: list(tmp_path.glob(".tmp-*/part-*.parquet")), "a part file written")
    writers = kill_hard(run)
    assert writers, "the writer processes"
    assert_gone(writers)
    (staging,) = tmp_path.glob(".tmp-*")  # the killed generator's, with no one to remove it
    # Another dataset's generator clears it: its owner is dead. A live owner's stays.
    live = tmp_path / f".tmp-other-{os.getpid()}"
    live.mkdir()
    ensure_dataset(DatasetSpec(rows=2_000), tmp_path, progress=False)
    assert not staging.exists() and live.exists()
    # The killed dataset itself is generated whole (its lock was not held by a stray writer).
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", *generate, "--no-progress", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_the_watcher_ends_the_child_and_its_own_children_when_the_parent_dies():
    """The mechanism alone: a parent that starts a child, which starts a grandchild and
    watches; the parent is killed; both descendants end."""
    child_code = (
        "import subprocess, sys, time\n"
        "from shared.lifetime import watch_parent\n"
        "watch_parent()\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    parent_code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child_code!r}])\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], start_new_session=True)
    try:
        wait_for(
            lambda: len(psutil.Process(parent.pid).children(recursive=True)) >= 2,
            "the child and the grandchild",
            timeout=30,
        )
        tree = psutil.Process(parent.pid).children(recursive=True)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert_gone(tree)
    finally:  # the test's own group, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


def test_a_program_started_to_die_with_its_parent_does(tmp_path):
    """asv is not ours to change: ``bakeoff bench`` starts it with ``die_with_parent``."""
    parent_code = (
        "import subprocess, sys, time\n"
        "from shared.lifetime import die_with_parent\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " preexec_fn=die_with_parent)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], start_new_session=True)
    try:
        wait_for(lambda: psutil.Process(parent.pid).children(), "the child", timeout=30)
        tree = psutil.Process(parent.pid).children(recursive=True)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert_gone(tree)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
