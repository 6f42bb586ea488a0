"""Real clusters, by address: Spark standalone, Spark Connect and Dask distributed on loopback.

One Spark standalone cluster and one Dask cluster (two workers of one core each) serve the
whole module. ``bakeoff run --address`` answers a groupby and a join through each, checked
against the reference, and records the cluster's workers rather than this machine; Spark
Connect answers through a server of its own (local[1]). Fault tolerance: one worker is killed in the
middle of a run (``BAKEOFF_CHAOS_KILL_AFTER``) and the record says the engine recovered with
a validated answer; the in-process engines say they have no worker to kill. Every cluster is
stopped at the end, and no process of it may be left.
"""

from __future__ import annotations

import pytest

from bakeoff import chaos
from bakeoff.report import sections
from bakeoff.report.table import single_run_rows
from bakeoff.runner import RunRecord, Status
from tests import clusters
from tests.helpers import run_engine

GROUPBY = ("groupby_q1", ())
JOIN = ("join_q1", ("--table", "join"))
FAULT_ROWS = "2e6"  # long enough on two one-core workers that the kill lands mid-run
KILL_AFTER = {"spark": "2s", "dask": "200ms"}  # Spark's first run is seconds; Dask's, < 1 s


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    pytest.importorskip("pyspark")
    cluster = clusters.spark_standalone(tmp_path_factory.mktemp("spark-cluster"))
    yield cluster
    assert not cluster.stop(), "the Spark cluster left processes running"
    assert not clusters.engine_children(("spark",))


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    cluster = clusters.dask_distributed(tmp_path_factory.mktemp("dask-cluster"))
    yield cluster
    assert not cluster.stop(), "the Dask cluster left processes running"
    assert not clusters.engine_children(("dask",))


@pytest.fixture
def cluster(request, monkeypatch):
    """The module's cluster for the test's engine, with every worker up."""
    engine = request.node.callspec.params["engine"]
    running = request.getfixturevalue(f"{engine}_cluster")
    running.ensure_workers()  # a fault-tolerance test may have killed one
    monkeypatch.setenv("SPARK_LOCAL_IP", clusters.LOOPBACK)  # the driver too, on loopback
    return running


def _run(engine: str, address: str, data_dir, results, workload, *extra):
    name, table = workload
    return run_engine(
        engine, data_dir, results, "--address", address, *table, *extra, workload=name
    )


# Spark's groupby goes through the cluster in the fault-tolerance test below, validated the
# same way: each Spark application costs about 40 s here (driver, executors, a cold query).
@pytest.mark.parametrize(
    ("engine", "workload"),
    [("spark", JOIN), ("dask", GROUPBY), ("dask", JOIN)],
    ids=["spark-join", "dask-groupby", "dask-join"],
)
def test_a_cluster_answers_and_is_recorded(engine, workload, cluster, data_dir, tmp_path):
    records, done = _run(engine, cluster.address, data_dir, tmp_path, workload)
    assert [(r.status, r.validated) for r in records] == [("ok", True)], done.stderr[-2000:]
    settings = records[0].settings
    if engine == "spark":
        assert settings["spark.master"] == cluster.address
        assert settings["cluster"]["executors"] == 2
        assert settings["cluster"]["cores_per_executor"] == [clusters.WORKER_CORES]
        assert settings["cluster"]["spark.executor.memory"] == "1g"
        assert settings["spark.sql.shuffle.partitions"] == "4"  # two per cluster core
    else:
        assert settings["scheduler"] == cluster.address
        assert settings["workers"] == 2 and settings["threads_per_worker"] == [1]
        assert settings["memory_limit_per_worker"] == [2**30]
        assert all("dask-cluster" in d for d in settings["local_directory"])  # theirs, not ours


def test_clusters_listen_on_loopback_only(spark_cluster, dask_cluster):
    for running in (spark_cluster, dask_cluster):
        assert running.listening_addresses() <= clusters.LOOPBACK_ADDRESSES


@pytest.mark.parametrize("engine", ["spark", "dask"])
def test_a_worker_killed_mid_run_is_survived(engine, cluster, data_dir, tmp_path):
    records, done = _run(
        *(engine, cluster.address, data_dir, tmp_path, ("groupby_q3", ())),
        *("--rows", FAULT_ROWS, "--kill-worker-after", KILL_AFTER[engine]),
    )
    assert len(records) == 1, done.stderr[-2000:]
    record = records[0]
    fault = record.settings["fault_injection"]
    assert record.status == Status.RECOVERED, record.detail
    assert record.validated and "answer validated" in record.detail
    assert fault["workers"] == 2 and fault["killed"] in record.detail
    assert 0 < fault["killed_at_s"] < record.wall_s  # the kill landed while the run ran
    assert set(fault["killed_pids"]) & {w.pid for w in cluster.workers}  # a worker daemon


@pytest.mark.parametrize("engine", ["duckdb", "polars", "vaex"])
def test_an_in_process_engine_has_no_worker_to_kill(engine, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(chaos.KILL_AFTER_VARIABLE, "1s")
    records, done = run_engine(engine, data_dir, tmp_path, workload="groupby_q1")
    assert [r.status for r in records] == ["unsupported"], done.stderr[-2000:]
    assert records[0].detail == "fault tolerance: single-process engine, no worker to kill"
    assert records[0].settings["fault_injection"]["killed"] is None


def test_spark_connect_answers_through_its_server(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("pyspark.sql.connect.client", reason="pip install 'pyspark[connect]'")
    monkeypatch.setenv("SPARK_LOCAL_IP", clusters.LOOPBACK)
    server = clusters.spark_connect_server(tmp_path / "connect")
    try:
        records, done = _run("spark", server.address, data_dir, tmp_path, GROUPBY)
    finally:
        assert not server.stop(), "the Spark Connect server left processes running"
    assert [(r.status, r.validated) for r in records] == [("ok", True)], done.stderr[-2000:]
    assert records[0].settings["cluster"]["connect_server"] == server.address
    assert records[0].settings["cluster"]["spark.master"] == "local[1]"


def test_the_kill_outcome_is_its_own_status():
    fault = chaos.WorkerKill(after_s=1.0, workers={"a": 1, "b": 2})
    assert fault.outcome("ok", "matches")[0] == "ok"  # not killed: says so, stays ok
    assert "no worker was killed" in fault.outcome("ok", "matches")[1]
    fault.killed, fault.killed_at_s, fault.run_ended_at_s = "b", 1.01, 3.0
    assert fault.outcome("ok", "matches") == (
        "recovered",
        "b killed at t=1.01 s; recovered, answer validated: matches",
    )
    status, detail = fault.outcome("wrong_answer", "values of v1 differ")
    assert status == "wrong_answer" and detail.startswith("after a worker was killed (b killed")
    assert [chaos.parse_seconds(t) for t in ("2", "1.5s", "500ms")] == [2.0, 1.5, 0.5]


def test_the_report_shows_each_engines_outcome():
    def record(engine: str, status: str, detail: str) -> RunRecord:
        fault = {"kill_worker_after_s": 1.0, "killed": None}
        return RunRecord(engine, "1", {"fault_injection": fault}, "groupby_q3", 10, status, detail)

    rows = single_run_rows(
        [
            record("spark", "recovered", "worker killed at t=1.00 s; recovered"),
            record("dask", "error", "after a worker was killed: KilledWorker"),
            record("duckdb", "unsupported", "fault tolerance: single-process engine"),
        ]
    )
    assert sections.single_run_section(rows) == []  # not mixed with plain single runs
    _, _, table = sections.fault_tolerance_section(rows)
    outcomes = {row[0]: row[3] for row in table.rows}
    assert outcomes == {"spark": "recovered", "dask": "error", "duckdb": "unsupported"}
    flagged = {table.rows[i][0] for i, _ in table.failed}
    assert flagged == {"dask"}  # recovered is no failure, unsupported is a fact
