"""The report shows failures as what they are, never as a time or a zero."""

from __future__ import annotations

import json

from bakeoff.report import write_report


def _record(engine, workload, status, detail, wall_s=None, peak=None):
    return {
        "engine": engine,
        "version": "1",
        "settings": {"threads": 2},
        "workload": workload,
        "rows": 10000,
        "status": status,
        "detail": detail,
        "wall_s": wall_s,
        "peak_bytes": peak,
        "digest": None,
        "validated": status == "ok",
        "dataset": {},
        "provenance": {"cpu": "test cpu", "cores": 2, "memory_bytes": 2**30, "python": "3.11"},
        "memory_timeline": [],
        "started_at": "",
    }


def test_failures_are_named_with_their_reason(tmp_path):
    records = [
        _record("spark", "groupby_q1", "timeout", "no result after the 600 s time limit"),
        _record("dask", "groupby_q1", "out_of_memory", "KilledWorker: worker died"),
        _record("vaex", "groupby_q1", "wrong_answer", "sum of v1 is 3, expected 4"),
        _record("polars", "groupby_q1", "ok", "matches the pandas reference", 0.5, 1000),
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = write_report(tmp_path, tmp_path / "asv").read_text()
    table = next(line for line in report.splitlines() if line.startswith("| groupby_q1"))
    cells = [cell.strip() for cell in table.strip("|").split("|")][1:]
    assert cells == ["**asv failed**", "**out_of_memory**", "**timeout**", "**wrong_answer**"]
    assert "no result after the 600 s time limit" in report
    assert "sum of v1 is 3, expected 4" in report
    assert " 0.000 s" not in report and "| 0 |" not in report
    assert (tmp_path / "report_1e4.png").stat().st_size > 0
