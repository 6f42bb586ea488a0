"""Machine load: the sampler tells this run's own CPU from other processes', a run record
keeps it, the report marks busy cells, and ``bakeoff bench`` says how long it will take."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bakeoff import load
from bakeoff.bench import parse_engines
from bakeoff.cells import HARNESS_ENVIRONMENT
from bakeoff.estimate import (
    QUERY_S,
    WARM_SHARE,
    CellsDone,
    EngineEstimate,
    asv_sample_seconds,
    cell_seconds,
    estimate,
    progress,
    run_history,
    samples_seconds,
    split_text,
)
from bakeoff.report import frontpage, sections, verdict
from bakeoff.report.table import single_run_rows
from bakeoff.runner import RunRecord, Status, run_workload
from workloads import get_workload

BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
REPO = Path(__file__).resolve().parents[1]


def _counters(busy: float, ours: float, steal: float = 0.0) -> load._Counters:
    """Counters after a 1 s window on 2 cores that started from zero."""
    return load._Counters(at=1.0, busy_s=busy, total_s=2.0, steal_s=steal, ours={1: ours})


ZERO = load._Counters(at=0.0, busy_s=0.0, total_s=0.0, steal_s=0.0, ours={1: 0.0})


def test_only_other_processes_make_a_window_busy():
    mine = load._between(ZERO, _counters(busy=1.9, ours=1.9))  # this run kept both cores busy
    assert mine.other_share == 0.0 and not mine.busy
    others = load._between(ZERO, _counters(busy=1.9, ours=0.9, steal=0.1))
    assert others.other_share == pytest.approx(0.5) and others.busy
    assert others.steal_share == pytest.approx(0.05)
    short = load._between(ZERO, load._Counters(0.05, 1.9, 2.0, 0.0, {1: 0.0}))
    assert short.other_share > load.BUSY_OTHER_SHARE and not short.busy  # too short to judge


def _share_of(pid: int, window: load.LoadSample, used_before: float) -> float:
    times = psutil.Process(pid).cpu_times()
    return (times.user + times.system - used_before) / (window.window_s * window.cores)


def test_a_cpu_burning_child_is_this_runs_and_an_orphan_is_another_process():
    """The sampler leaves this run's tree out: a burning child is not another process's CPU;
    the same burner detached from the tree (its parent exited) is."""
    child = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=1.5)])
    try:
        time.sleep(0.2)  # started
        meter = load.LoadMeter()
        start = meter._last
        window = meter.lap("child", 1.0)
        end = meter._last
        total = end.total_s - start.total_s
        burned = (end.ours[child.pid] - start.ours.get(child.pid, 0.0)) / total
        machine = (end.busy_s - start.busy_s) / total
        assert burned > 0  # the child is counted as this run's own ...
        assert window.other_share <= max(0.0, machine - burned) + 1e-9  # ... and left out
    finally:
        child.wait()
    # An orphan: the shell starts the burner in the background and exits at once.
    shell = subprocess.run(
        ["sh", "-c", f'{sys.executable} -c "$0" >/dev/null 2>&1 & echo $!', BURN.format(seconds=3)],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(shell.stdout.strip())
    try:
        time.sleep(0.2)
        assert orphan not in {p.pid for p in psutil.Process().children(recursive=True)}
        before = sum(psutil.Process(orphan).cpu_times()[:2])
        window = load.LoadMeter().lap("orphan", 1.0)
        burned = _share_of(orphan, window, before)
        assert burned > 0  # it ran (a loaded machine may give it little)
        assert window.other_share >= 0.9 * burned  # at least the orphan's CPU is another's
    finally:
        psutil.Process(orphan).kill()


def test_a_child_that_ended_in_the_window_stays_this_runs():
    """A cell's process (a peer script, asv's benchmark process) that ends within the window:
    its CPU is in its parent's reaped-children times, so it is not counted as another's."""
    import resource

    meter = load.LoadMeter()
    me = os.getpid()
    start, reaped_before = meter._last, resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", BURN.format(seconds=0.8)], check=True)
    meter.lap("ended child")
    reaped_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (reaped_after.ru_utime + reaped_after.ru_stime) - (
        reaped_before.ru_utime + reaped_before.ru_stime
    )
    assert child_cpu > 0.1  # it ran
    assert meter._last.ours[me] - start.ours[me] >= child_cpu - 0.02


def test_a_process_orphaned_after_it_was_seen_stays_this_runs():
    """A child's own child that outlives it (PySpark's JVM when its Python exits) is
    reparented to init and never reaped in this tree: a polling meter that saw it in the
    tree still counts its CPU as this run's, while it runs on and after it has ended."""
    meter = load.LoadMeter(poll_s=0.05)
    start = meter._last
    try:
        shell = subprocess.Popen(
            [
                "sh",
                "-c",
                f'{sys.executable} -c "$0" & echo $!; sleep 0.5',
                BURN.format(seconds=1.5),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        burner = psutil.Process(int(shell.stdout.readline()))
        shell.wait()  # the burner is an orphan from here on
        time.sleep(0.2)
        assert burner.pid not in {p.pid for p in psutil.Process().children(recursive=True)}
        burner.wait(timeout=10)
        meter.lap("orphaned")
    finally:
        meter.close()
    end = meter._last
    assert end.ours[burner.pid] > 0.5  # its whole run, counted as this run's ...
    total = end.total_s - start.total_s
    machine = (end.busy_s - start.busy_s) / total
    burned = end.ours[burner.pid] / total
    assert meter.laps["orphaned"].other_share <= max(0.0, machine - burned) + 1e-9  # ... left out


def test_the_idle_warning_judges_other_processes_not_the_load_average(monkeypatch):
    """After a run is killed the load average stays high for minutes; only CPU that other
    processes use now makes the machine busy."""

    def sample(other_share: float) -> load.LoadSample:
        return load.LoadSample(
            window_s=1.0, load_1m=8.0, steal_share=0.0, other_share=other_share, cores=2
        )

    monkeypatch.setattr(load, "busiest_others", lambda window_s: [("burner", 0.5)])
    monkeypatch.setattr(load, "sample_load", lambda window_s=1.0: sample(0.0))
    assert load.idle_warning() is None
    monkeypatch.setattr(load, "sample_load", lambda window_s=1.0: sample(0.5))
    warning = load.idle_warning()
    assert warning is not None and "50% of the 2 cores" in warning and "burner" in warning


def test_a_run_record_keeps_the_load_around_the_run(data_dir):
    from bakeoff.engines import create_engine
    from datagen import ensure_dataset
    from datagen.dataset import DatasetSpec

    workload = get_workload("groupby_q1")
    dataset = ensure_dataset(DatasetSpec(table=workload.table, rows=10_000), data_dir)
    engine = create_engine("duckdb")
    engine.start()
    try:
        record = run_workload(engine, workload, dataset, reference=None)
    finally:
        engine.stop()
    assert record.status == "ok"
    laps = record.machine_load
    assert {"before", "during", "after", "busy"} <= set(laps)
    assert laps["before"]["window_s"] >= load.BEFORE_WINDOW_S * 0.9
    assert laps["busy"] == any(
        lap["window_s"] >= load.MIN_JUDGED_WINDOW_S and lap["other_share"] > load.BUSY_OTHER_SHARE
        for name, lap in laps.items()
        if name in ("before", "during", "after")
    )
    assert RunRecord.from_json(record.to_json()).machine_load == laps


def _record(workload: str, busy: bool) -> RunRecord:
    return RunRecord(
        engine="duckdb",
        version="1.0",
        settings={},
        workload=workload,
        rows=1000,
        status="ok",
        wall_s=0.5,
        peak_bytes=1e6,
        started_at="2026-01-01T00:00:00+00:00",
        machine_load={"busy": busy} if busy else {},
    )


def test_the_report_marks_busy_cells():
    rows = single_run_rows([_record("groupby_q1", True), _record("groupby_q2", False)])
    busy = next(row for row in rows if row.workload == "groupby_q1")
    quiet = next(row for row in rows if row.workload == "groupby_q2")
    assert busy.busy and not quiet.busy
    assert sections.cell_text(busy).endswith(verdict.BUSY_MARK)
    assert verdict.BUSY_MARK not in sections.cell_text(quiet)
    blocks = sections.single_run_section(rows)
    assert any(verdict.BUSY_NOTE in getattr(block, "text", "") for block in blocks)
    assert sections.busy_footnote([quiet]) == []
    cells = {(row.label, row.workload, row.rows): row for row in rows}
    sentence = verdict.busy_sentence(cells)
    assert sentence is not None and "1 of 2 cells" in sentence and "duckdb groupby_q1" in sentence
    assert sentence in verdict.sentences(cells, {})
    assert verdict.busy_sentence({k: r for k, r in cells.items() if not r.busy}) is None
    front = frontpage.family_tables(cells)  # the README's summary marks it too
    assert any(verdict.BUSY_MARK in text for b in front for line in getattr(b, "rows", [])
               for text in line)  # fmt: skip
    assert any(verdict.BUSY_NOTE in getattr(block, "text", "") for block in front)


def test_the_generator_benchmarks_are_opt_in():
    assert HARNESS_ENVIRONMENT not in {c.name for c in parse_engines(None)}
    assert parse_engines(None, with_datagen=True)[0].name == HARNESS_ENVIRONMENT
    assert [c.name for c in parse_engines(["harness,duckdb"])] == [HARNESS_ENVIRONMENT, "duckdb"]


def test_the_estimate_scales_with_rows_but_not_the_start():
    join = get_workload("join_q1")
    small, large = cell_seconds("spark", join, 10_000_000), cell_seconds("spark", join, 10**8)
    assert large > 5 * small
    assert cell_seconds("spark", join, 1000) >= 10.0  # a JVM start costs the same at any scale
    found = estimate(["duckdb", "spark"], [join, get_workload("groupby_q1")], [10_000_000])
    assert [(e.engine, e.cells) for e in found] == [("duckdb", 2), ("spark", 2)]
    assert found[1].seconds > found[0].seconds


def test_the_estimate_takes_this_machines_own_runs_from_the_log(tmp_path):
    """A cell the run log has a validated run of is estimated from that run (asv's samples
    simulated on it), not from the figures; a failed run is not a figure."""
    join = get_workload("join_q1")
    figures = cell_seconds("duckdb", join, 10_000_000)
    log = tmp_path / "runs.jsonl"
    record = _record("join_q1", False)
    record.engine, record.rows, record.wall_s, record.validated = "duckdb", 10_000_000, 60.0, True
    failed = dataclasses.replace(record, status=Status.ERROR, wall_s=1.0, validated=False)
    log.write_text(record.to_json() + "\n" + failed.to_json() + "\n")
    history = run_history(log)
    assert history == {("duckdb", "join_q1", 10_000_000): 60.0}
    logged = cell_seconds("duckdb", join, 10_000_000, history)
    warm, figure = WARM_SHARE["duckdb"], QUERY_S["duckdb"]["join"]
    # the first run, and two warm samples of each (asv stops sampling once 3 s have gone)
    assert logged - figures == pytest.approx(60.0 - figure + 2 * 60 * warm - 2 * figure * warm)
    assert samples_seconds(60.0) == 120.0 and samples_seconds(0.1) == pytest.approx(0.5)
    assert samples_seconds(1.2) == pytest.approx(3.6)  # the third starts at 2.4 s, within 3 s
    assert samples_seconds(2.0) == 4.0  # a third would start at 4 s, past the 3 s budget


def test_bench_dry_run_prints_the_estimate_and_runs_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", "bench", "--dry-run", "--engines", "duckdb,spark",
         "--workloads", "groupby_q1,join_q1", "--rows", "1e7"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "BAKEOFF_DATA_DIR": str(tmp_path / "data"),
             "BAKEOFF_RESULTS_DIR": str(tmp_path / "results")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("estimate")
    assert any(line.split()[:2] == ["duckdb", "2"] for line in lines)
    assert any(line.split()[:2] == ["spark", "2"] for line in lines)
    assert any(line.split()[:2] == ["total", "4"] for line in lines)
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()


def test_progress_counts_cells_from_the_run_log(tmp_path, capsys):
    log = tmp_path / "runs.jsonl"
    log.write_text("an earlier run\n")
    with progress(log, [EngineEstimate("duckdb", 3, 30.0)], poll_s=0.05):
        log.write_text("an earlier run\none\ntwo\n")
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "2/3 cells" in err and "left" in err


def test_progress_weighs_the_cells_done_by_what_they_were_expected_to_take(tmp_path):
    """A Spark cell costs several DuckDB cells: the pace, and so the time left, comes from the
    expected seconds of the cells done, not their count. A line still being written waits."""
    log = tmp_path / "runs.jsonl"
    log.write_text("an earlier run\n")
    cheap = {("groupby_q1", 1000): 5.0, ("groupby_q2", 1000): 15.0}
    found = [
        EngineEstimate("duckdb", 2, 20.0, cheap),
        EngineEstimate("spark", 2, 180.0),
        EngineEstimate("polars[in-memory]", 1, 7.0),
    ]
    mean = (20.0 + 180.0 + 7.0) / 5
    done = CellsDone(log, found)
    records = [_record("groupby_q1", False), _record("groupby_q9", False), _record("q", False)]
    records[1].engine, records[2].engine = "spark", "polars"
    with open(log, "a") as handle:
        handle.write(
            "".join(r.to_json() + "\n" for r in records) + 'not a record\n{"engine": "duck'
        )
    done.update()
    assert done.count == 4
    assert done.expected_s == pytest.approx(5.0 + 90.0 + 7.0 + mean)
    with open(log, "a") as handle:
        handle.write('db"}\n')
    done.update()
    assert done.count == 5 and done.expected_s == pytest.approx(5.0 + 90.0 + 7.0 + 2 * mean)


def test_the_wall_time_split_comes_from_the_cells_records(tmp_path):
    log = tmp_path / "runs.jsonl"
    log.write_text("an earlier run\n")
    record = _record("groupby_q1", False)
    record.wall_s = 90.0
    record.machine_load = {"before": {"window_s": 30.0}, "after": {"window_s": 60.0}}
    with open(log, "a") as handle:
        handle.write(record.to_json() + "\n" + record.to_json() + "\n")
    text = split_text(60.0, 600.0, log, first_line=1)
    assert "data, references and environments 1 min 00 s" in text and "for 2 cells" in text
    assert "validated runs 3 min 00 s" in text and "validating 2 min 00 s" in text
    assert "load sampling 1 min 00 s" in text and "samples) 4 min 00 s" in text


def test_the_split_counts_asvs_timed_samples_of_this_run(tmp_path):
    """Every timed sample in the result files asv wrote during the run, and nothing else: not
    a memory benchmark's bytes, not a failed sample, not an earlier run's file."""
    this_run = {
        "commit_hash": "bbbb", "env_name": "duckdb", "date": 0, "params": {"machine": "vm"},
        "python": "3.11", "requirements": {}, "env_vars": {}, "durations": {}, "version": 2,
        "result_columns": ["result", "params", "started_at", "duration", "samples"],
        "results": {
            "bench_workloads.Join.time_query": [
                [1.5, None], [["'join_q1'", "'join_q2'"], ["10000000"]], 0, 3.0,
                [[1.0, 2.0], None]],
            "bench_workloads.Window.time_query": [
                [3.0], [["'window_w1'"], ["10000000"]], 0, 6.0, [[3.0, float("nan")]]],
            "bench_workloads.JoinMemory.track_peak_tree_bytes": [
                [5e8], [["'join_q1'"], ["10000000"]], 0, 1.0, [[5e8]]],
        },
    }  # fmt: skip
    machine = tmp_path / "vm"
    machine.mkdir()
    earlier = machine / "aaaa-duckdb.json"
    earlier.write_text(json.dumps(this_run))
    os.utime(earlier, (1000.0, 1000.0))
    (machine / "machine.json").write_text("{}")
    (machine / "bbbb-duckdb.json").write_text(json.dumps(this_run))
    assert asv_sample_seconds(tmp_path, since=2000.0) == 6.0
    text = split_text(0.0, 60.0, tmp_path / "no-log.jsonl", 0, samples_s=6.0)
    assert "timed samples 0 min 06 s" in text and "starts) 0 min 54 s" in text
