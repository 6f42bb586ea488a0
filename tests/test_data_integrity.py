"""The data is trusted only when it is what was written, and the generator refuses what it
cannot write.

- The check before every run catches an edit that kept the file's size and put its mtime back
  (``touch -r``) and names the exact command that regenerates the dataset; what it cannot
  prove (object storage is not re-hashed) is said in the run's record.
- Row counts the generator cannot represent, and datasets larger than the memory or the disk
  they would need, are one line before the lock or the staging directory exists.
- A data directory whose path holds glob characters is one line: engines read ``dir/*.parquet``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.engines import is_installed
from bakeoff.runner import dataset_info
from datagen import TABLES, budget, ensure_dataset
from datagen.dataset import Dataset, DatasetError, DatasetSpec
from shared.units import format_bytes
from tests.test_inputs import SPEC, assert_refused, edit

DATASET_ARGS = ["--rows", "2e3", "--rows-per-file", "500"]
RUN = ["run", "--engine", "duckdb", "--workload", "groupby_q1"]
needs_duckdb = pytest.mark.skipif(not is_installed("duckdb"), reason="duckdb is not installed")


@pytest.fixture
def cli(capsys):
    """``bakeoff`` in this process: a CompletedProcess of exit code, stdout and stderr."""

    def run(*arguments: str | Path) -> subprocess.CompletedProcess:
        code = main([str(argument) for argument in arguments])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(arguments, code, out, err)

    return run


# -- the check before a run ----------------------------------------------------------------------
@needs_duckdb
def test_a_same_size_edit_with_its_mtime_put_back_is_refused_with_the_command_that_repairs_it(
    tmp_path, cli, monkeypatch
):
    """A verified dataset (stamps written), then one byte changed and the mtime put back: the
    run refuses it before any engine reads it, and the command it names, pasted as is (the
    path has a space), regenerates the dataset so that the run goes ahead."""
    data = tmp_path / "my data"
    dataset = ensure_dataset(SPEC, data, progress=False)
    dataset.verify()
    assert dataset.verify() == 0  # stamped: the next check hashes nothing
    edit(dataset)
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))

    refused = cli(*RUN, *DATASET_ARGS, "--data-dir", data)
    assert_refused(refused, "part-00001.parquet does not match its manifest's SHA-256")
    fix = refused.stderr.split("regenerate it with `", 1)[1].rsplit("`", 1)[0]
    words = shlex.split(fix)
    assert words[:2] == ["bakeoff", "datagen"] and words[words.index("--data-dir") + 1] == str(data)

    repaired = cli(*words[1:], "--no-progress")
    assert repaired.returncode == 0, repaired.stderr
    assert "regenerating" in repaired.stderr
    again = cli(*RUN, *DATASET_ARGS, "--data-dir", data)
    assert again.returncode == 0, again.stderr


def settle() -> None:
    """Let the filesystem's clock move past the last change: a change within the tick of the
    check that sees it is hashed again by the next check too (see the test after next)."""
    time.sleep(0.05)


def test_a_file_is_hashed_again_when_its_inode_changes_and_stamped_again_when_it_matches(
    tmp_path,
):
    """A chmod moves only the ctime, a copy the inode: each file is hashed once more, found
    unaltered and stamped, and then not hashed again."""
    dataset = ensure_dataset(SPEC, tmp_path / "data", progress=False)
    assert dataset.verify() == 4  # no stamps yet
    assert dataset.verify() == 0
    dataset.files[0].chmod(0o600)
    settle()
    assert dataset.verify() == 1
    assert dataset.verify() == 0

    copy = tmp_path / "copy" / dataset.name
    shutil.copytree(dataset.path, copy)  # copy2: sizes, mtimes and the stamps file kept
    settle()
    copied = Dataset.open(copy)
    assert copied.verify() == 4
    assert copied.verify() == 0


def test_a_file_that_changed_as_the_check_began_is_not_stamped(tmp_path, monkeypatch):
    """Within one tick of the filesystem's clock a second write leaves the ctime as it was, so
    a file changed no earlier than the check's start is hashed, but not trusted next time."""
    dataset = ensure_dataset(SPEC, tmp_path / "data", progress=False)
    changed = min(path.stat().st_ctime_ns for path in dataset.files)
    monkeypatch.setattr(Dataset, "_clock", lambda self: changed)
    assert dataset.verify() == 4
    assert dataset.verify() == 4
    monkeypatch.undo()
    assert dataset.verify() == 4
    assert dataset.verify() == 0


def test_an_edit_with_its_mtime_put_back_is_caught_after_a_stamp(tmp_path):
    dataset = ensure_dataset(SPEC, tmp_path / "data", progress=False)
    dataset.verify()
    edit(dataset)
    with pytest.raises(DatasetError, match=r"part-00001\.parquet does not match"):
        dataset.verify()


def test_a_record_of_a_dataset_in_object_storage_says_it_was_not_re_verified(tmp_path):
    """Objects are compared by listing (name, size, modification time) before a run, not
    hashed, and their record says so; a local dataset's record has nothing to add."""
    local = ensure_dataset(SPEC, tmp_path / "data", progress=False)
    assert "note" not in dataset_info(local)
    remote = Dataset(local.path, local.manifest, url=f"s3://bucket/data/{local.name}")
    note = dataset_info(remote)["note"]
    assert note.startswith("dataset not re-verified:") and "--verify" in note


# -- what the generator cannot write --------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("0", "at least 1"),
        ("-5", "at least 1"),
        ("-1e400", "at least 1"),
        ("1e-400", "whole number"),
        ("nan", "rows must be a number"),
        ("inf", "rows must be a number"),
        ("-inf", "rows must be a number"),
        ("1e19", "at most 9,223,372,036,854,775,807"),
        ("1e400", "at most 9,223,372,036,854,775,807"),
        ("1e99999999999999999999", "at most 9,223,372,036,854,775,807"),
        ("1e12", "int32"),  # N/K = 1e10 id6 values
        ("3e9 --k 3e9", "use a smaller --k"),  # K = 3e9 id4 values
    ],
)
def test_rows_the_generator_cannot_represent_are_one_line(rows, message, tmp_path, cli):
    """Before: 1e400 an OverflowError, 1e12 and 1e19 a MemoryError (a 9.3 GiB array at 1e12),
    each a traceback, with a lock file left behind."""
    first, *rest = rows.split()
    done = cli("datagen", f"--rows={first}", *rest, "--data-dir", tmp_path / "data")
    assert_refused(done, message)
    assert list(tmp_path.iterdir()) == []


Usage = namedtuple("Usage", "total used free")


def test_a_dataset_larger_than_its_disk_is_refused_before_anything_is_written(
    tmp_path, cli, monkeypatch
):
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: Usage(2**30, 2**30, 2**20))
    done = cli("datagen", "--rows", "1e6", "--data-dir", tmp_path / "data")
    needed = budget.disk_bytes(TABLES["groupby"], DatasetSpec(rows=10**6))
    assert needed > 10**6 * 20  # about 24.5 bytes a row
    assert_refused(
        done,
        f"its files need about {format_bytes(needed)} of disk, more than the 1.0 MiB free "
        f"under {tmp_path}: use --data-dir on a larger disk",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_bound_for_object_storage_is_checked_where_it_is_staged(tmp_path, monkeypatch):
    """A bucket has no free space to ask for; the dataset is written whole into the local data
    directory before the upload, so that is the disk checked."""
    monkeypatch.setenv("BAKEOFF_DATA_DIR", "s3://bucket/data")
    monkeypatch.setenv("BAKEOFF_LOCAL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: Usage(2**30, 2**30, 2**20))
    problem = budget.disk_problem(TABLES["groupby"], DatasetSpec(rows=10**6), "s3://bucket/data")
    assert problem is not None
    assert f"free under {tmp_path}" in problem and "BAKEOFF_LOCAL_DATA_DIR on a larger" in problem


def test_a_plan_larger_than_memory_is_refused_before_anything_is_written(
    tmp_path, cli, monkeypatch
):
    """The groupby vocabularies hold every id value in every process (N/K of id3 and id6):
    what used to grow to a MemoryError is estimated and refused first."""
    monkeypatch.setattr(budget, "available_memory", lambda: 512 * 2**20)
    done = cli("datagen", "--rows", "1e7", "--k", "10", "--jobs", "2", "--data-dir", tmp_path)
    assert_refused(  # one writer and the planning process: no fewer processes would do
        done,
        "of memory (2 processes, each holding 2,000,040 id values), more than the 512.0 MiB "
        "available: use fewer rows or a larger --k",
    )
    assert list(tmp_path.iterdir()) == []


def test_writers_are_as_many_as_the_memory_available_holds(tmp_path, cli, monkeypatch):
    """Each writer process holds a row group or two (and the vocabularies): with too little
    memory for all of ``--jobs``, fewer write the same bytes, and the user is told."""
    monkeypatch.setattr(budget, "available_memory", lambda: 500 * 2**20)
    spec = DatasetSpec(rows=200_000, k=10, rows_per_file=50_000)
    assert budget.memory_bytes(TABLES["groupby"], spec, 1)[0] < 500 * 2**20
    assert budget.memory_bytes(TABLES["groupby"], spec, 2)[0] > 500 * 2**20
    arguments = ["--rows", "2e5", "--k", "10", "--rows-per-file", "5e4", "--no-progress"]
    done = cli("datagen", *arguments, "--jobs", "2", "--data-dir", tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"writing {spec.name} with 1 writer process, not 2" in done.stderr
    assert Dataset.open(tmp_path / spec.name).verify(full=True) == 4


def test_a_complete_dataset_is_reused_whatever_the_estimates(tmp_path, monkeypatch):
    dataset = ensure_dataset(SPEC, tmp_path, progress=False)
    monkeypatch.setattr(budget, "available_memory", lambda: 0)
    monkeypatch.setattr(budget.shutil, "disk_usage", lambda path: Usage(2**30, 2**30, 0))
    assert ensure_dataset(SPEC, tmp_path, progress=False).checksum == dataset.checksum
    with pytest.raises(ValueError, match="cannot generate"):
        ensure_dataset(SPEC, tmp_path, progress=False, force=True)


@pytest.mark.parametrize(
    "spec",
    [
        DatasetSpec(table="groupby", rows=200_000),
        DatasetSpec(table="join", rows=200_000),
        DatasetSpec(table="window", rows=200_000),
        DatasetSpec(table="ml", rows=200_000),
        DatasetSpec(table="blobs", rows=200_000),
        DatasetSpec(table="events", rows=200_000),
        DatasetSpec(table="events", rows=200_000, file_format="csv"),
    ],
    ids=lambda spec: f"{spec.table}-{spec.file_format}",
)
def test_the_disk_estimate_is_an_upper_bound_of_the_files_written(spec, data_dir):
    """The constants are bytes a row measured up to 1e10 rows; at 2e5 rows the rows are
    smaller (shorter labels), so the estimate is above the files, by less than twice (a
    generator change that makes rows larger fails here until the constants are measured
    again)."""
    written = ensure_dataset(spec, data_dir, progress=False).size_bytes
    estimated = budget.disk_bytes(TABLES[spec.table], spec)
    assert written <= estimated <= 2 * written


# -- glob characters in data paths ----------------------------------------------------------------
GLOBS = ["d[x]", "d*", "d?", "d{a,b}"]


@pytest.mark.parametrize("name", GLOBS)
@pytest.mark.parametrize("how", ["datagen --data-dir", "run --data-dir", "BAKEOFF_DATA_DIR"])
def test_a_data_directory_with_glob_characters_is_one_line(how, name, tmp_path, cli, monkeypatch):
    """Engines read a table as ``<dir>/*.parquet``: a ``[x]`` in ``<dir>`` is a pattern. Before,
    datagen wrote there and every engine's run became an ``error`` record."""
    data = tmp_path / name
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    command = ["datagen", "--rows", "2e3"] if how.startswith("datagen") else [*RUN, "--rows", "2e3"]
    if how == "BAKEOFF_DATA_DIR":
        monkeypatch.setenv("BAKEOFF_DATA_DIR", str(data))
        done = cli(*command)
    else:
        done = cli(*command, "--data-dir", data)
    source = "BAKEOFF_DATA_DIR" if how == "BAKEOFF_DATA_DIR" else "--data-dir"
    assert_refused(done, f"data directory {str(data)!r} ({source}) contains", "glob pattern")
    assert list(tmp_path.iterdir()) == []


def test_an_object_storage_prefix_with_glob_characters_is_one_line(cli, tmp_path):
    done = cli("datagen", "--rows", "2e3", "--data-dir", "s3://bucket/run[1]")
    assert_refused(done, "'s3://bucket/run[1]' (--data-dir) contains [ ]")


def test_a_glob_refusal_happens_before_any_process_starts(tmp_path):
    """The real command, as a user types it, from a working directory holding a glob
    character: the default ``data/`` under it is refused too."""
    work = tmp_path / "runs[2]"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "BAKEOFF_DATA_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", "datagen", "--rows", "2e3"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )
    assert_refused(done, f"data directory '{work / 'data'}' (BAKEOFF_DATA_DIR) contains [ ]")
    assert list(work.iterdir()) == []
