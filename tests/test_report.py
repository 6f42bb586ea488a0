"""The report, from real asv results: the tidy table, failures shown as what they are, the
summary's numbers, the engine-version A/B, and no secret in anything written."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest

from bakeoff.report import summary, write_report
from bakeoff.report.asvlog import failure_reasons
from bakeoff.report.table import ASV, SINGLE_RUN, Row, collect
from tests.report_fixture import FIXTURE, clean_results, results_with_failures

GROUPBY = [f"groupby_q{i}" for i in range(1, 6)]
LABELS = ["duckdb", "polars==2.0.0", "polars==2.1.0"]


@pytest.fixture
def failed(tmp_path):
    return results_with_failures(tmp_path / "results")


@pytest.fixture
def clean(tmp_path):
    return clean_results(tmp_path / "results")


def report(results, **options):
    write_report(results, data_dirs=[results / "data"], **options)
    return (results / "report.md").read_text()


def md_table(markdown: str, first_cell: str, after: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell`` after heading ``after``."""
    text = markdown[markdown.index(after) :]
    line = next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_one_row_per_cell_with_its_provenance(clean):
    rows = collect(clean / "asv", clean / "runs.jsonl")
    measured = [row for row in rows if row.source == ASV]
    assert len(measured) == len(LABELS) * len(GROUPBY) * 2
    assert {row.label for row in measured} == set(LABELS)
    assert {row.engine_version for row in measured if row.engine == "polars"} == {"2.0.0", "2.1.0"}
    for row in measured:
        assert row.ok and row.time_s > 0 and row.peak_bytes > 0
        assert row.time_q25_s <= row.time_s <= row.time_q75_s
        assert row.samples == 5 and row.first_run_s > 0
        assert row.dataset_checksum and row.commit.startswith("d8e340c6") and row.machine
        assert row.settings and row.python
    singles = [row for row in rows if row.source == SINGLE_RUN]
    assert {(row.workload, row.rows) for row in singles} == {
        ("groupby_q1", 20000),
        ("groupby_q2", 20000),
    }


def test_records_asv_made_are_never_single_runs(clean):
    log = clean / "runs.jsonl"
    lines = log.read_text().splitlines()
    marked = lines[-1].replace('"provenance": {', '"provenance": {"asv_env_name": "an-old-env", ')
    log.write_text("\n".join([*lines[:-1], marked]) + "\n")
    singles = [r for r in collect(clean / "asv", log) if r.source == SINGLE_RUN]
    assert [row.workload for row in singles] == ["groupby_q1"]


def test_csv_has_every_row_and_column(clean):
    report(clean)
    with open(clean / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 32
    for column in ("engine_version", "time_s", "time_q25_s", "first_run_s", "peak_bytes"):
        assert column in rows[0]
    assert {r["status"] for r in rows} == {"ok"}


def test_failures_are_labelled_never_zero(failed):
    markdown = report(failed)
    assert md_table(markdown, "groupby_q1", "## groupby at 1e4 rows")[0] == "**timeout**"
    assert md_table(markdown, "groupby_q5", "## groupby at 1e4 rows")[:2] == [
        "**skipped**",
        "**error**",
    ]
    at_3e4 = "## groupby at 3e4 rows"
    assert md_table(markdown, "groupby_q3", at_3e4)[0] == "**out of memory**"
    assert md_table(markdown, "groupby_q2", at_3e4)[1] == "**wrong answer**"
    assert md_table(markdown, "groupby_q4", at_3e4)[2] == "**asv failed**"
    failures = md_table(markdown, "polars==2.1.0", "## Why cells have no number")
    assert failures == [
        "groupby_q4",
        "3e4",
        "**asv failed**",
        "asv: benchmark failed (exit status 3)",
    ]
    assert "| 0 |" not in markdown and " 0 ms" not in markdown
    for png in ("times_groupby_10000.png", "times_groupby_30000.png", "scaling_groupby.png"):
        assert (failed / png).stat().st_size > 10_000


def test_a_scale_asv_never_ran_is_not_an_asv_table(failed):
    markdown = report(failed)
    assert "## groupby at 2e4 rows" not in markdown
    # the one cell: in its table, in the reasons and in the A/B
    assert markdown.count("asv failed**") == 3
    singles = md_table(markdown, "duckdb", "## Single validated runs")
    assert singles[:4] == ["2.0.1", "groupby_q1", "2e4", "ok"]


def test_unsupported_cells_say_so(failed, monkeypatch):
    from workloads import Unsupported

    monkeypatch.setattr(
        "bakeoff.report.table.implementation",
        lambda engine, workload: (
            Unsupported("duckdb cannot do this yet")
            if (engine, workload.name) == ("duckdb", "groupby_q5")
            else None
        ),
    )
    markdown = report(failed)
    assert md_table(markdown, "groupby_q5", "## groupby at 1e4 rows")[0] == "**unsupported**"
    assert "duckdb cannot do this yet" in markdown


def test_asv_reasons_are_read_from_its_output():
    reasons = failure_reasons((FIXTURE / "asv-output.log").read_text())
    assert reasons == {}  # the real run had no failure
    text = """[ 0.00%] · For bakeoff commit d8e340c6 <main>:
[ 0.00%] ·· Benchmarking virtualenv-py3.11-BAKEOFF_ENGINEduckdb
[50.00%] ··· bench_workloads.GroupBy.time_query                          failed
[50.00%] ··· ============ ========
              groupby_q1   failed
             ============ ========

[50.00%] ···· asv: benchmark failed (exit status 3)
[100.00%] ··· bench_workloads.GroupBy.track_peak_tree_bytes               ok
"""
    assert failure_reasons(text) == {
        (
            "d8e340c6",
            "virtualenv-py3.11-BAKEOFF_ENGINEduckdb",
            "bench_workloads.GroupBy.time_query",
            "*",
        ): "asv: benchmark failed (exit status 3)"
    }


def _row(label: str, workload: str, rows: int, time_s: float | None, peak: float = 1.0) -> Row:
    engine, _, version = label.partition("==")
    return Row(
        source=ASV,
        engine=engine,
        engine_version=version or "1",
        pinned=version,
        environment=label,
        family="groupby",
        workload=workload,
        rows=rows,
        machine="m",
        commit="c",
        date="2026-01-01T00:00:00+00:00",
        status="ok" if time_s is not None else "timeout",
        time_s=time_s,
        peak_bytes=peak if time_s is not None else None,
    )


def test_combined_score_is_clickbench_with_a_fixed_penalty():
    cells = {
        (r.label, r.workload, r.rows): r
        for r in [
            _row("a", "groupby_q1", 10, 0.010),
            _row("b", "groupby_q1", 10, 0.030),
            _row("a", "groupby_q2", 10, 1.0),
            _row("b", "groupby_q2", 10, None),
        ]
    }
    scores = summary.combined_scores(cells)
    assert scores["a"] == pytest.approx(1.0)
    expected_b = math.sqrt((0.010 + 0.030) / (0.010 + 0.010) * summary.PENALTY_RATIO)
    assert scores["b"] == pytest.approx(expected_b)


def test_crossovers_and_the_fastest_per_family():
    cells = {
        (r.label, r.workload, r.rows): r
        for r in [
            _row("a", "groupby_q1", 1000, 0.1, peak=10),
            _row("b", "groupby_q1", 1000, 1.0, peak=5),
            _row("a", "groupby_q1", 100000, 10.0, peak=1000),
            _row("b", "groupby_q1", 100000, 1.0, peak=50),
        ]
    }
    found = summary.crossovers(summary.series(cells, "groupby", "time"), "groupby", "time")
    assert [(c.winner, c.loser) for c in found] == [("b", "a")]
    assert found[0].rows == pytest.approx(10000)
    best = summary.best_per_family(cells)
    assert [(b.rows, b.fastest, b.leanest) for b in best] == [(1000, "a", "b"), (100000, "b", "b")]


def test_engine_versions_are_compared_workload_by_workload(clean):
    markdown = report(clean, ab_factor=1.1)
    cells = summary.current(collect(clean / "asv", clean / "runs.jsonl"))
    comparisons = summary.ab_comparisons(cells, 1.1)
    assert len(comparisons) == len(GROUPBY) * 2
    assert {(c.old, c.new) for c in comparisons} == {("2.0.0", "2.1.0")}
    for c in comparisons:
        assert c.time_ratio > 0 and c.memory_ratio > 0 and c.significant is not None
        slower = c.time_ratio > 1.1 and c.significant
        assert any("slower" in flag for flag in c.flags) == slower
    assert "## Engine versions A/B" in markdown
    assert md_table(markdown, "polars", "## Engine versions A/B")[0] == "2.0.0 -> 2.1.0"
    lenient = summary.ab_comparisons(cells, 100.0)
    assert not any(c.flags for c in lenient)


def test_no_secret_reaches_results(failed, monkeypatch):
    secret, token = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "t0k3n-s3cr3t-v4lue"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    address = f"spark://bakeoff:{token}@cluster.example:7077"
    log = failed / "runs.jsonl"
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"threads": 2', f'"threads": 2, "spark.master": "{address}"')
    lines[1] = lines[1].replace(
        "matches the pandas reference", f"could not reach {address} with key {secret}"
    )
    log.write_text("\n".join(lines) + "\n")
    report(failed)
    for path in failed.rglob("*"):
        if path.is_file() and path.name != "runs.jsonl":  # the run log is the runner's
            content = path.read_bytes()
            assert secret.encode() not in content, path
            assert token.encode() not in content, path
    assert "spark://bakeoff:***@cluster.example:7077" in (failed / "results.csv").read_text()


def test_bakeoff_report_command(failed):
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", "report"],
        capture_output=True,
        text=True,
        env={
            "BAKEOFF_RESULTS_DIR": str(failed),
            "BAKEOFF_DATA_DIR": str(failed / "data"),
            "PATH": "/usr/bin:/bin",
        },
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(failed / "report.html")
    assert (failed / "report.md").exists() and (failed / "results.csv").exists()


def test_a_variant_is_labelled_and_coloured_as_its_engine(clean):
    """A labelled variant's result file (``polars[in-memory]``) gives cells of their own,
    named by the variant, readable or not."""
    import json

    from bakeoff.report.charts import styles
    from tests.report_fixture import POLARS_NEW

    source = next((clean / "asv" / "vm").glob(f"*-{POLARS_NEW}.json"))
    environment = f"{POLARS_NEW}-BAKEOFF_POLARS_OPTIONSengine=in-memory"
    data = json.loads(source.read_text())
    data["env_name"] = environment
    data["env_vars"]["BAKEOFF_POLARS_OPTIONS"] = "engine=in-memory"
    target = source.with_name(source.name.replace(POLARS_NEW, environment))
    target.write_text(json.dumps(data))
    labels = {row.label for row in collect(clean / "asv", clean / "runs.jsonl")}
    assert {"polars==2.1.0", "polars[in-memory]==2.1.0"} <= labels
    assert styles(["polars", "polars[in-memory]"])["polars[in-memory]"].colour == (
        styles(["polars"])["polars"].colour
    )
    target.write_text("{ damaged")
    unreadable = [
        row
        for row in collect(clean / "asv", clean / "runs.jsonl")
        if row.environment == environment
    ]
    assert unreadable and {row.label for row in unreadable} == {"polars[in-memory]==2.1.0"}
