"""``kill -9`` (the OOM killer, a closed terminal) of ``bakeoff run`` and ``bakeoff datagen``:
no cleanup runs in the killed process, yet nothing it started keeps running (the run's worker
with its Dask cluster, the generator's writer processes), even when it dies while its child is
still starting, and the next start removes what it left on disk, but only what surely belongs
to a dead process."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
from shared.lifetime import OWNER_FILE, claim, identity
from tests.test_interrupts import start, wait_for

GONE_WITHIN_S = 10.0
RUN_ROWS = 1_000_000  # the ten groupby questions keep Dask busy well past GONE_WITHIN_S


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def assert_gone(processes: list[psutil.Process]) -> float:
    """Every process ends within GONE_WITHIN_S; how long that took."""
    started = time.monotonic()
    while alive(processes) and time.monotonic() < started + GONE_WITHIN_S:
        time.sleep(0.05)
    left = alive(processes)
    for process in left:  # leave nothing behind for the next test, whatever happened
        with contextlib.suppress(psutil.Error):
            process.kill()
    assert not left, f"still running {GONE_WITHIN_S:g} s after their parent died: {left}"
    return time.monotonic() - started


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


def workers_of(run: subprocess.Popen) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [
            child
            for child in psutil.Process(run.pid).children()
            if "bakeoff.worker" in " ".join(child.cmdline())
        ]
    return []


@pytest.fixture(scope="module")
def run_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("run-data")
    ensure_dataset(DatasetSpec(rows=RUN_ROWS), data, progress=False)
    return data


def start_run(
    data: Path, tmp_path: Path, engine: str = "dask"
) -> tuple[subprocess.Popen, Path, Path]:
    """``bakeoff run`` of ``engine`` on every groupby question in one worker, with temporary
    and scratch directories of its own; the run and those two directories."""
    temporary, scratch = tmp_path / "tmp", tmp_path / "scratch"
    temporary.mkdir()
    arguments = (
        *("run", "--engine", engine, "--workload", "groupby", "--share-session"),
        *("--rows", "1e6", "--data-dir", str(data), "--no-log"),
    )
    env = {
        "BAKEOFF_RESULTS_DIR": str(tmp_path),
        "BAKEOFF_SCRATCH_DIR": str(scratch),
        "TMPDIR": str(temporary),
    }
    return start(*arguments, env=env), temporary, scratch


# -- bakeoff run ---------------------------------------------------------------------------------


def engine_up(run: subprocess.Popen, engine: str) -> bool:
    """The worker's engine processes exist: Dask's cluster, Spark's JVM (not a ``java
    -version`` on the way)."""
    with contextlib.suppress(psutil.Error):
        for worker in workers_of(run):
            lines = [" ".join(p.cmdline()) for p in worker.children(recursive=True)]
            if lines and (engine != "spark" or any("SparkSubmit" in line for line in lines)):
                return True
    return False


@pytest.mark.parametrize(("engine", "module"), [("dask", "distributed"), ("spark", "pyspark")])
def test_a_killed_run_takes_its_worker_and_engine_along_and_its_scratch_goes_next(
    engine, module, run_data, tmp_path
):
    pytest.importorskip(module)
    if engine == "spark" and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("no Java for Spark")
    run, temporary, scratch = start_run(run_data, tmp_path, engine)
    wait_for(lambda: engine_up(run, engine), f"the worker's {engine} processes", timeout=90)
    tree = kill_hard(run)
    assert len(tree) >= 2, tree  # the worker and its engine's processes
    took = assert_gone(tree)
    print(f"{engine}: worker and engine gone {took:.2f} s after the run was killed")
    # What it left: the worker's request, records and log; its spill space (Dask's
    # local_directory, Spark's local dir), owned by the dead run and worker.
    (left_temporary,) = temporary.glob(f"{SCRATCH_PREFIX}{run.pid}-*")
    (left_scratch,) = scratch.glob(f"{SCRATCH_PREFIX}{run.pid}-*")
    assert (left_scratch / engine).is_dir() and (left_scratch / OWNER_FILE).is_file()
    # A live run's stays (this process stands in for one), the dead one's go at the next start.
    live = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=scratch))
    claim(live)
    _remove_abandoned_scratch(temporary, scratch)
    assert not left_temporary.exists() and not left_scratch.exists()
    assert live.exists()


def test_a_run_killed_while_its_worker_starts_takes_it_along(run_data, tmp_path):
    """Killed before the worker has even begun to watch (it is still importing): the worker
    still learns of it, where watching the parent's pid from then on would watch PID 1."""
    pytest.importorskip("distributed")
    run, _, _ = start_run(run_data, tmp_path)
    (worker,) = wait_for(lambda: workers_of(run), "the worker", timeout=60)
    time.sleep(0.05)  # the request is on its way; the worker imports for most of a second
    tree = kill_hard(run)
    assert worker in tree
    took = assert_gone(tree)
    print(f"starting worker gone {took:.2f} s after the run was killed")


def test_a_run_leaves_no_scratch_behind(run_data, tmp_path):
    """An ordinary run removes its worker's scratch (a worker killed mid-query, which cannot,
    included: the supervisor does)."""
    temporary, scratch = tmp_path / "tmp", tmp_path / "scratch"
    temporary.mkdir()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bakeoff", "run", "--engine", "duckdb"),
            *("--workload", "groupby_q1", "--rows", "tiny", "--data-dir", str(run_data)),
            *("--no-log", "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(
            os.environ,
            BAKEOFF_RESULTS_DIR=str(tmp_path),
            BAKEOFF_SCRATCH_DIR=str(scratch),
            TMPDIR=str(temporary),
        ),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"
    assert not list(temporary.glob(f"{SCRATCH_PREFIX}*"))
    assert not list(scratch.glob(f"{SCRATCH_PREFIX}*"))


def test_scratch_goes_only_when_every_owner_is_known_dead(tmp_path):
    dead, sleeper = dead_pid(), subprocess.Popen([sys.executable, "-c", "input()"], stdin=-1)
    try:
        directories = {
            name: tmp_path / f"{SCRATCH_PREFIX}{pid}-{name}"
            for name, pid in [
                ("mine", os.getpid()),
                ("dead", dead),
                ("reused", sleeper.pid),  # the pid is alive, but not the process named
                ("elsewhere", dead),  # a dead pid here, but the owner ran on another machine
                ("worker-alive", dead),  # the supervisor is dead, its worker is not
                ("unrecorded-dead", dead),  # made before records: the name tells
                ("unrecorded-alive", os.getpid()),
            ]
        }
        for directory in directories.values():
            directory.mkdir()
        claim(directories["mine"])
        (directories["dead"] / OWNER_FILE).write_text(json.dumps({"owners": [gone(dead)]}))
        reused = {**identity(sleeper.pid), "started": identity(sleeper.pid)["started"] - 60}
        (directories["reused"] / OWNER_FILE).write_text(json.dumps({"owners": [reused]}))
        away = {**gone(dead), "host": "another-machine"}
        (directories["elsewhere"] / OWNER_FILE).write_text(json.dumps({"owners": [away]}))
        both = [gone(dead), identity(sleeper.pid)]
        (directories["worker-alive"] / OWNER_FILE).write_text(json.dumps({"owners": both}))
        _remove_abandoned_scratch(tmp_path)
        kept = {name for name, directory in directories.items() if directory.exists()}
        assert kept == {"mine", "elsewhere", "worker-alive", "unrecorded-alive"}
    finally:
        sleeper.kill()
        sleeper.wait()


def gone(pid: int) -> dict:
    """An owner record of a process of this machine that has ended."""
    return {**identity(), "pid": pid}


# -- datagen -------------------------------------------------------------------------------------
GENERATE = ("datagen", "--rows", "4e6", "--rows-per-file", "1e6", "--jobs", "2", "--no-progress")


def test_a_killed_generator_takes_its_writers_along_and_its_staging_goes_next_time(tmp_path):
    run = start(*GENERATE, "--data-dir", str(tmp_path))
    wait_for(lambda: list(tmp_path.glob(".tmp-*/part-*.parquet")), "a part file written")
    writers = kill_hard(run)
    assert len(writers) >= 2, writers  # the two writer processes
    took = assert_gone(writers)
    print(f"writers gone {took:.2f} s after the generator was killed")
    (staging,) = tmp_path.glob(".tmp-*")  # the killed generator's, with no one to remove it
    assert json.loads((staging / OWNER_FILE).read_text())["owners"][0]["pid"] == run.pid
    # The same dataset generated again: whole, and nothing staged is left.
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", *GENERATE, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not staging.exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith((".tmp-", ".old-"))]
    (dataset,) = [path for path in tmp_path.iterdir() if not path.name.startswith(".")]
    assert not (dataset / OWNER_FILE).exists()


def test_another_datasets_staging_goes_only_when_its_generator_is_known_dead(tmp_path):
    """Staging of another dataset, found by a generator: its owner record decides."""
    dead, sleeper = dead_pid(), subprocess.Popen([sys.executable, "-c", "input()"], stdin=-1)
    try:
        staged = {
            "live": tmp_path / f".tmp-other-{os.getpid()}",
            "dead": tmp_path / f".tmp-other-{dead}",
            "reused": tmp_path / f".tmp-other-{sleeper.pid}",  # the pid now another's
            "elsewhere": tmp_path / f".tmp-other-{dead}9",  # another machine's generator
            "upload": tmp_path / f".upload-other-{dead}",  # object storage's local staging
        }
        for directory in staged.values():
            directory.mkdir()
        claim(staged["live"])
        reused = {**identity(sleeper.pid), "started": identity(sleeper.pid)["started"] - 60}
        (staged["reused"] / OWNER_FILE).write_text(json.dumps({"owners": [reused]}))
        away = {**gone(dead), "pid": int(f"{dead}9"), "host": "another-machine"}
        (staged["elsewhere"] / OWNER_FILE).write_text(json.dumps({"owners": [away]}))
        ensure_dataset(DatasetSpec(rows=2_000), tmp_path, progress=False)
        kept = {name for name, directory in staged.items() if directory.exists()}
        assert kept == {"live", "elsewhere"}
    finally:
        sleeper.kill()
        sleeper.wait()


# -- the mechanism -------------------------------------------------------------------------------
def run_family(parent_code: str) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """A parent in a session of its own running ``parent_code``, once it printed "ready",
    and the processes under it then."""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], start_new_session=True, stdout=subprocess.PIPE
    )
    assert parent.stdout.readline().strip() == b"ready"
    return parent, psutil.Process(parent.pid).children(recursive=True)


def kill_family_and_assert_gone(parent: subprocess.Popen, tree: list[psutil.Process]) -> None:
    """SIGKILL to ``parent`` alone; everything under it must end on its own."""
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert_gone(tree)
    finally:  # the family's session, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


CHILD = """
import os, subprocess, sys, time
from shared.lifetime import watch_parent
time.sleep(float(sys.argv[1]))  # still starting when its parent may already be dead
watch_parent()
# A grandchild, and a great-grandchild whose parent leaves at once: no longer a descendant,
# but still in this process's group, as an engine's process can be.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
subprocess.Popen(
    [sys.executable, "-c", "import subprocess, sys; "
     "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"]
).wait()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("delay", [0.0, 1.0], ids=["watching", "still-starting"])
def test_a_lifeline_ends_the_child_and_all_it_started_however_early_the_parent_dies(delay):
    parent_code = f"""
import subprocess, sys, time
from shared.lifetime import Lifeline
line = Lifeline()
child = subprocess.Popen(
    [sys.executable, "-c", {CHILD!r}, "{delay}"], start_new_session=True,
    stdout=subprocess.PIPE, **line.popen_arguments(),
)
line.started()
{"" if delay else "child.stdout.readline()"}
print("ready", flush=True)
time.sleep(60)
"""
    parent, _ = run_family(parent_code)
    (child,) = psutil.Process(parent.pid).children()
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        if delay:  # the child's own processes had not started yet: wait for them
            assert_gone([child])
        else:
            members = [p for p in psutil.process_iter() if safe_pgid(p) == child.pid]
            assert len(members) == 3, members  # the child, its grandchild and the orphan
            assert_gone(members)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def safe_pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None


def test_a_polling_child_notices_a_parent_that_died_before_it_began_to_watch():
    """Without a lifeline (a writer process of the generator), the pid to watch is given."""
    parent_code = """
import os, subprocess, sys, time
code = (
    "import sys, time\\n"
    "from shared.lifetime import watch_parent\\n"
    "time.sleep(1.0)\\n"
    "watch_parent(int(sys.argv[1]))\\n"
    "time.sleep(60)\\n"
)
subprocess.Popen([sys.executable, "-c", code, str(os.getpid())])
print("ready", flush=True)
time.sleep(60)
"""
    kill_family_and_assert_gone(*run_family(parent_code))


def test_a_program_started_to_die_with_its_parent_does():
    """asv is not ours to change: ``bakeoff bench`` starts it with ``die_with_parent``."""
    parent_code = """
import subprocess, sys, time
from shared.lifetime import die_with_parent
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=die_with_parent)
print("ready", flush=True)
time.sleep(60)
"""
    kill_family_and_assert_gone(*run_family(parent_code))
