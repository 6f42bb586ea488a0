"""The experts' plain scripts (benchmarks/peers/) and ``bakeoff peers``, at tiny scale.

Every join, window and ml question bakeoff answers on DuckDB and Polars is answered by the
peer script with as many result rows as the pandas reference has; the scripts import nothing
of bakeoff; and ``bakeoff peers`` prints a ratio for every workload. (Dask, Spark and Vaex are
checked by hand: their sessions take too long to start for the test suite.)
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys

import pytest

from bakeoff.peers import PEER_DIR, PEER_ENGINES, Comparison, print_table
from bakeoff.reference import reference_answer
from datagen.cli import usable_dataset
from datagen.dataset import DatasetSpec
from tests.helpers import bakeoff, python_for
from workloads import Unsupported, implementation, select_workloads

FAST = ("duckdb", "polars")
WORKLOADS = select_workloads(["join,window,ml"])
# window with NULLs in x, cut into several files, so that a glob and the NULL cases matter
SPECS = {"window": {"null_pct": 5, "rows_per_file": 2500}}


@pytest.fixture(scope="module")
def datasets(data_dir):
    tables = {w.table for w in WORKLOADS}
    return {t: usable_dataset(DatasetSpec(table=t, **SPECS.get(t, {})), data_dir) for t in tables}


def peer_module(engine: str):
    if str(PEER_DIR) not in sys.path:
        sys.path.insert(0, str(PEER_DIR))
    return importlib.import_module(f"{engine}_peer")


@pytest.mark.parametrize("engine", FAST)
def test_every_question_has_the_references_row_count(engine, datasets):
    peer = peer_module(engine)
    session = peer.start() if hasattr(peer, "start") else None
    answered = [w for w in WORKLOADS if not isinstance(implementation(engine, w), Unsupported)]
    assert len(answered) == 14  # join q1-q5, window w1-w5, ml m1-m4
    for workload in answered:
        dataset = datasets[workload.table]
        result = peer.QUESTIONS[workload.name](session, dataset.path)
        rows = peer.rows(session, result) if hasattr(peer, "rows") else len(result)
        expected = reference_answer(dataset, workload).table().num_rows
        assert rows == expected, (workload.name, rows, expected)
        if hasattr(peer, "drop"):
            peer.drop(session, result)


@pytest.mark.parametrize("engine", FAST)
def test_the_script_prints_a_line_per_repetition(engine, datasets):
    script = PEER_DIR / f"{engine}_peer.py"
    path = str(datasets["join"].path)
    done = subprocess.run(
        [python_for(engine), str(script), path, "--workload", "join_q3", "--repeat", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["cold"] for line in lines] == [True, False, False]
    # Counted after the cold and the last repetition, never between warm ones: a left join
    # keeps every row of x.
    assert [line.get("rows") for line in lines] == [10_000, None, 10_000]
    assert all(line["seconds"] > 0 for line in lines)


@pytest.mark.parametrize("engine", PEER_ENGINES)
def test_scripts_import_nothing_of_bakeoff(engine):
    """Independence is the point: a peer that shared bakeoff's code could share its bug."""
    shared = {"questions", "timing"}
    for path in (PEER_DIR / f"{engine}_peer.py", *(PEER_DIR / f"{m}.py" for m in shared)):
        tree = ast.parse(path.read_text())
        modules = {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not modules & {"bakeoff", "datagen", "workloads", "tests"}, path.name


def test_bakeoff_peers_prints_a_ratio_per_workload(data_dir, tmp_path, capsys):
    env = dict(os.environ, BAKEOFF_DATA_DIR=str(data_dir), BAKEOFF_RESULTS_DIR=str(tmp_path))
    arguments = ["peers", "--engine", "duckdb", "--workloads", "join_q1,window_w1"]
    arguments += ["--rows", "tiny", "--rounds", "2", "--samples", "1"]
    done = bakeoff(sys.executable, *arguments, "--json", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [w["workload"] for w in report["workloads"]] == ["join_q1", "window_w1"]
    for workload in report["workloads"]:
        assert workload["status"] == "ok", workload["detail"]
        assert len(workload["bakeoff_s"]) == len(workload["peer_s"]) == 2  # 2 rounds x 1
        assert len(workload["ratio_by_round"]) == 2
        assert workload["ratio"] == pytest.approx(
            workload["bakeoff_median_s"] / workload["peer_median_s"]
        )
    assert len(report["load_average_start"]) == 3
    print_table([Comparison(**fields) for fields in map(_fields, report["workloads"])])
    table = capsys.readouterr().out.splitlines()
    for workload in report["workloads"]:  # the table prints the same ratio
        row = next(line for line in table if line.startswith(workload["workload"]))
        assert float(row.split()[4]) == pytest.approx(workload["ratio"], abs=0.006)


def _fields(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k in Comparison.__dataclass_fields__}


def test_bakeoff_peers_refuses_other_families():
    done = bakeoff(sys.executable, "peers", "--engine", "duckdb", "--workloads", "groupby_q1")
    assert done.returncode == 2
    assert "join, window, ml" in done.stderr
