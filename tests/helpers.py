"""Running ``bakeoff`` as a user would, with the Python interpreter that has each engine.

Engines that can share the test environment run from it; vaex lives in its own virtualenv
(its pins would downgrade pandas and dask), named by ``BAKEOFF_ENGINE_PYTHONS=vaex=/path``.
Everything runs through the real ``bakeoff run`` command, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.engines import ENGINE_NAMES, is_installed
from bakeoff.runner import RunRecord


def engine_pythons() -> dict[str, str]:
    pythons = {name: sys.executable for name in ENGINE_NAMES if is_installed(name)}
    for pair in filter(None, os.environ.get("BAKEOFF_ENGINE_PYTHONS", "").split(",")):
        name, _, python = pair.partition("=")
        pythons[name] = python
    return pythons


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
