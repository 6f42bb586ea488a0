"""Sail's adapter: the settings it records follow the machine and the memory cap, Sail applies
its memory pool (a pool too small fails the run as out of memory), and a local server has no
worker for fault injection to kill."""

from __future__ import annotations

import json

from bakeoff.engines.base import GIB
from tests.helpers import run_engine

POOL = "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE"


def test_settings_follow_the_cores_and_the_cap(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("BAKEOFF_MEMORY_CAP", "2GiB")
    records, done = run_engine("sail", data_dir, tmp_path, workload="groupby_q1")
    (record,) = records
    assert record.status == "ok", (record.detail, done.stderr[-2000:])
    settings = record.settings
    assert settings["SAIL_MODE"] == "local"
    assert settings["SAIL_EXECUTION__DEFAULT_PARALLELISM"] == str(record.provenance["cores"])
    assert settings["SAIL_RUNTIME__MEMORY_POOL__TYPE"] == "fair"
    assert int(settings[POOL]) == int(2 * GIB * 0.8) // 1024**2 * 1024**2
    (spill,) = json.loads(settings["SAIL_RUNTIME__TEMPORARY_FILES__PATHS"])
    assert spill.endswith("sail")
    for cache in ("PARQUET__FILE_METADATA_CACHE", "PARQUET__FILE_STATISTICS_CACHE"):
        assert settings[f"SAIL_{cache}__TYPE"] == "none"
    assert settings["spark_version"] and settings["connect_server"].startswith("sc://127.0.0.1:")


def test_a_pool_too_small_is_out_of_memory(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(POOL, "1024")  # a user's setting wins over the adapter's
    records, done = run_engine(
        "sail", data_dir, tmp_path, workload="groupby_q3,window_w1", share_session=False
    )
    assert [r.status for r in records] == ["out_of_memory"] * 2, done.stderr[-2000:]
    for record in records:
        assert record.settings[POOL] == "1024"
        assert "memory pool" in record.detail


def test_a_local_server_has_no_worker_to_kill(data_dir, tmp_path):
    records, _ = run_engine(
        "sail", data_dir, tmp_path, "--kill-worker-after", "1s", workload="groupby_q1"
    )
    (record,) = records
    assert record.status == "unsupported"
    assert "no worker to kill" in record.detail
