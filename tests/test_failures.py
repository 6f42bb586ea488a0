"""Failures are results: wrong answers, errors, timeouts and memory limits become records."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bakeoff.engines import create_engine
from bakeoff.runner import Status, run_workload
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from tests.helpers import run_engine
from workloads import get_workload
from workloads.groupby import duckdb as duckdb_groupby

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def duckdb_engine():
    engine = create_engine("duckdb")
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def tiny(data_dir):
    return ensure_dataset(DatasetSpec(rows=10_000), data_dir)


def test_a_wrong_answer_is_a_failure_not_a_timing(duckdb_engine, tiny, monkeypatch):
    from bakeoff.reference import reference_answer

    workload = get_workload("groupby_q1")
    wrong = "SELECT id1, sum(v1) + 1 AS v1 FROM x GROUP BY id1"
    monkeypatch.setitem(
        duckdb_groupby.QUERIES, workload.name, lambda engine, dataset: engine.sql(dataset, wrong)
    )
    record = run_workload(duckdb_engine, workload, tiny, reference=reference_answer(tiny, workload))
    assert record.status == Status.WRONG_ANSWER
    assert "values of v1 differ" in record.detail
    assert record.wall_s is None and record.peak_bytes is None


def test_an_engine_error_is_recorded(duckdb_engine, tiny, monkeypatch):
    workload = get_workload("groupby_q2")
    monkeypatch.setitem(
        duckdb_groupby.QUERIES,
        workload.name,
        lambda engine, dataset: engine.sql(dataset, "SELECT nope FROM x"),
    )
    record = run_workload(duckdb_engine, workload, tiny, reference=None)
    assert record.status == Status.ERROR
    assert "nope" in record.detail
    assert record.wall_s is None


def test_a_memory_limit_is_an_out_of_memory_record_and_the_run_goes_on(data_dir, tmp_path):
    records, done = run_engine(
        "duckdb", data_dir, tmp_path, "--memory-limit", "0.001", workload="groupby_q1,groupby_q2"
    )
    assert [r.status for r in records] == ["out_of_memory", "out_of_memory"], done.stderr
    assert "limit" in records[0].detail
    assert records[0].wall_s is None and records[0].peak_bytes is None
    assert done.returncode == 1


def test_a_timeout_is_a_record_and_the_run_goes_on(data_dir, tmp_path):
    records, done = run_engine(
        "duckdb", data_dir, tmp_path, "--timeout", "0.00001", workload="groupby_q1,groupby_q2"
    )
    assert [r.status for r in records] == ["timeout", "timeout"], done.stderr
    assert "time limit" in records[0].detail


READ_BACK_HANGS = """
import sys, time
from bakeoff.engines import create_engine
from bakeoff.runner import Limits, run_workload
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import get_workload

engine = create_engine("duckdb")
engine.start()
engine.to_arrow = lambda materialized: time.sleep(300)
dataset = ensure_dataset(DatasetSpec(rows=10_000), sys.argv[1])
run_workload(
    engine, get_workload("groupby_q1"), dataset, reference=None,
    limits=Limits(timeout_s=3), emit=lambda record: print(record.to_json(), flush=True),
)
"""


def test_a_read_back_that_never_ends_is_an_error_not_a_hang(data_dir):
    """The time limit also bounds reading the result back for validation: a Dask worker
    restarted without end there once held a run for its supervisor's whole backstop."""
    from bakeoff.runner import EXIT_ABORTED, RunRecord

    ensure_dataset(DatasetSpec(rows=10_000), data_dir)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK_HANGS, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_ABORTED, done.stderr
    assert time.monotonic() - started < 100  # three seconds, not the 300 s read-back
    (record,) = [RunRecord.from_json(line) for line in done.stdout.splitlines()]
    assert record.status == Status.ERROR
    assert "reading the result back did not finish within the 3 s" in record.detail
    assert record.wall_s is None and not record.validated


def test_spark_without_java_says_so_in_one_line(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk-here"))
    records, done = run_engine("spark", data_dir, tmp_path, workload="groupby_q1")
    assert [r.status for r in records] == ["error"], done.stderr
    assert "Spark needs Java 17+" in records[0].detail
    assert "\n" not in records[0].detail
    assert done.returncode == 1


def assert_one_line_error(arguments: list[str], message: str, data_dir) -> None:
    """``bakeoff *arguments`` fails with exit 2, one line naming ``message``, nothing written."""
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", *arguments],
        capture_output=True,
        text=True,
        env=dict(os.environ, BAKEOFF_DATA_DIR=str(data_dir)),
    )
    assert done.returncode == 2
    assert done.stderr.startswith("bakeoff: error:")
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--engine", "nosuch"], "invalid choice: 'nosuch'"),
        (["--engine", "duckdb", "--workload", "groupby_q99"], "unknown workload 'groupby_q99'"),
        (["--engine", "polars", "--option", "engine=bogus"], "polars option engine is one of"),
        (["--engine", "dask", "--option", "shuffle=bogus"], "dask option shuffle is one of"),
        (["--engine", "duckdb", "--option", "threads=1"], "duckdb has no option 'threads'"),
        (["--engine", "duckdb", "--address", "tcp://localhost:8786"], "takes no cluster address"),
        (["--engine", "duckdb", "--rows", "0"], "rows"),
    ],
)
def test_bad_run_input_is_one_line_before_any_work(arguments, message, tmp_path):
    run = ["run", "--workload", "groupby_q1", *arguments]
    assert_one_line_error(run, message, tmp_path / "data")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rows", "abc"], "rows must be a number"),
        (["--rows", "0"], "scales must be positive"),
        (["--engines", "foo"], "unknown engine 'foo'"),
        (["--workloads", "groupby_q99"], "unknown workload 'groupby_q99'"),
    ],
)
def test_bad_bench_input_is_one_line(arguments, message, tmp_path):
    assert_one_line_error(["bench", *arguments], message, tmp_path / "data")


def test_each_workload_gets_a_fresh_engine_unless_the_session_is_shared(data_dir, tmp_path):
    workloads = "groupby_q1,groupby_q2"
    fresh, _ = run_engine("duckdb", data_dir, tmp_path, workload=workloads, share_session=False)
    shared, _ = run_engine("duckdb", data_dir, tmp_path, workload=workloads)
    assert [r.status for r in fresh + shared] == ["ok"] * 4
    assert fresh[0].provenance["pid"] != fresh[1].provenance["pid"]
    assert shared[0].provenance["pid"] == shared[1].provenance["pid"]


@pytest.mark.parametrize(("engine", "module"), [("spark", "pyspark"), ("dask", "distributed")])
def test_a_killed_worker_is_a_record_and_leaves_nothing_behind(engine, module, data_dir, tmp_path):
    """SIGKILL, as the kernel's OOM killer sends it, while the engine starts: the workload it
    was on is recorded, the engine's processes (JVM, Dask workers) go too, the run goes on."""
    import json
    import time

    import psutil

    pytest.importorskip(module)
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bakeoff",
            "run",
            "--engine",
            engine,
            "--rows",
            "tiny",
            "--workload",
            "groupby_q1,groupby_q2",
            "--share-session",
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, BAKEOFF_RESULTS_DIR=str(tmp_path)),
    )
    deadline = time.monotonic() + 120
    worker = None
    while worker is None and time.monotonic() < deadline:
        children = psutil.Process(run.pid).children()
        worker = next((c for c in children if "bakeoff.worker" in " ".join(c.cmdline())), None)
        time.sleep(0.2)
    assert worker is not None, "no worker process appeared"
    descendants = []
    while not descendants and time.monotonic() < deadline:  # the JVM has started
        descendants = worker.children(recursive=True)
        time.sleep(0.2)
    assert descendants, "the worker started no engine process"
    worker.kill()
    out, _ = run.communicate(timeout=600)
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["status"] for r in records] == ["out_of_memory", "ok"]
    assert "SIGKILL" in records[0]["detail"]
    assert run.returncode == 1
    orphans = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not orphans, f"the killed worker left {orphans} running"


def test_records_never_carry_a_secret(duckdb_engine, tiny, monkeypatch):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    workload = get_workload("groupby_q1")
    record = run_workload(duckdb_engine, workload, tiny, reference=None)
    record.settings["address"] = "spark://user:t0k3n-s3cr3t@cluster.example:7077"
    record.detail = f"failed with key {secret}"
    line = record.to_json()
    assert secret not in line and "t0k3n-s3cr3t" not in line
    assert "spark://user:***@cluster.example:7077" in line


@pytest.mark.parametrize(
    "engine_name", ["duckdb", "polars", "dask", "spark", "pyarrow", "datafusion", "daft", "chdb"]
)
def test_a_large_result_without_reference_is_counted_not_read_back(engine_name, tiny, monkeypatch):
    """Above the reference's scale a join's result is as large as its input: the engine counts
    it and the harness never pulls it into its own memory."""
    from bakeoff import runner
    from bakeoff.engines import is_installed
    from bakeoff.reference import reference_answer

    if not is_installed(engine_name):
        pytest.skip(f"{engine_name} is not installed here")
    workload = get_workload("groupby_q3")  # one row per id3
    expected_rows = reference_answer(tiny, workload).digest.rows
    engine = create_engine(engine_name)
    engine.start()
    try:
        small = run_workload(engine, workload, tiny, reference=None)  # counted, then read back
        monkeypatch.setattr(runner, "READ_BACK_MAX_ROWS", expected_rows - 1)
        monkeypatch.setattr(engine, "to_arrow", lambda materialized: pytest.fail("read back"))
        record = run_workload(engine, workload, tiny, reference=None)
    finally:
        engine.stop()
    assert small.status == Status.OK and small.digest["rows"] == expected_rows, small.detail
    assert record.status == Status.OK and not record.validated, record.detail
    assert f"the result's {expected_rows} rows were counted, not read back" in record.detail
    assert record.wall_s is not None and record.digest is None
