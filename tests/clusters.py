"""Real clusters on loopback for the tests: Spark standalone and Dask distributed.

Each daemon (master, scheduler, every worker) runs in a process group of its own, started with
the entry points the installed pyspark and distributed ship (pyspark's ``bin/spark-class``,
``dask scheduler`` / ``dask worker``), bound to 127.0.0.1 and nothing else, on free ports.
Stopping a cluster kills each group whole, so executors and worker processes go with their
daemon. A worker that a fault-tolerance test killed is started again by
:meth:`Cluster.ensure_workers`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"
LOOPBACK_ADDRESSES = {LOOPBACK, "::ffff:127.0.0.1"}
READY_TIMEOUT_S = 180.0
WORKER_CORES = 1
WORKER_MEMORY = "1g"  # Spark's default executor memory fits one executor per worker
DASK_WORKER_MEMORY = "1GiB"
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _wait(ready: Callable[[], bool], what: str, daemons: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        dead = [d.args for d in daemons if d.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready (exited: {dead})")
        time.sleep(0.5)


@dataclass
class Cluster:
    """A scheduler (or master) and its workers, each a process group of its own."""

    address: str
    head: subprocess.Popen
    start_worker: Callable[[int], subprocess.Popen]
    count_workers: Callable[[], int]
    size: int
    workers: list[subprocess.Popen] = field(default_factory=list)

    def ensure_workers(self) -> None:
        """Start any worker that is not running, then wait until all have registered."""
        for index in range(self.size):
            if index >= len(self.workers):
                self.workers.append(self.start_worker(index))
            elif self.workers[index].poll() is not None:
                self.workers[index] = self.start_worker(index)
        daemons = [self.head, *self.workers]
        _wait(lambda: self.count_workers() == self.size, f"{self.address} workers", daemons)

    def groups(self) -> list[int]:
        return [daemon.pid for daemon in (self.head, *self.workers)]

    def processes(self) -> list[psutil.Process]:
        """Every process in the cluster's groups (daemons, executors, worker processes)."""
        groups = set(self.groups())
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if os.getpgid(process.pid) in groups:
                    found.append(process)
        return found

    def listening_addresses(self) -> set[str]:
        """The local addresses the cluster's processes listen on."""
        addresses = set()
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                for connection in process.net_connections(kind="inet"):
                    if connection.status == psutil.CONN_LISTEN:
                        addresses.add(connection.laddr.ip)
        return addresses

    def stop(self) -> list[psutil.Process]:
        """Kill every group; the processes of the cluster still alive after (none, we hope)."""
        processes = self.processes()
        for group in self.groups():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for daemon in (self.head, *self.workers):
            daemon.wait(timeout=30)
        _, alive = psutil.wait_procs(processes, timeout=30)
        return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _daemon(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def spark_environment() -> dict[str, str]:
    """Every Spark JVM (daemons, executors, the bakeoff driver) on loopback, REST server off."""
    return dict(
        os.environ,
        SPARK_LOCAL_IP=LOOPBACK,
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
    )


def spark_standalone(directory: Path, size: int = 2) -> Cluster:
    """A Spark standalone master and ``size`` workers of one core and 1 GiB each."""
    import pyspark

    spark_class = str(Path(pyspark.__file__).parent / "bin" / "spark-class")
    env = dict(spark_environment(), SPARK_HOME=str(Path(pyspark.__file__).parent))
    port, ui = free_port(), free_port()
    address = f"spark://{LOOPBACK}:{port}"
    master = _daemon(
        [
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        ],
        directory / "master.log",
        env,
    )

    def start_worker(index: int) -> subprocess.Popen:
        return _daemon(
            [
                spark_class,
                "org.apache.spark.deploy.worker.Worker",
                address,
                "--host",
                LOOPBACK,
                "--cores",
                str(WORKER_CORES),
                "--memory",
                WORKER_MEMORY,
                "--webui-port",
                "0",
                "--work-dir",
                str(directory / f"worker{index}"),
            ],
            directory / f"worker{index}.log",
            env,
        )

    def count_workers() -> int:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{ui}/json/", timeout=5) as page:
                return json.load(page)["aliveworkers"]
        except OSError:
            return -1

    cluster = Cluster(address, master, start_worker, count_workers, size)
    cluster.ensure_workers()
    return cluster


def dask_distributed(directory: Path, size: int = 2) -> Cluster:
    """A Dask scheduler and ``size`` workers of one thread and 1 GiB each, with nannies."""
    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://{LOOPBACK}:{port}"
    dashboard = ["--dashboard-address", f"{LOOPBACK}:0"]
    scheduler = _daemon(
        [dask, "scheduler", "--host", LOOPBACK, "--port", str(port), *dashboard],
        directory / "scheduler.log",
    )

    def start_worker(index: int) -> subprocess.Popen:
        return _daemon(
            [
                dask,
                "worker",
                address,
                "--host",
                LOOPBACK,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--memory-limit",
                DASK_WORKER_MEMORY,
                *dashboard,
                "--local-directory",
                str(directory / f"worker{index}"),
            ],
            directory / f"worker{index}.log",
        )

    def count_workers() -> int:
        import distributed

        try:
            with distributed.Client(address, timeout=5) as client:
                return len(client.scheduler_info(n_workers=-1)["workers"])
        except OSError:
            return -1

    cluster = Cluster(address, scheduler, start_worker, count_workers, size)
    cluster.ensure_workers()
    return cluster


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((LOOPBACK, port)) == 0


def spark_connect_server(directory: Path, master: str = "local[1]") -> Cluster:
    """A Spark Connect server (pyspark's own ``SparkConnectServer``) on a free loopback port."""
    import pyspark

    home = Path(pyspark.__file__).parent
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = _daemon(
        [
            str(home / "bin" / "spark-submit"),
            "--class",
            CONNECT_SERVER_CLASS,
            "--master",
            master,
            "--conf",
            f"spark.connect.grpc.binding.address={LOOPBACK}",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.ui.enabled=false",
            "spark-internal",
        ],
        directory / "connect-server.log",
        dict(spark_environment(), SPARK_HOME=str(home)),
    )
    cluster = Cluster(
        f"sc://{LOOPBACK}:{port}", server, _no_worker, lambda: 0 if port_open(port) else -1, 0
    )
    cluster.ensure_workers()  # none: waits for the server's port
    return cluster


def _no_worker(index: int) -> subprocess.Popen:
    raise AssertionError("a Spark Connect server has no worker of its own to start")


def engine_children(names: tuple[str, ...] = ("spark", "dask")) -> list[psutil.Process]:
    """Descendants of this (test) process whose command line names an engine."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline()).lower()
            if any(name in command for name in names) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found
