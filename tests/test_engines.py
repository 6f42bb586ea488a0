"""Every engine answers q1-q5 at tiny scale, through ``bakeoff run``, and matches pandas."""

from __future__ import annotations

import pytest

from bakeoff.engines import ENGINE_NAMES
from tests.conftest import run_engine

GROUPBY = [f"groupby_q{i}" for i in range(1, 6)]


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine_runs(request, data_dir, tmp_path_factory):
    """Run all groupby questions once per engine (one engine start), plain and with NULLs."""
    engine = request.param
    results = tmp_path_factory.mktemp(f"results-{engine}")
    plain, done = run_engine(engine, data_dir, results)
    with_nulls, done_nulls = run_engine(engine, data_dir, results, "--null-pct", "5")
    return engine, plain, with_nulls, (done, done_nulls), results


def _by_workload(records):
    return {record.workload: record for record in records}


def test_answers_match_the_reference(engine_runs):
    engine, plain, _, (done, _), _ = engine_runs
    records = _by_workload(plain)
    assert sorted(records) == GROUPBY, done.stderr[-2000:]
    for name, record in records.items():
        assert record.engine == engine
        assert (record.status, record.detail) == ("ok", "matches the pandas reference"), name
        assert record.validated
        assert record.wall_s > 0
        assert record.peak_bytes >= 0
        assert record.version and record.settings
        assert record.digest["rows"] > 0
    assert done.returncode == 0


def test_answers_with_null_keys_and_values_match(engine_runs):
    """NULL ids form one group and NULL values are skipped, as in SQL, on every engine."""
    engine, _, with_nulls, (_, done), _ = engine_runs
    records = _by_workload(with_nulls)
    assert sorted(records) == GROUPBY, done.stderr[-2000:]
    for name, record in records.items():
        assert record.status == "ok", (engine, name, record.detail)


def test_every_run_is_logged_with_provenance(engine_runs):
    engine, _, _, _, results = engine_runs
    lines = (results / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 2 * len(GROUPBY)
    import json

    record = json.loads(lines[0])
    assert record["dataset"]["checksum"]
    assert record["provenance"]["harness_commit"]
    assert record["provenance"]["cores"] >= 1
    assert record["engine"] == engine
