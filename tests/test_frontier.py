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
    # Below the process's own size every first scale is out of memory, and nothing larger runs.
    for family in ("groupby", "join"):
        failed = cells["duckdb", family, small, 10_000]
        assert failed.failure is not None and failed.failure.status == "out_of_memory"
        assert ("duckdb", family, small, 20_000) not in cells
        for rows in (10_000, 20_000):
            cell = cells["duckdb", family, large, rows]
            assert cell.completed and all(r.validated for r in cell.answered)
    assert sorted(cells["duckdb", "groupby", large, 20_000].records) == ["groupby_q1", "groupby_q2"]
    assert "duckdb groupby 2e4: cap 64MiB: not run | cap 4GiB: completed 2 in" in done.stdout

    write_report(results)
    report = (results / "report.md").read_text()
    assert "## Larger than memory: the frontier under memory caps" in report
    assert "| duckdb | none; not 1e4: out_of_memory (groupby_q1) | 2e4 |" in report
    assert "| duckdb | 2e4 | not run (stopped at 1e4) | completed 2 in " in report


def test_a_bad_cap_is_refused_before_anything_runs(tmp_path):
    env = dict(os.environ, BAKEOFF_RESULTS_DIR=str(tmp_path / "results"))
    done = bakeoff(sys.executable, "frontier", "--caps", "4GiB,lots", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "'lots'" in done.stderr
    assert not (tmp_path / "results").exists()
