"""``bakeoff bench`` end to end under asv, at tiny scale, in three engine environments: DuckDB,
Polars, and Polars' labelled variant ``polars[in-memory]`` (sharing Polars' virtualenv).

This builds real asv virtualenvs from the committed HEAD (so it measures what is committed)
and checks that results hold a time and a tree peak for every groupby question on both
engines, that the run log has validated records, and that the report shows both engines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("duckdb", "polars", "polars[in-memory]")
GROUPBY = [f"groupby_q{i}" for i in range(1, 11)]  # duckdb, polars answer all


@pytest.mark.slow
def test_asv_quick_runs_three_engine_environments(data_dir, tmp_path):
    if (
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("asv benchmarks a commit; this checkout has none")
    results = tmp_path / "results"
    env = dict(os.environ, BAKEOFF_DATA_DIR=str(data_dir), BAKEOFF_RESULTS_DIR=str(results))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bakeoff",
            "bench",
            "--engines",
            ",".join(ENGINES),
            "--rows",
            "tiny",
            "--quick",
            "--bench",
            "GroupBy",
            "--repo",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the environments were installed beside the data, so asv built none itself
    assert "engine environments installed in" in done.stdout
    assert "Building " not in done.stdout
    assert not any((results / ".peaks").glob("*"))  # what the cells left each other is gone

    files = [p for p in (results / "asv").rglob("*.json") if p.name != "machine.json"]
    by_engine = {}
    for path in files:
        data = json.loads(path.read_text())
        env_vars = data.get("env_vars", {})
        engine = env_vars.get("BAKEOFF_ENGINE")
        if engine:
            in_memory = env_vars.get("BAKEOFF_POLARS_OPTIONS") == "engine=in-memory"
            by_engine[engine + ("[in-memory]" if in_memory else "")] = data
    assert set(by_engine) == set(ENGINES)
    for engine, data in by_engine.items():
        for benchmark in ("GroupBy.time_query", "GroupByMemory.track_peak_tree_bytes"):
            values = data["results"][f"bench_workloads.{benchmark}"][0]
            assert len(values) == len(GROUPBY)
            assert all(value is not None and value >= 0 for value in values), (engine, benchmark)

    records = [json.loads(line) for line in (results / "runs.jsonl").read_text().splitlines()]
    validated = [r for r in records if r["validated"]]
    assert sorted((r["engine"], r["workload"]) for r in validated) == sorted(
        (engine.split("[")[0], workload) for engine in ENGINES for workload in GROUPBY
    )  # one validated run per cell: the peak benchmark reads it back, it does not run again
    for engine, data in by_engine.items():
        peaks, (workloads, _rows), *_ = data["results"][
            "bench_workloads.GroupByMemory.track_peak_tree_bytes"
        ]
        mine = [r for r in validated if r["provenance"]["asv_env_name"] == data["env_name"]]
        logged = {r["workload"]: r["peak_bytes"] for r in mine}
        assert peaks == [logged[name.strip("'")] for name in workloads], engine
        if engine.startswith("polars"):  # the variant's options reached its benchmarks
            expected = "in-memory" if engine.endswith("[in-memory]") else "streaming"
            assert {r["settings"]["engine"] for r in mine} == {expected}
    report = (results / "report.md").read_text()
    for engine in ENGINES:
        assert engine in report
    assert "not run" not in report


@pytest.mark.parametrize(
    ("engine", "workload"), [("duckdb", "ml_m1_lib"), ("harness", "groupby_q1")]
)
def test_a_cell_without_an_answer_is_skipped_by_both_benchmarks(engine, workload, monkeypatch):
    """asv skips a benchmark whose setup raises NotImplementedError, and fails one whose body
    raises: an unsupported cell, or an environment without an engine, must raise in setup,
    for the peak as for the time, and before anything starts."""
    monkeypatch.setenv("BAKEOFF_ENGINE", engine)
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import bench_workloads

    for family in ("GroupBy", "ML"):
        for benchmark in (
            getattr(bench_workloads, family),
            getattr(bench_workloads, family + "Memory"),
        ):
            if workload in benchmark.params[0]:
                with pytest.raises(NotImplementedError):
                    benchmark().setup(workload, benchmark.params[1][0])


def test_a_peak_cell_reads_what_its_timing_process_left_without_the_harness(tmp_path):
    """asv runs a cell's peak in a process of its own, after the timing process: the peak
    comes from the file the timing process left for this bench run, environment and commit,
    with neither the harness's runtime nor the engine imported (an unanswered cell is skipped
    the same way); a cell it left nothing for is not given another run's peak."""
    from bakeoff.cells import RUN_VARIABLE, record_peak

    env = dict(
        os.environ,
        BAKEOFF_ENGINE="duckdb",
        BAKEOFF_RESULTS_DIR=str(tmp_path),
        ASV_ENV_NAME="virtualenv-py3.11-BAKEOFF_ENGINEduckdb",
        ASV_COMMIT="c" * 40,
        **{RUN_VARIABLE: "this-run"},
    )
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        record_peak("groupby_q1", 10_000, 123_456_789)
        record_peak("ml_m1_lib", 100, None, unsupported="no ML library")
        os.environ[RUN_VARIABLE] = "another-run"
        record_peak("groupby_q2", 10_000, 5)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    probe = textwrap.dedent(
        """
        import sys
        import bench_workloads as b
        peak = b.GroupByMemory()
        peak.setup("groupby_q1", 10_000)
        print(peak.track_peak_tree_bytes("groupby_q1", 10_000))
        try:
            b.MLMemory().setup("ml_m1_lib", 100)
        except NotImplementedError as reason:
            print("skipped:", reason)
        from bakeoff.cells import recorded_peak
        print(recorded_peak("groupby_q2", 10_000))  # left by another run
        print(sorted(m for m in ("bakeoff.suite", "bakeoff.runner", "duckdb") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO / "benchmarks",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "123456789.0",
        "skipped: no ML library",
        "None",
        "[]",
    ]
