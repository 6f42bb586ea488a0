"""A timed sample that raises after the cell's validated run succeeded is re-run once.

The fault is injected into a real DuckDB engine: its ``run`` raises DuckDB's own error class
(after spending time, so the test sees that the failed attempt is left out of the sample) on
the calls chosen. The report test puts the record such a re-run writes beside a real asv run.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from bakeoff.cells import sample_timer
from bakeoff.report.table import ASV, collect
from bakeoff.runner import RunRecord, read_run_log
from bakeoff.suite import PreparedWorkload
from tests.report_fixture import DUCKDB, _fail_cell, clean_results

FAILED_ATTEMPT_S = 0.4


@pytest.fixture
def prepared(data_dir, tmp_path, monkeypatch):
    duckdb = pytest.importorskip("duckdb")
    monkeypatch.setenv("BAKEOFF_ENGINE", "duckdb")
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    cell = PreparedWorkload("groupby_q1", 10_000)
    cell.injected_error = duckdb.IOException
    yield cell
    cell.close()


def fail_calls(cell: PreparedWorkload, failing: set[int]) -> None:
    """The engine's next calls to ``run`` numbered in ``failing`` (1 = the next) raise."""
    real_run, calls = cell.engine.run, []

    def run(*args):
        calls.append(None)
        if len(calls) in failing:
            time.sleep(FAILED_ATTEMPT_S)
            raise cell.injected_error("injected: the disk went away")
        return real_run(*args)

    cell.engine.run = run


def retry_records(tmp_path) -> list[RunRecord]:
    records = read_run_log(tmp_path / "results" / "runs.jsonl").records
    return [record for record in records if record.retried_sample]


def timed_sample(cell: PreparedWorkload) -> float:
    cell.before_sample()
    began = sample_timer()
    cell.run_once()
    seconds = sample_timer() - began
    cell.after_sample()
    return seconds


def test_a_sample_that_raises_once_is_rerun_and_times_the_rerun_alone(prepared, tmp_path):
    timed_sample(prepared)
    fail_calls(prepared, {1})
    began = time.perf_counter()
    seconds = timed_sample(prepared)
    assert time.perf_counter() - began - seconds >= FAILED_ATTEMPT_S  # the attempt left out
    assert prepared.engine.runs >= 3  # the validated run, the first sample, the re-run
    (record,) = retry_records(tmp_path)
    assert record.status == "error" and not record.validated and record.wall_s is None
    assert record.retried_sample == {
        "sample": 2,
        "error": "IOException: injected: the disk went away",
        "rerun": "ok",
    }
    assert record.detail.startswith("timed sample 2 raised IOException")
    assert record.workload == "groupby_q1" and record.rows == 10_000
    timed_sample(prepared)  # the cell goes on sampling
    assert len(retry_records(tmp_path)) == 1


def test_a_rerun_that_raises_again_fails_the_cell_and_says_so(prepared, tmp_path):
    fail_calls(prepared, {1, 2})
    with pytest.raises(prepared.injected_error):
        timed_sample(prepared)
    (record,) = retry_records(tmp_path)
    assert record.retried_sample["rerun"] == "error"
    assert "re-run once: error again (IOException" in record.detail


def test_only_one_sample_per_cell_is_rerun(prepared, tmp_path):
    fail_calls(prepared, {1, 3})
    timed_sample(prepared)
    with pytest.raises(prepared.injected_error):
        timed_sample(prepared)
    assert len(retry_records(tmp_path)) == 1


def _add_retry(results, workload: str, rows: int, rerun: str) -> None:
    """A re-run's record for a DuckDB cell of the real asv run, written when it was running."""
    log = results / "runs.jsonl"
    records = [RunRecord.from_json(line) for line in log.read_text().splitlines()]
    validated = next(
        r
        for r in records
        if (r.engine, r.workload, r.rows) == ("duckdb", workload, rows)  # one DuckDB env
    )
    retry = dataclasses.replace(
        validated,
        status="error",
        detail=f"timed sample 2 raised IOException: boom; re-run once: {rerun}",
        wall_s=None,
        peak_bytes=None,
        validated=False,
        retried_sample={"sample": 2, "error": "IOException: boom", "rerun": rerun},
    )
    with open(log, "a") as file:
        file.write(json.dumps(dataclasses.asdict(retry)) + "\n")


def test_the_report_shows_a_rerun_sample_beside_its_cell(tmp_path):
    results = clean_results(tmp_path / "results")
    _add_retry(results, "groupby_q2", 10_000, "ok")
    _add_retry(results, "groupby_q3", 10_000, "error")
    _fail_cell(results, DUCKDB, "groupby_q3", 10_000, skipped=False)
    rows = {
        (row.workload, row.rows): row
        for row in collect(results / "asv", results / "runs.jsonl")
        if row.source == ASV and row.environment == DUCKDB
    }
    rerun_ok, rerun_failed = rows["groupby_q2", 10_000], rows["groupby_q3", 10_000]
    assert rerun_ok.ok and "re-run once: ok" in rerun_ok.detail
    assert rerun_failed.status == "error" and "re-run once: error" in rerun_failed.detail
    assert all("re-run" not in row.detail for key, row in rows.items() if key[0] == "groupby_q1")
