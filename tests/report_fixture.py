"""The report's test data: a real asv run, with chosen cells turned into failures.

``tests/fixtures/ab_run`` is what ``bakeoff bench --engines duckdb,polars==2.0.0,
polars==2.1.0 --rows 1e4,3e4 --workloads groupby`` wrote on the test machine (asv results,
run log, asv's output, dataset manifests), plus two ``bakeoff run`` records at 2e4 rows that
asv never ran. :func:`results_with_failures` copies it and makes the failures a real run
would leave: asv's ``null`` for the cell, and the run log's record of why (or, for an asv
failure, no record and asv's own output).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "ab_run"
TIME = "bench_workloads.GroupBy.time_query"
MEMORY = "bench_workloads.GroupBy.track_peak_tree_bytes"
DUCKDB = "virtualenv-py3.11-BAKEOFF_ENGINEduckdb"
POLARS_OLD = "virtualenv-py3.11-BAKEOFF_ENGINEpolars-BAKEOFF_ENGINE_VERSION2.0.0"
POLARS_NEW = "virtualenv-py3.11-BAKEOFF_ENGINEpolars-BAKEOFF_ENGINE_VERSION2.1.0"
ASV_FAILED = None  # no run-log record: asv itself failed
SKIPPED = "skipped"  # asv's NaN: setup raised NotImplementedError

# (environment, workload, rows) -> status and detail the run log records for the cell
FAILURES: dict[tuple[str, str, int], tuple[str | None, str]] = {
    (DUCKDB, "groupby_q1", 10000): ("timeout", "no result after the 600 s time limit"),
    (DUCKDB, "groupby_q3", 30000): (
        "out_of_memory",
        "process tree reached 21.7 GiB, over the 21.6 GiB limit",
    ),
    (POLARS_OLD, "groupby_q2", 30000): ("wrong_answer", "sum of v1 is 90171, expected 90172"),
    (POLARS_OLD, "groupby_q5", 10000): ("error", "ComputeError: boom"),
    (POLARS_NEW, "groupby_q4", 30000): (ASV_FAILED, "asv: benchmark failed (exit status 3)"),
    (DUCKDB, "groupby_q5", 10000): (SKIPPED, ""),
}
ASV_OUTPUT = """[ 0.00%] · For bakeoff commit d8e340c6 <main>:
[66.67%] ·· Benchmarking {env}
[83.33%] ··· bench_workloads.GroupBy.time_query                              failed
[83.33%] ···· For parameters: '{workload}', {rows}
              {detail}
"""


def _result_file(results: Path, env: str) -> Path:
    return next((results / "asv" / "vm").glob(f"*-{env}.json"))


def _fail_cell(results: Path, env: str, workload: str, rows: int, skipped: bool) -> None:
    """asv's value for the cell becomes null (failed) or NaN (skipped), its stats null."""
    path = _result_file(results, env)
    data = json.loads(path.read_text())
    for key in (TIME, MEMORY):
        row = data["results"][key]
        workloads, scales = row[1]
        index = workloads.index(f"'{workload}'") * len(scales) + scales.index(str(rows))
        row[0][index] = math.nan if skipped else None
        for column in range(5, len(row)):  # stats and samples columns
            if isinstance(row[column], list):
                row[column][index] = None
    path.write_text(json.dumps(data))


def _edit_log(results: Path, engine: str, version: str, workload: str, rows: int, status, detail):
    log = results / "runs.jsonl"
    kept = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if (record["engine"], record["version"], record["workload"], record["rows"]) == (
            engine,
            version,
            workload,
            rows,
        ) and record["provenance"].get("harness_commit", "").startswith("d8e340c6"):
            if status in (ASV_FAILED, SKIPPED):
                continue
            record.update(status=status, detail=detail, wall_s=None, peak_bytes=None)
            record["validated"] = False
        kept.append(json.dumps(record))
    log.write_text("\n".join(kept) + "\n")


def results_with_failures(target: Path) -> Path:
    shutil.copytree(FIXTURE, target)
    for (env, workload, rows), (status, detail) in FAILURES.items():
        _fail_cell(target, env, workload, rows, skipped=status == SKIPPED)
        engine = "duckdb" if env == DUCKDB else "polars"
        version = {DUCKDB: "2.0.1", POLARS_OLD: "2.0.0", POLARS_NEW: "2.1.0"}[env]
        _edit_log(target, engine, version, workload, rows, status, detail)
        if status is ASV_FAILED:
            with open(target / "asv-output.log", "a") as log:
                log.write(ASV_OUTPUT.format(env=env, workload=workload, rows=rows, detail=detail))
    return target


def clean_results(target: Path) -> Path:
    shutil.copytree(FIXTURE, target)
    return target
