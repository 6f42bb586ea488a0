"""Running ``bakeoff`` as a user would, with the Python interpreter that has each engine.

Engines that can share the test environment run from it; vaex lives in its own virtualenv
(its pins would downgrade pandas and dask), named by ``BAKEOFF_ENGINE_PYTHONS=vaex=/path``.
Everything runs through the real ``bakeoff run`` command, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bakeoff.engines import engine_pythons
from bakeoff.runner import RunRecord


def python_for(engine: str) -> str:
    python = engine_pythons().get(engine)
    if python is None:
        message = f"{engine} is not installed here and BAKEOFF_ENGINE_PYTHONS names no venv"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test every engine
        pytest.skip(message)
    return python


def bakeoff(
    python: str, *arguments: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "bakeoff", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_engine(
    engine: str,
    data_dir: Path,
    results_dir: Path,
    *extra: str,
    workload: str = "groupby",
    share_session: bool = True,
) -> tuple[list[RunRecord], subprocess.CompletedProcess]:
    env = dict(os.environ, BAKEOFF_RESULTS_DIR=str(results_dir))
    done = bakeoff(
        python_for(engine),
        "run",
        "--engine",
        engine,
        "--workload",
        workload,
        "--rows",
        "tiny",
        "--data-dir",
        str(data_dir),
        "--json",
        *(["--share-session"] if share_session else []),
        *extra,
        env=env,
    )
    records = [
        RunRecord(**json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")
    ]
    return records, done


def assert_answered(
    engine: str,
    records: list[RunRecord],
    done: subprocess.CompletedProcess,
    names: list[str],
    known_wrong: frozenset[str] = frozenset(),
) -> dict[str, RunRecord]:
    """Every workload in ``names`` ran: validated and timed, or unsupported with the reason its
    module declares, or (``known_wrong``) a wrong answer that got no timing; the exit code of
    ``bakeoff run`` agrees. Returns the records by workload for further checks."""
    from workloads import Unsupported, get_workload, implementation

    by_workload = {record.workload: record for record in records}
    assert set(by_workload) == set(names), done.stderr[-2000:]
    for name, record in by_workload.items():
        cell = implementation(engine, get_workload(name))
        outcome = (record.status, record.detail)
        if isinstance(cell, Unsupported):
            assert outcome == ("unsupported", cell.reason), name
        elif name in known_wrong:
            assert record.status == "wrong_answer", (name, outcome)
            assert record.wall_s is None and not record.validated
        else:
            assert record.status == "ok" and record.validated, (name, outcome)
            assert record.wall_s > 0 and record.digest["rows"] > 0
    assert done.returncode == (1 if known_wrong else 0), done.stderr[-2000:]
    return by_workload
