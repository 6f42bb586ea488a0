"""``bakeoff frontier``: capped runs at increasing scales, and the report's frontier tables."""

from __future__ import annotations

import os
import sys

from bakeoff.frontier import frontier
from bakeoff.report import write_report
from bakeoff.report.table import read_log
from tests.helpers import bakeoff


def test_the_frontier_stops_a_family_where_it_fails_and_the_report_draws_it(data_dir, tmp_path):
    results = tmp_path / "results"
    env = dict(os.environ, BAKEOFF_DATA_DIR=str(data_dir), BAKEOFF_RESULTS_DIR=str(results))
    done = bakeoff(
        sys.executable,
        *("frontier", "--engines", "duckdb", "--caps", "64MiB,4GiB", "--rows", "1e4,2e4"),
        *("--workloads", "groupby_q1,groupby_q2,join_q1", "--timeout", "120"),
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    cells = frontier(read_log(results / "runs.jsonl"))
    small, large = 64 * 2**20, 4 * 2**30
    # Below the process's own size the first workload of the first scale is out of memory,
    # and nothing more runs: not the family's other workload, not the larger scale.
    for family in ("groupby", "join"):
        failed = cells["duckdb", family, small, 10_000]
        assert failed.failure is not None and failed.failure.status == "out_of_memory"
        assert list(failed.records) == [f"{family}_q1"]
        assert ("duckdb", family, small, 20_000) not in cells
        for rows in (10_000, 20_000):
            cell = cells["duckdb", family, large, rows]
            assert cell.completed and all(r.validated for r in cell.answered)
    assert sorted(cells["duckdb", "groupby", large, 20_000].records) == ["groupby_q1", "groupby_q2"]
    assert "duckdb groupby 2e4: cap 4GiB: completed q1, q2 in" in done.stdout

    write_report(results)
    report = (results / "report.md").read_text()
    assert "## Larger than memory: the frontier under memory caps" in report
    stop = "out_of_memory (groupby_q1) at 1e4"
    assert f"| duckdb | none; stopped: {stop} | 2e4 |" in report
    assert f"| duckdb | 2e4 | not run (stopped: {stop}) | completed q1, q2 in " in report


def test_what_failed_under_a_larger_cap_is_shown_as_not_run_under_a_smaller_one():
    """A scale that failed under 8 GiB is not run under 4 GiB; the report says where it failed."""
    from bakeoff.report.sections import frontier_section
    from bakeoff.runner import RunRecord

    def record(rows: int, cap_gib: int, status: str) -> RunRecord:
        return RunRecord(
            *("polars", "2.1.0", {}, "groupby_q1", rows, status),
            wall_s=1.0 if status == "ok" else None,
            peak_bytes=2**30 if status == "ok" else None,
            limits={"memory_cap_bytes": cap_gib * 2**30},
            started_at=f"2026-11-25T13:0{cap_gib}:00+00:00",
        )

    cells = frontier(
        [record(10**7, 8, "ok"), record(10**8, 8, "out_of_memory"), record(10**7, 4, "ok")]
    )
    assert ("polars", "groupby", 4 * 2**30, 10**8) not in cells
    tables = [block for block in frontier_section(cells) if hasattr(block, "rows")]
    largest, every = tables
    stop = "out_of_memory (groupby_q1) at 1e8"
    assert largest.rows == [
        ["polars", f"1e7; stopped: {stop} under cap 8.0 GiB", f"1e7; stopped: {stop}"]
    ]
    assert every.rows[1] == [
        "polars",
        "1e8",
        f"not run (stopped: {stop} under cap 8.0 GiB)",
        f"{stop.replace(' at 1e8', '')}",
    ]


def test_a_bad_cap_is_refused_before_anything_runs(tmp_path):
    env = dict(os.environ, BAKEOFF_RESULTS_DIR=str(tmp_path / "results"))
    done = bakeoff(sys.executable, "frontier", "--caps", "4GiB,lots", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "'lots'" in done.stderr
    assert not (tmp_path / "results").exists()
