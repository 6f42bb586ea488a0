"""Damaged inputs and full disks: the run log, the report and the CSV survive them.

A torn or foreign run-log line is skipped and counted, never a traceback; an append after a
torn line keeps its record; every file the report writes is replaced whole, so a disk that
fills halfway leaves the old one; a damaged asv machine or result file is said, and an engine
whose results cannot be read is shown as failed, never dropped from the ranking.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bakeoff import cli
from bakeoff.estimate import split_text
from bakeoff.frontier import _lines
from bakeoff.report import frontpage
from bakeoff.report.table import ASV_FAILED, collect
from bakeoff.runner import DamagedRecord, RunRecord, append_to_log, read_run_log
from shared import atomic
from tests.report_fixture import FIXTURE, clean_results

DUCKDB_FILE = "d8e340c6-virtualenv-py3.11-BAKEOFF_ENGINEduckdb.json"
A_RECORD = (FIXTURE / "runs.jsonl").read_text().splitlines()[0]
DAMAGED_LINES = {
    "foreign JSON object": b'{"a": 1}',
    "not JSON": b"this is not json",
    "torn record": A_RECORD[: len(A_RECORD) // 2].encode(),
    "not UTF-8": b"\xff\xfe\x00garbage",
    "JSON array": b"[1, 2, 3]",
    "a field of the wrong type": json.dumps({**json.loads(A_RECORD), "rows": "many"}).encode(),
    "NUL bytes": b"\x00" * 64,
}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return clean_results(tmp_path / "results")


def bakeoff_report(
    results: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str
) -> tuple[int, str, str]:
    """``bakeoff report`` as the CLI runs it, on ``results``: exit code, stdout, stderr."""
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(results))
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(results / "data"))
    code = cli.main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def insert_lines(log: Path, at: dict[int, bytes]) -> None:
    """Put each damaged line so that it becomes line number ``n`` (from 1) of the log."""
    lines = log.read_bytes().split(b"\n")
    for number, line in sorted(at.items()):
        lines.insert(number - 1, line)
    log.write_bytes(b"\n".join(lines))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# -- 1. damaged run-log lines are skipped and counted ----------------------------------------
@pytest.mark.parametrize("kind", list(DAMAGED_LINES))
def test_a_damaged_run_log_line_is_skipped_and_counted(kind, results, monkeypatch, capsys):
    log = results / "runs.jsonl"
    insert_lines(log, {6: DAMAGED_LINES[kind], 9: b'{"a": 1}'})

    code, out, err = bakeoff_report(results, monkeypatch, capsys)

    assert code == 0, err
    assert out.strip() == str(results / "report.html")
    assert err.splitlines() == [f"bakeoff: skipped 2 damaged lines of {log} (lines 6, 9)"]
    # Every record the damage did not touch still counts: the same table as the whole log.
    assert len(csv_rows(results / "results.csv")) == len(
        collect(FIXTURE / "asv", FIXTURE / "runs.jsonl")
    )
    page = (results / "report.html").read_text()
    assert f"Damaged input: skipped 2 damaged lines of {log} (lines 6, 9)." in page


def test_a_log_cut_in_its_last_line_loses_only_that_line(results, monkeypatch, capsys):
    log = results / "runs.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 200])  # a full disk

    code, _, err = bakeoff_report(results, monkeypatch, capsys)

    last = whole.count(b"\n")
    assert code == 0, err
    assert err.strip() == f"bakeoff: skipped 1 damaged line of {log} (line {last})"
    assert len(read_run_log(log).records) == last - 1


def test_many_damaged_lines_are_counted_and_the_first_ones_named(tmp_path):
    log = tmp_path / "runs.jsonl"
    log.write_text("\n".join(["{}", A_RECORD] * 12) + "\n")
    found = read_run_log(log)
    assert len(found.records) == 12 and len(found.damaged) == 12
    assert found.damage_text() == (
        f"skipped 12 damaged lines of {log} (lines 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, ...)"
    )


@pytest.mark.parametrize("line", [DAMAGED_LINES[k].decode(errors="replace") for k in DAMAGED_LINES])
def test_from_json_says_a_line_is_damaged_whatever_is_wrong(line):
    with pytest.raises(DamagedRecord):
        RunRecord.from_json(line)


def test_the_frontier_reads_past_damaged_lines(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(results))
    log = results / "runs.jsonl"
    for rows, status in ((10_000, "ok"), (20_000, "out_of_memory")):
        record = RunRecord(
            *("duckdb", "2.0.1", {}, "groupby_q1", rows, status),
            wall_s=0.5 if status == "ok" else None,
            peak_bytes=2**20 if status == "ok" else None,
            limits={"memory_cap_bytes": 2**30},
            started_at=f"2026-11-25T13:00:0{rows // 10_000}+00:00",
        )
        append_to_log(record, log)
        with open(log, "ab") as handle:
            handle.write(b'{"a": 1}\n')

    lines = _lines(["duckdb"], ["groupby"], ["1GiB"], [10_000, 20_000])

    assert lines == [
        "duckdb groupby 1e4: cap 1GiB: completed q1 in 0.5 s; peak 1.0 MiB",
        "duckdb groupby 2e4: cap 1GiB: out_of_memory (groupby_q1)",
    ]
    assert capsys.readouterr().err == f"bakeoff: skipped 2 damaged lines of {log} (lines 2, 4)\n"


def test_the_bench_time_split_reads_past_damaged_lines(tmp_path):
    log = tmp_path / "runs.jsonl"
    log.write_text(f"{A_RECORD}\nnot json\n{A_RECORD}\n")
    assert " for 1 cells: " in split_text(10.0, 100.0, log, first_line=1)


# -- 2. an append after a torn line keeps its record -----------------------------------------
def test_an_append_after_a_torn_line_keeps_its_record(tmp_path):
    log = tmp_path / "runs.jsonl"
    log.write_bytes((FIXTURE / "runs.jsonl").read_bytes())
    before = read_run_log(log).records
    with open(log, "ab") as handle:  # the disk filled halfway through a record
        handle.write(A_RECORD[:300].encode())
    new = RunRecord("polars", "2.1.0", {}, "groupby_q3", 10_000, "ok", wall_s=0.25)

    append_to_log(new, log)

    found = read_run_log(log)
    assert found.records == [*before, new]
    assert found.damaged == [len(before) + 1]
    assert log.read_bytes().endswith(b"\n")


def test_appends_to_a_whole_log_add_one_line_each(tmp_path):
    log = tmp_path / "results" / "runs.jsonl"  # created, with its directory
    records = [RunRecord("duckdb", "2.0.1", {}, "groupby_q1", n, "ok") for n in (1, 2, 3)]
    for record in records:
        append_to_log(record, log)
    assert log.read_text().splitlines() == [r.to_json() for r in records]
    assert read_run_log(log).records == records


# -- 3. every file the report writes is replaced whole ---------------------------------------
class _FullDisk:
    """A file on a disk that fills halfway through: the first half of the first write lands,
    then ENOSPC, as write(2) does."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: Any) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def fill_disk_at(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Writing ``name`` (through its temporary file) fills the disk; other files write."""
    real_fdopen = os.fdopen

    def fdopen(descriptor: int, *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(descriptor, *args, **kwargs)
        target = Path(os.readlink(f"/proc/self/fd/{descriptor}")).name
        return _FullDisk(handle) if target.startswith(f".{name}.") else handle

    monkeypatch.setattr(os, "fdopen", fdopen)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(atomic.TEMPORARY_SUFFIX))


@pytest.mark.parametrize(
    "name", ["report.html", "results.csv", "summary.md", "report.md", "times_groupby_10000.png"]
)
def test_a_full_disk_leaves_the_previous_file_whole(name, results, monkeypatch, capsys):
    assert bakeoff_report(results, monkeypatch, capsys)[0] == 0
    previous = {p.name: p.read_bytes() for p in results.iterdir() if p.is_file()}
    assert name in previous
    fill_disk_at(monkeypatch, name)

    code, _, err = bakeoff_report(results, monkeypatch, capsys)

    assert (results / name).read_bytes() == previous[name]
    assert leftovers(results) == []
    assert code == 1
    assert err.startswith(f"bakeoff: error: No space left on device ({results / name}): ")


def test_a_full_disk_leaves_the_readme_whole(results, monkeypatch, capsys):
    assert bakeoff_report(results, monkeypatch, capsys)[0] == 0
    readme = results / "README.md"
    readme.write_text(f"# project\n\n## Results\n\n{frontpage.START}\nold\n{frontpage.END}\n")
    readme.chmod(0o640)
    previous = readme.read_bytes()
    fill_disk_at(monkeypatch, "README.md")

    code, _, err = bakeoff_report(results, monkeypatch, capsys, "--readme", str(readme))

    assert code == 1 and "No space left on device" in err
    assert readme.read_bytes() == previous and leftovers(results) == []
    monkeypatch.undo()
    assert bakeoff_report(results, monkeypatch, capsys, "--readme", str(readme))[0] == 0
    assert "### Verdict" in readme.read_text()
    assert readme.stat().st_mode & 0o777 == 0o640  # replaced, with the permissions it had


def test_a_file_limit_hit_midway_leaves_the_previous_report(results):
    """A real short write: the kernel refuses the report past RLIMIT_FSIZE (EFBIG), as a full
    disk would, after the smaller files (CSV, charts, summary) were written."""
    page = results / "report.html"
    page.write_text("the previous report\n")
    limit = 200_000  # above every chart and the CSV, below the page with its images
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, hard))\n"
        "from bakeoff.cli import main\n"
        "sys.exit(main(['report']))\n"
    )
    env = dict(os.environ, BAKEOFF_RESULTS_DIR=str(results), BAKEOFF_DATA_DIR=str(results / "data"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )

    assert page.read_text() == "the previous report\n"
    assert leftovers(results) == []
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"bakeoff: error: File too large ({page}): ")
    assert (results / "results.csv").stat().st_size < limit  # written whole before
    assert csv_rows(results / "results.csv")[-1]["source"]


def test_an_error_while_writing_removes_the_temporary_file(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("old")
    with pytest.raises(OSError) as raised, atomic.replacing(path) as handle:
        handle.write("half of the new")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert raised.value.filename == str(path)
    assert path.read_text() == "old" and leftovers(tmp_path) == []
    assert atomic.write_text(path, "new").read_text() == "new"
    assert leftovers(tmp_path) == []


# -- 4. a damaged machine file is said, and the report goes on -------------------------------
@pytest.mark.parametrize("content", ['{"machine": "vm", "cpu', "[]", ""])
def test_a_damaged_machine_file_is_said_and_the_results_still_reported(
    content, results, monkeypatch, capsys
):
    machine = results / "asv" / "vm" / "machine.json"
    machine.write_text(content)

    code, _, err = bakeoff_report(results, monkeypatch, capsys)

    assert code == 0, err
    (line,) = err.splitlines()
    assert line.startswith(f"bakeoff: asv's machine file {machine} is unreadable (")
    assert "leaves out the facts of machine vm" in line
    rows = csv_rows(results / "results.csv")
    assert {row["engine"] for row in rows if row["source"] == "asv"} == {"duckdb", "polars"}
    assert "Damaged input: asv&#x27;s machine file" in (results / "report.html").read_text()
    assert (
        "Measured on `vm` (cpu unknown, ? cores, memory unknown)"
        in (results / "summary.md").read_text()
    )


# -- 5. an unreadable asv result file shows its engine as failed -----------------------------
@pytest.mark.parametrize(
    "damage",
    ["cut", "not an object", "no results"],
)
def test_an_unreadable_asv_file_shows_its_engine_failed(damage, results, monkeypatch, capsys):
    path = results / "asv" / "vm" / DUCKDB_FILE
    text = path.read_text()
    path.write_text(
        {
            "cut": text[:500],
            "not an object": "[1, 2]",
            "no results": json.dumps({k: v for k, v in json.loads(text).items() if k != "results"}),
        }[damage]
    )

    code, _, err = bakeoff_report(results, monkeypatch, capsys)

    assert code == 0, err
    (line,) = err.splitlines()
    assert line.startswith(f"bakeoff: asv's result file {path} is unreadable (")
    assert line.endswith("; its 10 cells are shown as asv failed")
    duckdb = [r for r in csv_rows(results / "results.csv") if r["engine"] == "duckdb"]
    asv = [r for r in duckdb if r["source"] == "asv"]
    assert len(asv) == 10 and {r["status"] for r in asv} == {ASV_FAILED}
    assert all(
        r["detail"].startswith(f"asv's result file {DUCKDB_FILE} is unreadable") for r in asv
    )
    assert {r["engine_version"] for r in asv} == {"2.0.1"}  # from the run log's records
    summary_md = (results / "summary.md").read_text()
    assert "| duckdb | **asv failed** |" in summary_md
    assert "duckdb 10.00" in summary_md  # ranked last, not left out


def test_a_symlinked_file_is_replaced_through_its_link(tmp_path):
    target = tmp_path / "kept" / "README.md"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "README.md"
    link.symlink_to(target)
    atomic.write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert leftovers(tmp_path) == [] and leftovers(target.parent) == []
