"""Bad and damaged inputs: each is one line naming the problem and the fix, a non-zero exit,
and nothing half-written. (Unknown engines and workloads, bad engine options, Spark without
Java and bad generator options are tested in test_failures.py and test_datagen.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bakeoff.cells import SCALES_VARIABLE, WORKLOADS_VARIABLE
from bakeoff.cli import main
from bakeoff.engines import is_installed
from bakeoff.reference import METADATA_KEY, reference_answer, reference_path
from datagen import TABLES, ensure_dataset
from datagen.budget import disk_bytes
from datagen.dataset import MANIFEST_NAME, Dataset, DatasetSpec
from shared.units import format_bytes
from workloads import get_workload

SPEC = DatasetSpec(rows=2_000, rows_per_file=500)  # four part files
DATASET_ARGS = ["--rows", "2e3", "--rows-per-file", "500"]


def bakeoff(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, **(env or {})),
    )


def assert_refused(done: subprocess.CompletedProcess, *words: str, code: int = 2) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("bakeoff: error:"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """``bakeoff`` in this process (the same code as the command, without a Python start):
    a CompletedProcess of exit code, stdout and stderr."""
    for variable in (SCALES_VARIABLE, WORKLOADS_VARIABLE):  # bench sets them: restored after
        monkeypatch.setenv(variable, "")

    def run(*arguments: str | Path) -> subprocess.CompletedProcess:
        code = main([str(argument) for argument in arguments])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(arguments, code, out, err)

    return run


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "--engine", "duckdb", "--workload", "nofamily"], "unknown workload 'nofamily'"),
        (["run", "--engine", "duckdb", "--workload", "groupby_q1", "--table", "nope"], "'nope'"),
        *[
            (["run", "--engine", "duckdb", "--workload", "groupby_q1", "--rows", rows], message)
            for rows, message in [("1e", "rows must be a number"), ("-5", "at least 1")]
        ],
        (["run", "--engine", "duckdb", "--workload", "groupby_q1", "--rows", "2.5"], "whole"),
        (
            ["run", "--engine", "dask", "--workload", "groupby_q1", "--kill-worker-after", "soon"],
            "--kill-worker-after is a positive time",
        ),
        (["bench", "--rows", "1e"], "rows must be a number"),
        (["bench", "--rows", "-5"], "scales must be positive"),
        (["bench", "--rows", "2.5"], "whole number"),
        (["bench", "--workloads", "nofamily"], "unknown workload 'nofamily'"),
        (["datagen", "--rows", "1e"], "rows must be a number"),
        (["datagen", "--rows", "2.5"], "whole number"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_names_and_scales_are_one_line(arguments, message, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    assert_refused(cli(*arguments), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(is_installed("vaex"), reason="vaex is installed in this environment")
def test_an_engine_missing_from_this_environment(tmp_path):
    done = bakeoff("run", "--engine", "vaex", "--workload", "groupby_q1", "--data-dir", tmp_path)
    assert_refused(done, "vaex is not installed in this environment", "pip install")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_results_directory_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = bakeoff(
        *("run", "--engine", "duckdb", "--workload", "groupby_q1", "--rows", "tiny"),
        *("--data-dir", str(tmp_path / "data")),
        env={"BAKEOFF_RESULTS_DIR": str(blocker / "results")},
    )
    assert_refused(done, "cannot write the run log", "BAKEOFF_RESULTS_DIR", "--no-log")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_an_unwritable_data_directory_is_refused_by_run(tmp_path, cli, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    done = cli(
        *("run", "--engine", "duckdb", "--workload", "groupby_q1", "--rows", "tiny"),
        *("--data-dir", blocker / "data"),
    )
    assert_refused(done, "cannot write to", "not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# -- damaged datasets ----------------------------------------------------------------------------
def truncate(dataset: Dataset) -> None:
    path = dataset.files[1]
    path.write_bytes(path.read_bytes()[:-100])


def edit(dataset: Dataset) -> None:
    """Same size, same mtime: only a checksum can tell."""
    path = dataset.files[1]
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def corrupt_footer(dataset: Dataset) -> None:
    """A Parquet file no reader can open (its footer overwritten), same size."""
    path = dataset.files[1]
    data = path.read_bytes()
    path.write_bytes(data[:-64] + b"\0" * 64)


def add(dataset: Dataset) -> None:
    shutil.copy(dataset.files[0], dataset.path / "part-99999.parquet")


def remove(dataset: Dataset) -> None:
    dataset.files[2].unlink()


def drop_manifest(dataset: Dataset) -> None:
    (dataset.path / MANIFEST_NAME).unlink()


def garble_manifest(dataset: Dataset) -> None:
    (dataset.path / MANIFEST_NAME).write_text('{"files": [')


DAMAGE = {
    "truncated": (truncate, "truncated or altered"),
    "edited": (edit, "does not match its manifest's SHA-256"),
    "corrupt parquet": (corrupt_footer, "does not match its manifest's SHA-256"),
    "added": (add, "does not list: part-99999.parquet"),
    "removed": (remove, "lacks 1 part file(s): part-00002.parquet"),
    "no manifest": (drop_manifest, f"has no {MANIFEST_NAME}"),
    "garbled manifest": (garble_manifest, "is unreadable"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_dataset_is_refused_verified_and_repaired(damage, tmp_path, cli, monkeypatch):
    """``run`` refuses it (naming the file and the command that regenerates it) before any
    engine reads it, ``datagen --verify`` finds it, and ``datagen`` regenerates it."""
    data, results = tmp_path / "data", tmp_path / "results"
    dataset = ensure_dataset(SPEC, data, progress=False)
    workload = get_workload("groupby_q1")
    reference = reference_answer(dataset, workload).path
    results.mkdir()
    (results / "runs.jsonl").write_text('{"earlier": "record"}\n')
    damage_it, message = DAMAGE[damage]
    damage_it(dataset)
    fix = f"bakeoff datagen --table groupby --rows 2e3 --rows-per-file 500 --data-dir {data}"

    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(results))
    run = cli(
        "run", "--engine", "duckdb", "--workload", "groupby_q1", *DATASET_ARGS, "--data-dir", data
    )
    assert_refused(run, message, f"regenerate it with `{fix}`")
    assert (results / "runs.jsonl").read_text() == '{"earlier": "record"}\n'
    assert reference.exists()

    verify = cli("datagen", *DATASET_ARGS, "--data-dir", data, "--verify")
    assert_refused(verify, message)

    repair = cli("datagen", *DATASET_ARGS, "--data-dir", data, "--no-progress")
    assert repair.returncode == 0, repair.stderr
    assert "regenerating" in repair.stderr and message in repair.stderr
    again = cli("datagen", *DATASET_ARGS, "--data-dir", data, "--verify")
    assert again.returncode == 0 and "verified" in again.stderr, again.stderr
    assert Dataset.load(data / SPEC.name).checksum == dataset.checksum


def test_verify_hashes_every_file_and_a_run_only_what_changed(tmp_path):
    dataset = ensure_dataset(SPEC, tmp_path, progress=False)
    assert dataset.verify() == 4  # no stamp yet: every file hashed
    assert dataset.verify() == 0  # sizes and mtimes as stamped: nothing to hash
    dataset.files[0].touch()
    assert dataset.verify() == 1
    assert dataset.verify(full=True) == 4


def test_verify_of_a_missing_dataset_names_the_command_that_makes_it(tmp_path, cli):
    done = cli("datagen", "--rows", "tiny", "--data-dir", tmp_path, "--verify")
    assert_refused(done, "there is no dataset", "generate it with `bakeoff datagen")
    assert list(tmp_path.iterdir()) == []


# -- reference answers ---------------------------------------------------------------------------
def _replace_value(path: Path) -> None:
    """The rows changed, the metadata (dataset checksum and digest) kept."""
    table = pq.read_table(path)
    values = table.column("v1").to_pylist()
    values[0] += 1
    changed = table.set_column(table.column_names.index("v1"), "v1", pa.array(values))
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), path)


def _foreign(path: Path) -> None:
    """Another workload's reference (same dataset) copied over this one."""
    other = path.with_name("groupby_q2.parquet")
    shutil.copy(other, path)


def _other_dataset(path: Path) -> None:
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    meta["dataset_checksum"] = uuid.uuid4().hex
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta)}), path)


REFERENCE_DAMAGE = {
    "garbage": (lambda path: path.write_bytes(b"not parquet at all"), "unreadable"),
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:-50]), "unreadable"),
    "edited rows": (_replace_value, "do not match the hash"),
    "another workload": (_foreign, "another dataset or workload"),
    "another dataset": (_other_dataset, "another dataset or workload"),
}


@pytest.mark.parametrize("damage", REFERENCE_DAMAGE)
def test_a_bad_reference_is_recomputed_never_trusted(damage, data_dir):
    """A reference is a cache of what pandas answers on the verified dataset: one that is
    unreadable, foreign or altered is recomputed (with a warning), so it can never make an
    engine's right answer look wrong."""
    dataset = ensure_dataset(DatasetSpec(rows=2_000), data_dir, progress=False)
    workload = get_workload("groupby_q1")
    reference_answer(dataset, get_workload("groupby_q2"))
    good = pq.read_table(reference_answer(dataset, workload).path)
    path = reference_path(dataset, workload)
    spoil, message = REFERENCE_DAMAGE[damage]
    spoil(path)
    with pytest.warns(UserWarning, match=message):
        again = reference_answer(dataset, workload)
    assert pq.read_table(again.path).equals(good)
    assert not list(path.parent.glob("*.tmp"))


# -- a full disk ---------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB filesystem (tmpfs), where the machine lets us mount one (root, as in CI)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_dataset_larger_than_the_disk_is_refused_before_anything_is_written(small_disk):
    done = bakeoff(
        *("datagen", "--rows", "1e5", "--rows-per-file", "2e4", "--jobs", "2"),
        *("--data-dir", str(small_disk / "data"), "--no-progress"),
    )
    needed = format_bytes(disk_bytes(TABLES["groupby"], DatasetSpec(rows=100_000)))
    assert_refused(done, f"need about {needed} of disk", "1.0 MiB free", "--data-dir on a larger")
    assert not (small_disk / "data").exists()  # no lock, no staging directory


def test_a_full_disk_during_generation_is_one_line_and_leaves_nothing(small_disk):
    """A dataset that outgrows its estimate (400 files of 50 rows: footers the estimate per
    row leaves out) still ends in one line, with nothing of it left but the lock."""
    done = bakeoff(
        *("datagen", "--rows", "2e4", "--rows-per-file", "50", "--jobs", "2"),
        *("--data-dir", str(small_disk / "data"), "--no-progress"),
    )
    assert_refused(done, "No space left on device", "--data-dir", code=1)
    assert [p.name for p in (small_disk / "data").iterdir()] == [
        ".groupby_2e4_k1e2_na0_sorted0_seed0_rpf5e1.lock"
    ]


def test_every_record_carries_its_limits(data_dir, tmp_path):
    """The time limit by scale (db-benchmark's 10 minutes up to 1e7 rows), the watchdog's
    memory limit (90% of RAM by default) and the run's memory cap, in every kind of record."""
    from bakeoff.cells import default_timeout
    from bakeoff.runner import default_memory_limit
    from tests.helpers import run_engine

    assert [default_timeout(rows) for rows in (10**4, 10**7, 10**8, 10**9, 10**10)] == [
        600.0,
        600.0,
        1800.0,
        3600.0,
        3600.0,
    ]
    ok, _ = run_engine("duckdb", data_dir, tmp_path, workload="groupby_q1")
    timed_out, _ = run_engine(
        "duckdb", data_dir, tmp_path, "--timeout", "0.00001", workload="groupby_q1"
    )
    assert ok[0].limits == {
        "timeout_s": 600.0,
        "memory_bytes": default_memory_limit(),
        "memory_cap_bytes": None,
    }
    assert timed_out[0].status == "timeout" and timed_out[0].limits["timeout_s"] == 0.00001
