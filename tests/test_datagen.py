"""The data generator: values, nulls, sorting, partitioning, determinism, atomicity, memory."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from bakeoff.cli import main
from datagen import (
    TABLES,
    Dataset,
    DatasetSpec,
    build_chunk,
    ensure_dataset,
    generate,
    plan_files,
)
from datagen.dataset import MANIFEST_NAME
from datagen.groupby import HIVE_NULL, KEYS, id_labels, share, sort_codes
from datagen.writer import show_progress, written_encodings
from shared.errors import InputError

STRING_IDS = ("id1", "id2", "id3")
INT_IDS = ("id4", "id5", "id6")
INT_COLUMNS = (*INT_IDS, "v1", "v2")


def read(dataset: Dataset) -> pa.Table:
    """Every row, files in manifest order (the order a sorted dataset is sorted in)."""
    return pa.concat_tables(pq.read_table(path) for path in dataset.files)


def distinct(table: pa.Table, column: str) -> set:
    return {value for value in table[column].to_pylist() if value is not None}


def one_line_error(text: str) -> bool:
    return text.startswith("bakeoff: error: ") and text.count("\n") == 1


def test_schema_values_and_manifest(tmp_path):
    spec = DatasetSpec(rows=10_000, k=100)
    dataset = ensure_dataset(spec, tmp_path, jobs=1, progress=False)

    schema = pq.read_schema(dataset.files[0])
    assert schema.names == [*KEYS, "v1", "v2", "v3"]
    assert all(schema.field(name).type == pa.string() for name in STRING_IDS)
    assert all(schema.field(name).type == pa.int32() for name in INT_IDS)
    assert all(schema.field(name).type == pa.int64() for name in ("v1", "v2"))
    assert schema.field("v3").type == pa.float64()

    table = read(dataset)
    assert table.num_rows == 10_000
    assert distinct(table, "id1") == {f"id{i:03d}" for i in range(1, 101)}
    assert distinct(table, "id2") == {f"id{i:03d}" for i in range(1, 101)}
    assert distinct(table, "id3") == {f"id{i:010d}" for i in range(1, 101)}  # N/K = 100
    for name in ("id4", "id5", "id6"):
        assert distinct(table, name) == set(range(1, 101))
    assert distinct(table, "v1") == set(range(1, 6))
    assert distinct(table, "v2") == set(range(1, 16))
    v3 = table["v3"].to_numpy()
    assert v3.min() >= 0 and v3.max() <= 100
    assert np.array_equal(np.round(v3, 6), v3)
    assert len(np.unique(v3)) > 9_900  # continuous, not a handful of values
    assert table["v1"].to_numpy().mean() == pytest.approx(3, abs=0.1)
    assert table["v2"].to_numpy().mean() == pytest.approx(8, abs=0.25)
    assert v3.mean() == pytest.approx(50, abs=1.5)
    assert table["id4"].to_numpy().mean() == pytest.approx(50.5, abs=1.5)

    manifest = json.loads((dataset.path / MANIFEST_NAME).read_text())
    assert manifest["parameters"] == spec.to_dict() and dataset.spec == spec
    assert manifest["seed"] == 0 and manifest["rows"] == 10_000
    assert manifest["schema"] == {field.name: str(field.type) for field in schema}
    for entry in manifest["files"]:
        data = (dataset.path / entry["path"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert sum(entry["rows"] for entry in manifest["files"]) == 10_000


@pytest.mark.parametrize("spec", [DatasetSpec(rows=10_000), DatasetSpec(rows=1_000_000)])
def test_layout_is_one_rule_at_every_scale(tmp_path, spec):
    """At least 16 row groups of min(1e6, ceil(N/16)) rows, the same encodings at any N."""
    dataset = ensure_dataset(spec, tmp_path, progress=False)
    layout = dataset.manifest["format"]
    assert layout["row_group_rows"] == min(1_000_000, -(-spec.rows // 16))
    assert layout["row_groups"] >= 16
    assert layout["encodings"] == {
        **dict.fromkeys(("id1", "id2", "id4", "id5", "v1", "v2"), "dictionary"),
        **dict.fromkeys(("id3", "id6", "v3"), "plain"),
    }
    groups = 0
    for path in dataset.files:
        metadata = pq.read_metadata(path)
        groups += metadata.num_row_groups
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        assert max(sizes) == layout["row_group_rows"]
        assert written_encodings(metadata) == layout["encodings"]  # read from the footer
    assert groups == layout["row_groups"]


def test_readers_see_plain_strings(tmp_path):
    dataset = ensure_dataset(DatasetSpec(rows=10_000, null_pct=5), tmp_path, progress=False)
    assert pq.read_table(dataset.files[0]).schema.field("id1").type == pa.string()
    polars = pytest.importorskip("polars")
    assert polars.read_parquet(dataset.files[0]).schema["id1"] == polars.String
    duckdb = pytest.importorskip("duckdb")
    types = duckdb.sql(f"select distinct typeof(id1), typeof(id3) from '{dataset.glob}'")
    assert types.fetchall() == [("VARCHAR", "VARCHAR")]


def test_null_values_are_null_everywhere(tmp_path):
    spec = DatasetSpec(rows=20_000, k=100, null_pct=10, rows_per_file=5_000)
    dataset = ensure_dataset(spec, tmp_path, jobs=2, progress=False)
    parts = [pq.read_table(path) for path in dataset.files]
    table = pa.concat_tables(parts)
    for name in KEYS:
        size = 200 if name in ("id3", "id6") else 100
        kept = distinct(table, name)
        assert len(kept) == size - share(size, 10)  # exactly 10% of the values are null ...
        assert all(distinct(part, name) == kept for part in parts)  # ... in every file
        assert table[name].null_count / table.num_rows == pytest.approx(0.1, abs=0.015)
    for name in ("v1", "v2", "v3"):
        assert table[name].null_count == share(20_000, 10)  # exactly 10% of the rows


def is_sorted(table: pa.Table, keys: tuple[str, ...]) -> bool:
    """Sorted by ``keys``, nulls last, compared as Python values."""
    columns = [table[key].to_pylist() for key in keys]
    rows = [tuple((value is None, value) for value in row) for row in zip(*columns, strict=True)]
    return all(a <= b for a, b in itertools.pairwise(rows))


@pytest.mark.parametrize(
    "spec",
    [
        DatasetSpec(rows=20_000, k=100, null_pct=5, sorted=True, rows_per_file=3_000),
        # two groups: pieces split down to id3, small files
        DatasetSpec(rows=20_000, k=2, null_pct=5, sorted=True, rows_per_file=1_000),
        # more than 999 groups: labels of unequal length, string order
        DatasetSpec(rows=5_000, k=1_200, sorted=True),
        # vocabularies too large for a dictionary, stored as plain strings
        DatasetSpec(rows=40_000, k=40_000, null_pct=1, sorted=True),
    ],
    ids=lambda spec: spec.name,
)
def test_sorted(tmp_path, spec):
    dataset = ensure_dataset(spec, tmp_path, jobs=2, progress=False)
    table = read(dataset)
    assert table.num_rows == spec.rows
    assert is_sorted(table, KEYS)
    assert all(entry["rows"] <= spec.rows_per_file for entry in dataset.manifest["files"])
    kept, seen = spec.k - share(spec.k, spec.null_pct), len(distinct(table, "id1"))
    assert seen == kept if spec.rows >= 50 * spec.k else 0 < seen <= kept


@pytest.mark.parametrize("sort", [False, True])
def test_hive_partitioning(tmp_path, sort):
    spec = DatasetSpec(rows=10_000, k=10, null_pct=10, partition_by="id4", sorted=sort)
    dataset = ensure_dataset(spec, tmp_path, jobs=2, progress=False)
    directories = {path.parent.name for path in dataset.files}
    assert len(directories) == 10 and f"id4={HIVE_NULL}" in directories
    assert all(name.startswith("id4=") for name in directories)
    assert sorted(Path(dataset.glob).parent.parent.glob("*/*.parquet")) == sorted(dataset.files)
    assert dataset.manifest["partitioning"] == {"flavor": "hive", "columns": ["id4"]}
    for path in dataset.files:
        part = pq.read_table(path)
        assert "id4" not in part.column_names
        assert not sort or is_sorted(part, ("id1", "id2", "id3", "id5", "id6"))
    table = pads.dataset(dataset.path, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 10_000
    assert len(distinct(table, "id4")) == 9
    assert table["id4"].null_count / 10_000 == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize(
    "spec",
    [
        DatasetSpec(rows=20_000, rows_per_file=5_000),
        DatasetSpec(rows=20_000, rows_per_file=5_000, null_pct=5, sorted=True),
    ],
    ids=lambda spec: spec.name,
)
def test_bytes_depend_on_the_spec_not_on_jobs(tmp_path, spec):
    one = ensure_dataset(spec, tmp_path / "one", jobs=1, progress=False)
    two = ensure_dataset(spec, tmp_path / "two", jobs=2, progress=False)
    assert len(one.files) > 1
    assert one.manifest["files"] == two.manifest["files"]
    assert one.checksum == two.checksum
    other = ensure_dataset(DatasetSpec(**{**spec.to_dict(), "seed": 1}), tmp_path / "one")
    assert other.checksum != one.checksum


def test_build_chunk_is_what_gets_written(tmp_path):
    spec = DatasetSpec(rows=10_000, null_pct=5, rows_per_file=4_000)
    dataset = ensure_dataset(spec, tmp_path, jobs=2, progress=False)
    files = plan_files(spec)
    assert [file.path for file in files] == [entry["path"] for entry in dataset.manifest["files"]]
    for file, path in zip(files, dataset.files, strict=True):
        built = pa.concat_tables(build_chunk(spec, chunk) for chunk in file.chunks)
        plain = built.cast(pq.read_schema(path))
        assert plain.equals(pq.read_table(path))


def test_reused_unless_forced(tmp_path):
    spec = DatasetSpec(rows=10_000)
    first = generate(spec, tmp_path, progress=False)
    manifest = first.dataset.path / MANIFEST_NAME
    stamp = manifest.stat().st_mtime_ns
    again = generate(spec, tmp_path, progress=False)
    assert first.generated and not again.generated
    assert again.dataset.path == first.dataset.path
    assert manifest.stat().st_mtime_ns == stamp
    forced = generate(spec, tmp_path, force=True, progress=False)
    assert forced.generated
    assert manifest.stat().st_mtime_ns != stamp
    assert forced.dataset.checksum == first.dataset.checksum
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [spec.name, f".{spec.name}.lock"]
    )


def test_an_incomplete_dataset_is_regenerated(tmp_path):
    spec = DatasetSpec(rows=10_000)
    dataset = ensure_dataset(spec, tmp_path, progress=False)
    dataset.files[0].write_bytes(b"truncated")
    again = generate(spec, tmp_path, progress=False)
    assert again.generated
    assert again.dataset.checksum == dataset.checksum
    assert pq.read_table(again.dataset.files[0]).num_rows == 10_000


def test_concurrent_generators_share_one_dataset(tmp_path):
    command = [
        *(sys.executable, "-m", "bakeoff", "datagen"),
        *("--rows", "2e6", "--jobs", "1", "--data-dir", str(tmp_path), "--no-progress"),
    ]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    paths = {stdout.strip() for stdout, _ in outputs}
    assert len(paths) == 1
    summaries = sorted(stderr.splitlines()[-1].split()[0] for _, stderr in outputs)
    assert summaries == ["generated", "reused"]
    dataset = Dataset.load(Path(paths.pop()))
    assert dataset.rows == 2_000_000
    assert [path.name for path in tmp_path.iterdir() if path.is_dir()] == [dataset.name]


def assert_nothing_complete(data_dir: Path, spec: DatasetSpec) -> None:
    assert not (data_dir / spec.name).exists()
    for path in data_dir.iterdir():
        if path.is_dir():
            with pytest.raises(FileNotFoundError):
                Dataset.load(path)


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import datagen.writer

    def fail_halfway(path: Path, tables, **_: object) -> dict:
        path.write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(datagen.writer, "write_parquet", fail_halfway)
    spec = DatasetSpec(rows=10_000)
    with pytest.raises(OSError, match="disk full"):
        ensure_dataset(spec, tmp_path, progress=False)
    assert_nothing_complete(tmp_path, spec)
    assert [path.name for path in tmp_path.iterdir()] == [f".{spec.name}.lock"]


def test_a_killed_generator_leaves_nothing_complete(tmp_path):
    spec = DatasetSpec(rows=4_000_000, rows_per_file=1_000_000)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from datagen import DatasetSpec, ensure_dataset
        ensure_dataset(DatasetSpec(**{spec.to_dict()!r}), Path({str(tmp_path)!r}), jobs=1)
        """
    )
    run = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".tmp-*/part-*.parquet")):
            assert run.poll() is None and time.monotonic() < deadline, "never started writing"
            time.sleep(0.005)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the generator and its worker
        run.wait()
    assert_nothing_complete(tmp_path, spec)
    assert list(tmp_path.glob(".tmp-*"))  # the leftover of the killed run ...

    dataset = ensure_dataset(spec, tmp_path, progress=False)
    assert dataset.rows == spec.rows
    assert not list(tmp_path.glob(".tmp-*"))  # ... is removed by the next generator


BAD_ARGUMENTS = [
    ["--rows", "0"],
    ["--rows", "-5"],
    ["--rows", "abc"],
    ["--rows", "1.5"],
    ["--rows", "100", "--k", "1000"],
    ["--k", "0"],
    ["--k", "many"],
    ["--k", "tiny"],
    ["--table", "nope"],
    ["--bogus"],
    ["--null-pct", "100"],
    ["--null-pct", "-1"],
    ["--partition-by", "id3"],
    ["--partition-by", "nope"],
    ["--rows-per-file", "0"],
    ["--jobs", "0"],
    ["--seed", "-1"],
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=" ".join)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, arguments):
    data_dir = tmp_path / "data"
    assert main(["datagen", "--data-dir", str(data_dir), *arguments]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line_error(err), err
    assert not data_dir.exists()


def test_an_unwritable_data_dir_is_bad_input(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["datagen", "--data-dir", str(blocker / "data")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line_error(err) and "not a directory" in err
    assert [path.name for path in tmp_path.iterdir()] == ["file"]


def test_bad_input_from_the_command_line(tmp_path):
    data_dir = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "bakeoff", "datagen", "--rows", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == "" and one_line_error(done.stderr), done.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize(
    "spec",
    [
        DatasetSpec(rows=0),
        DatasetSpec(rows=10, k=11),
        DatasetSpec(k=0),
        DatasetSpec(null_pct=100),
        DatasetSpec(null_pct=float("nan")),
        DatasetSpec(table="nope"),
        DatasetSpec(partition_by="v1"),
        DatasetSpec(rows_per_file=0),
        DatasetSpec(rows=1e4),  # type: ignore[arg-type]
    ],
    ids=lambda spec: spec.name,
)
def test_bad_specs_are_rejected_before_writing(tmp_path, spec):
    with pytest.raises(InputError):
        ensure_dataset(spec, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_bad_jobs_are_rejected(tmp_path):
    with pytest.raises(InputError, match="jobs"):
        ensure_dataset(DatasetSpec(), tmp_path / "data", jobs=0)
    assert not (tmp_path / "data").exists()


def test_cli_prints_the_path_and_a_summary(tmp_path, capsys):
    arguments = ["datagen", "--rows", "tiny", "--k", "1e2", "--data-dir", str(tmp_path)]
    assert main(arguments) == 0
    out, err = capsys.readouterr()
    dataset = Dataset.load(Path(out.strip()))
    assert dataset.spec == DatasetSpec(rows=10_000, k=100)
    assert err.startswith(f"generated {dataset.name}: 10,000 rows, 1 files,")
    assert err.rstrip().endswith("rows/s")
    assert main(arguments) == 0
    assert capsys.readouterr().err.startswith(f"reused {dataset.name}")


def test_progress(tmp_path, capsys, monkeypatch):
    spec = DatasetSpec(rows=20_000, rows_per_file=5_000)
    ensure_dataset(spec, tmp_path, jobs=2, progress=True)
    assert "20.0k/20.0k" in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    assert show_progress(None) is False  # nor on a terminal in CI
    monkeypatch.delenv("CI")
    assert show_progress(None) is sys.stderr.isatty()


def test_labels_and_sorting_helpers():
    labels = id_labels(1_002, 3).to_pylist()
    assert labels[:2] == ["id001", "id002"]
    assert labels[998:] == ["id999", "id1000", "id1001", "id1002"]
    assert id_labels(3, 10).to_pylist() == ["id0000000001", "id0000000002", "id0000000003"]
    rng = np.random.default_rng(0)
    drawn = {"a": rng.integers(0, 50, 1_000), "b": rng.integers(0, 2**40, 1_000)}
    folded, lexsorted = dict(drawn), dict(drawn)
    sort_codes(folded, ["a", "b"], [50, 2**40])  # one int64 key
    sort_codes(lexsorted, ["a", "b"], [2**40, 2**40])  # too wide to fold: lexsort
    order = np.lexsort([drawn["b"], drawn["a"]])
    for key in drawn:
        assert np.array_equal(folded[key], drawn[key][order])
        assert np.array_equal(lexsorted[key], drawn[key][order])


def test_tables_registry():
    assert list(TABLES) == ["groupby", "join", "window", "ml", "blobs", "events"]
    assert all(TABLES[name].name == name for name in TABLES)


PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from datagen import DatasetSpec, ensure_dataset
    spec = DatasetSpec(**json.loads(sys.argv[1]))
    ensure_dataset(spec, Path(sys.argv[2]), jobs=1, progress=False)
    peaks = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF,
                                                           resource.RUSAGE_CHILDREN)]
    print(json.dumps(peaks))
    """
)


def peak_kib(spec: DatasetSpec, data_dir: Path) -> tuple[int, int]:
    """Peak RSS of the generating process and of its worker, in KiB (Linux ru_maxrss)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, json.dumps(spec.to_dict()), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parent, worker = json.loads(done.stdout)
    return parent, worker


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and fork are Linux's")
@pytest.mark.parametrize("sort", [False, True])
def test_memory_does_not_grow_with_rows(tmp_path, sort):
    # K grows with N so that the id3/id6 vocabularies (N/K values) stay the same size.
    small = DatasetSpec(rows=2_000_000, k=1_000, sorted=sort)
    large = DatasetSpec(rows=6_000_000, k=3_000, sorted=sort)
    small_parent, small_worker = peak_kib(small, tmp_path)
    large_parent, large_worker = peak_kib(large, tmp_path)
    # Holding the extra 4e6 rows would take some 180 MB (45 bytes a row in Arrow); a
    # streaming generator's peak is a chunk or two, whatever N is, give or take how the
    # pieces of a sorted dataset fall into row groups.
    allowance = 48 * 1024
    assert large_worker < small_worker + allowance, (small_worker, large_worker)
    assert large_parent < small_parent + allowance, (small_parent, large_parent)
