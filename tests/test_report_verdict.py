"""The verdict and the front page: winners, margins and spreads from the cells, ML library
variants ranked apart, the frontier in words, results/summary.md, and the README section
that must equal the committed summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.engines import ENGINE_NAMES, catalogue_labels
from bakeoff.frontier import FrontierCell
from bakeoff.report import frontpage, sections, summary, verdict, write_report
from bakeoff.report.table import ASV, Row
from bakeoff.runner import RunRecord
from tests.report_fixture import results_with_failures

GIB = 2**30
REPO = Path(__file__).resolve().parents[1]


def cell(
    label: str, workload: str, time_s: float | None, rows: int = 1000, peak: float = 1.0
) -> Row:
    """A cell; ``None`` is unsupported (as an ML library on an engine without one)."""
    return Row(
        source=ASV,
        engine=label,
        engine_version="1.0",
        pinned="",
        environment=label,
        family=workload.split("_")[0],
        workload=workload,
        rows=rows,
        machine="m",
        commit="c",
        date="2026-01-01T00:00:00+00:00",
        status="ok" if time_s is not None else "unsupported",
        time_s=time_s,
        time_q25_s=time_s * 0.9 if time_s else None,
        time_q75_s=time_s * 1.1 if time_s else None,
        peak_bytes=peak if time_s is not None else None,
    )


def keyed(rows: list[Row]) -> dict[summary.Key, Row]:
    return {(r.label, r.workload, r.rows): r for r in rows}


ML = keyed(
    [
        cell("duckdb", "ml_m1", 1.0, peak=100),
        cell("duckdb", "ml_m2", 1.0, peak=100),
        cell("polars", "ml_m1", 2.0, peak=50),
        cell("polars", "ml_m2", 2.0, peak=50),
        cell("spark", "ml_m1", 8.0, peak=500),
        cell("spark", "ml_m2", 8.0, peak=500),
        cell("duckdb", "ml_m1_lib", None),
        cell("polars", "ml_m1_lib", None),
        cell("spark", "ml_m1_lib", 3.0, peak=400),
        cell("dask", "ml_m1_lib", 6.0, peak=300),
        cell("dask", "ml_m1", None),
        cell("dask", "ml_m2", None),
    ]
)


def test_ml_library_variants_are_ranked_apart_among_the_engines_that_have_one():
    best = {b.family: b for b in summary.best_per_family(ML)}
    assert set(best) == {"ml", "ml (ML libraries)"}
    frames, library = best["ml"], best["ml (ML libraries)"]
    assert (frames.fastest, frames.fastest_s, frames.runner_up) == ("duckdb", 2.0, "polars")
    assert frames.margin == pytest.approx(2.0)
    assert frames.margin_low == pytest.approx(4.0 * 0.9 / (2.0 * 1.1))
    assert frames.margin_high == pytest.approx(4.0 * 1.1 / (2.0 * 0.9))
    assert (frames.leanest, frames.complete) == ("polars", ["duckdb", "polars", "spark"])
    assert frames.unanswered == ["dask"]
    assert (library.fastest, library.runner_up, library.leanest) == ("spark", "dask", "dask")
    assert library.margin == pytest.approx(2.0) and library.unanswered == ["duckdb", "polars"]
    said = verdict.sentences(ML, {})
    assert said[0].startswith("ml: at 1e3 rows duckdb is fastest (2 s in total), 2.0x faster ")
    assert "than polars (1.6x to 2.4x across the interquartile ranges)" in said[0]
    assert "polars the leanest (peak 50 B)" in said[0] and "no answer here: dask" in said[0]
    assert said[1].startswith("ml (ML libraries): at 1e3 rows spark is fastest (3 s in total)")
    assert "Not ranked, no answer here: duckdb, polars." in said[1]
    assert said[-1].startswith("Combined score over 3 questions")
    assert 3 <= len(said) <= 6


def test_a_group_no_engine_answered_says_so():
    cells = keyed([cell("duckdb", "ml_m1_lib", None), cell("duckdb", "ml_m1", 1.0)])
    said = verdict.sentences(cells, {})
    assert said[1] == (
        "ml (ML libraries): at 1e3 rows no engine answered any question. "
        "Not ranked, no answer here: duckdb."
    )


def record(engine: str, workload: str, rows: int, cap: int, status: str = "ok") -> RunRecord:
    return RunRecord(
        engine=engine,
        version="1",
        settings={},
        workload=workload,
        rows=rows,
        status=status,
        wall_s=1.0 if status == "ok" else None,
        peak_bytes=GIB if status == "ok" else None,
        limits={"memory_cap_bytes": cap},
    )


def frontier_cells() -> verdict.FrontierCells:
    found = {}
    for engine, rows, cap, status in [
        ("duckdb", 10**7, 4 * GIB, "ok"),
        ("duckdb", 10**8, 4 * GIB, "ok"),
        ("polars", 10**7, 4 * GIB, "ok"),
        ("polars", 10**8, 4 * GIB, "out_of_memory"),
    ]:
        frontier_cell = FrontierCell(engine, "join", cap, rows)
        frontier_cell.records["join_q1"] = record(engine, "join_q1", rows, cap, status)
        found[engine, "join", cap, rows] = frontier_cell
    return found


def test_the_frontier_in_words():
    assert verdict.frontier_sentences(frontier_cells()) == [
        "Larger than memory, the largest scale completed: join under 4.0 GiB: duckdb 1e8, "
        "polars 1e7 (stops at 1e8: out of memory on join_q1)."
    ]
    table = sections.frontier_section(frontier_cells())[3]
    assert table.rows == [
        ["duckdb", "1e8"],
        ["polars", "1e7; stopped: out_of_memory (join_q1) at 1e8"],
    ]


def test_scaling_curves_only_where_two_scales_were_run(tmp_path):
    blocks = sections.scaling_sections(ML, tmp_path, {})
    assert [type(b).__name__ for b in blocks] == ["Heading", "Text"]
    assert blocks[1].text.startswith("ml: one scale run (1e3 rows), so no scaling curve")


def test_extras_newer_than_the_measured_versions_are_said(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n[project.optional-dependencies]\n'
        'duckdb = ["duckdb>=1.1"]\npolars = ["polars>=1.31.1"]\n'
    )
    measured = {"duckdb": "1.0.0", "polars": "1.31.1", "polars==1.2.0": "1.2.0", "vaex": "4"}
    assert frontpage.stale(measured, pyproject) == [
        "duckdb 1.0.0 (the extras now ask duckdb>=1.1)",
        "polars==1.2.0 1.2.0 (the extras now ask polars>=1.31.1)",
    ]


def test_summary_md_holds_the_verdict_score_and_a_table_per_family(tmp_path):
    results = results_with_failures(tmp_path / "results")
    write_report(results, data_dirs=[results / "data"])
    text = (results / "summary.md").read_text()
    assert text.startswith("Measured on `vm` (AMD EPYC, 2 cores, 23.5 GiB) on 2026-11-25")
    assert "duckdb 2.0.1, polars==2.0.0, polars==2.1.0" in text
    assert '`make bench BENCH_ARGS="--engines duckdb,polars --rows 1e4,3e4"`' in text
    assert "- groupby: at 1e4 rows polars==2.1.0 is fastest" in text
    assert "| 1 | polars==2.1.0 | 1.28 |" in text and summary.SCORE_FORMULA in text
    assert "| duckdb | 4.71 ms | 7.35 ms | **out of memory** | 4.61 ms | 5.04 ms |" in text
    assert "#### groupby at 1e4 rows: median time" in text


def test_readme_command_writes_the_section_once_then_replaces_it(tmp_path):
    results = results_with_failures(tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text("# project\n\nIntro.\n\n## Usage\n\nRun it.\n")

    def readme_command() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bakeoff", "report", "--readme", str(readme)],
            capture_output=True,
            text=True,
            env={"BAKEOFF_RESULTS_DIR": str(results), "PATH": "/usr/bin:/bin"},
            timeout=120,
        )

    missing = readme_command()
    assert missing.returncode == 1 and "summary.md does not exist" in missing.stdout
    write_report(results, data_dirs=[results / "data"])
    assert readme_command().returncode == 0
    first = readme.read_text()
    assert first.startswith("# project\n\nIntro.\n\n## Results\n\n" + frontpage.START)
    assert first.endswith(frontpage.END + "\n\n## Usage\n\nRun it.\n")
    assert frontpage.readme_section(first) == (results / "summary.md").read_text()
    (results / "summary.md").write_text("Measured somewhere else.\n")
    assert readme_command().returncode == 0
    second = readme.read_text()
    assert frontpage.readme_section(second) == "Measured somewhere else.\n"
    assert second.count("## Results") == 1 and second.endswith("## Usage\n\nRun it.\n")


def test_readme_results_section_equals_the_committed_summary():
    committed = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "results/summary.md"],
        cwd=REPO,
        capture_output=True,
    )
    if committed.returncode != 0:
        pytest.skip("no results/summary.md committed yet (bakeoff report --readme adds it)")
    section = frontpage.readme_section((REPO / "README.md").read_text())
    assert section is not None, "README.md has no results section: run bakeoff report --readme"
    assert section == (REPO / "results" / "summary.md").read_text()


def test_the_regenerating_command_is_plain_make_bench_for_the_default_suite():
    assert frontpage.bench_command(catalogue_labels(), "1e7") == "make bench"
    assert "polars[in-memory]" in catalogue_labels()
    assert frontpage.bench_command(list(ENGINE_NAMES), "1e7").startswith(
        'make bench BENCH_ARGS="--engines duckdb,polars,dask'
    )  # results without the variant were not the whole default suite
    assert (
        frontpage.bench_command(["duckdb", "polars"], "1e6")
        == 'make bench BENCH_ARGS="--engines duckdb,polars --rows 1e6"'
    )
