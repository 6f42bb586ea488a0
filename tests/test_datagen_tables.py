"""The join, window, ml and blobs tables: values, keys, truth in the manifest, layout, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bakeoff.cli import main
from datagen import TABLES, Dataset, DatasetSpec, build_chunk, ensure_dataset, plan_files
from datagen.columns import id_strings
from datagen.permutation import Permutation
from datagen.table import row_group_rows
from datagen.writer import written_encodings

NEW_TABLES = ("join", "window", "ml", "blobs")
ROWS = 20_000


def dataset(data_dir: Path, table: str, **options: object) -> Dataset:
    spec = DatasetSpec(table=table, rows=ROWS, rows_per_file=5_000, **options)  # type: ignore[arg-type]
    return ensure_dataset(spec, data_dir, jobs=2, progress=False)


def read(data: Dataset, table: str | None = None) -> pa.Table:
    return pa.concat_tables(pq.read_table(path) for path in data.table_files(table))


def column(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy()


def one_line_error(text: str) -> bool:
    return text.startswith("bakeoff: error: ") and text.count("\n") == 1


def test_permutation_is_a_bijection():
    for size in (1, 2, 3, 10, 11, 1_000, 65_537):
        image = Permutation(size, np.random.default_rng(size))(np.arange(size))
        assert np.array_equal(np.sort(image), np.arange(size))
    image = Permutation(1_000_000, np.random.default_rng(0))(np.arange(1_000))
    assert not np.array_equal(np.sort(image), image)  # a shuffle, not the identity


def test_id_strings_are_pasted_keys():
    keys = np.array([0, 1, 9, 10, 99, 100, 12_345, 999_999_999, 1_000_000_000, 2**31 - 1])
    keys = np.concatenate([keys, np.random.default_rng(0).integers(0, 2**31, 50_000)])
    expected = pc.binary_join_element_wise("id", pc.cast(pa.array(keys), pa.string()), "")
    assert id_strings(keys).equals(expected)


@pytest.fixture(scope="module")
def join(data_dir: Path) -> Dataset:
    return dataset(data_dir, "join")


def test_join_tables_and_schema(join):
    assert join.tables == ["x", "small", "medium", "big"]
    rows = {"x": ROWS, "small": 10, "medium": ROWS // 1_000, "big": ROWS}
    assert {name: join.table_rows(name) for name in join.tables} == rows
    assert join.rows == sum(rows.values())
    columns = {
        "x": ["id1", "id2", "id3", "id4", "id5", "id6", "v1"],
        "small": ["id1", "id4", "v2"],
        "medium": ["id1", "id2", "id4", "id5", "v2"],
        "big": ["id1", "id2", "id3", "id4", "id5", "id6", "v2"],
    }
    for name, names in columns.items():
        assert join.table_path(name) == join.path / name
        assert all(path.parent == join.path / name for path in join.table_files(name))
        schema = pq.read_schema(join.table_files(name)[0])
        assert schema.names == names
        for field in schema:
            number = int(field.name[2:]) if field.name.startswith("id") else 0
            kind = pa.float64() if not number else pa.int32() if number <= 3 else pa.string()
            assert field.type == kind
        table = read(join, name)
        assert table.num_rows == rows[name]
        for number in (1, 2, 3):
            if f"id{number}" in names:  # the labels are "id" + key
                labels = pc.binary_join_element_wise(
                    "id", pc.cast(table[f"id{number}"], pa.string()), ""
                )
                assert labels.equals(table[f"id{number + 3}"])
        value = column(table, names[-1])
        assert value.min() >= 0 and value.max() <= 100 and np.array_equal(np.round(value, 6), value)
    duckdb = pytest.importorskip("duckdb")
    for name in join.tables:
        count = duckdb.sql(f"select count(*) from '{join.table_glob(name)}'").fetchall()
        assert count == [(rows[name],)]


def test_join_keys_match_as_db_benchmark(join):
    x, small, medium, big = (read(join, name) for name in join.tables)
    levels = join.metadata
    # the right tables' join keys, and x's id3, are unique
    for table, key in ((x, "id3"), (small, "id1"), (medium, "id2"), (big, "id3")):
        assert len(np.unique(column(table, key))) == table.num_rows
    # each level: 90% of a side's keys shared, the rest on one side only, and never matching
    for number, left, right in ((1, x, small), (2, x, medium), (3, x, big)):
        level = levels[f"level{number}"]
        keys, only = level["keys_per_side"], level["one_side_only"]
        assert only == round(keys / 10) and level["shared"] == keys - only
        lefts, rights = set(column(left, f"id{number}")), set(column(right, f"id{number}"))
        assert len(lefts) == len(rights) == keys  # every key of a side appears
        assert len(lefts & rights) == keys - only
        assert all(1 <= key <= keys + only for key in lefts | rights)
    assert set(column(medium, "id1")) <= set(column(small, "id1"))  # right-side level-1 keys
    assert set(column(big, "id2")) <= set(column(medium, "id2"))
    # joins are many-to-one, and 90% of x's rows find their big row
    duckdb = pytest.importorskip("duckdb")
    for right, key in (("small", "id1"), ("medium", "id2"), ("big", "id3")):
        matched = duckdb.sql(
            f"select count(*) from '{join.table_glob('x')}' x "
            f"join '{join.table_glob(right)}' r using ({key})"
        ).fetchall()[0][0]
        shares = np.isin(column(x, key), column(read(join, right), key)).sum()
        assert matched == shares  # many-to-one: no row of x matches twice
    assert shares == ROWS - levels["level3"]["one_side_only"]


def test_join_floor_gives_every_right_table_rows(tmp_path):
    tiny = ensure_dataset(DatasetSpec(table="join", rows=100), tmp_path, progress=False)
    assert [tiny.table_rows(name) for name in tiny.tables] == [100, 10, 10, 100]


def test_window_values(data_dir):
    data = dataset(data_dir, "window", null_pct=5)
    table = read(data)
    assert table.schema.names == ["g", "ts", "id", "x", "y"]
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert len(np.unique(column(table, "g"))) == ROWS // 1_000  # every group, N/1000 of them
    assert np.array_equal(np.sort(column(table, "id")), np.arange(1, ROWS + 1))
    assert not np.array_equal(column(table, "id")[:100], np.arange(1, 101))
    ts = table["ts"].to_pylist()
    assert min(ts) >= datetime(2024, 1, 1) and max(ts) < datetime(2025, 1, 1)
    pairs = {(g, t) for g, t in zip(table["g"].to_pylist(), ts, strict=True)}
    assert len(pairs) >= ROWS - 2  # ties within a group are rare
    assert table["x"].null_count == ROWS * 5 // 100  # exactly 5% of the rows
    x = table["x"].drop_null().to_numpy()
    assert x.min() > 0 and np.median(x) == pytest.approx(1, abs=0.05)  # lognormal(0, 1)
    assert column(table, "y").std() == pytest.approx(1, abs=0.03)
    assert table["y"].null_count == 0


def test_ml_regression_recovers_the_truth(data_dir):
    data = dataset(data_dir, "ml")
    truth = data.metadata
    table = read(data)
    features = np.column_stack([column(table, name) for name in truth["features"]])
    mixing = np.array(truth["mixing_matrix"])
    assert np.allclose(np.linalg.svd(mixing, compute_uv=False), truth["singular_values"])
    assert np.allclose(np.cov(features.T), mixing.T @ mixing, atol=5)  # X = Z L: cov L^T L
    design = np.column_stack([features, np.ones(ROWS)])
    fit, *_ = np.linalg.lstsq(design, column(table, "y"), rcond=None)
    sigma = truth["noise_sigma"]
    residual = column(table, "y") - design @ fit
    assert residual.std() == pytest.approx(sigma, rel=0.03)
    errors = sigma * np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    expected = np.array([*truth["beta"], truth["intercept"]])
    assert np.all(np.abs(fit - expected) < 6 * errors)  # within the noise


def test_blobs_rows_lie_around_their_centres(data_dir):
    data = dataset(data_dir, "blobs")
    truth = data.metadata
    table = read(data)
    centres, initial = np.array(truth["centres"]), np.array(truth["initial_centres"])
    assert centres.shape == initial.shape == (8, 16)
    sigma = truth["sigma"]
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)[np.triu_indices(8, 1)]
    assert gaps.min() >= 10 * sigma and truth["min_separation"] == pytest.approx(gaps.min())
    assert np.allclose(np.linalg.norm(initial - centres, axis=1), 3 * sigma)
    points = np.column_stack([column(table, name) for name in truth["features"]])
    label = column(table, "label")
    assert set(label) == set(range(8)) and table.schema.field("label").type == pa.int32()
    assert np.linalg.norm(points - centres[label], axis=1).max() < 8 * sigma
    nearest = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(axis=1)
    assert np.array_equal(nearest, label)
    assert (points - centres[label]).std() == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("table", NEW_TABLES)
def test_bytes_depend_on_the_spec_not_on_jobs(tmp_path, table):
    spec = DatasetSpec(table=table, rows=ROWS, rows_per_file=7_000)
    runs = [ensure_dataset(spec, tmp_path / str(jobs), jobs=jobs) for jobs in (1, 2, 3)]
    assert len(runs[0].files) >= 3
    assert runs[0].manifest["files"] == runs[1].manifest["files"] == runs[2].manifest["files"]
    other = ensure_dataset(DatasetSpec(**{**spec.to_dict(), "seed": 1}), tmp_path / "1")
    assert other.checksum != runs[0].checksum


@pytest.mark.parametrize("table", NEW_TABLES)
def test_layout_and_encodings_per_table(data_dir, table):
    data = dataset(data_dir, table)
    spec = data.spec
    files = plan_files(spec)
    for name, entry in data.manifest["tables"].items():
        rows = entry["rows"]
        assert entry["row_group_rows"] == row_group_rows(rows)
        # the shared rule: 16 or more row groups, but for tables too small to split that far
        # (join's small has 10 rows in 10 groups of one, medium 20 in 10 groups of two)
        assert entry["row_groups"] >= 16 or entry["row_groups"] == -(-rows // row_group_rows(rows))
        assert entry["row_groups"] >= 16 or rows < 256
        assert entry["files"] == [
            str(path.relative_to(data.path)) for path in data.table_files(name)
        ]
        groups = 0
        for path in data.table_files(name):
            metadata = pq.read_metadata(path)
            groups += metadata.num_row_groups
            assert metadata.row_group(0).num_rows == entry["row_group_rows"]
            assert written_encodings(metadata) == entry["encodings"]  # read from the footer
            assert pq.read_schema(path).names == list(entry["schema"])
        assert groups == entry["row_groups"]
    if table != "join":  # one table: the top-level keys as for groupby
        assert data.manifest["format"]["encodings"] == data.manifest["tables"][table]["encodings"]
        assert data.table_files() == data.files and data.table_glob() == data.glob
    # the chunks built in memory are what was written
    built = pa.concat_tables(build_chunk(spec, chunk) for chunk in files[0].chunks)
    written = pq.read_table(data.path / files[0].path)
    assert built.cast(written.schema).equals(written)


def test_declared_encodings():
    join = plan_files(DatasetSpec(table="join"))  # a valid spec
    assert {file.table for file in join} == {"x", "small", "medium", "big"}
    spec = DatasetSpec(table="join")
    encodings = {table.name: dict(table.encodings) for table in TABLES["join"].tables(spec)}
    assert encodings["x"] == {
        **dict.fromkeys(("id1", "id4"), "dictionary"),
        **dict.fromkeys(("id2", "id3", "id5", "id6", "v1"), "plain"),
    }
    assert set(encodings["small"].values()) == {"plain"}  # small.id1 is unique
    assert encodings["medium"]["id4"] == encodings["big"]["id4"] == "dictionary"
    blobs = TABLES["blobs"].tables(DatasetSpec(table="blobs"))[0].encodings
    assert blobs["label"] == "dictionary" and blobs["x01"] == "plain"


BAD_ARGUMENTS = [
    *(["--table", table, "--sorted"] for table in NEW_TABLES),
    *(["--table", table, "--partition-by", "id1"] for table in NEW_TABLES),
    *(["--table", table, "--k", "10"] for table in NEW_TABLES),
    *(["--table", table, "--null-pct", "5"] for table in ("join", "ml", "blobs")),
    ["--table", "join", "--rows", "50"],
    ["--table", "join", "--rows", "2e9"],
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=" ".join)
def test_options_a_table_does_not_take_are_refused(tmp_path, capsys, arguments):
    data_dir = tmp_path / "data"
    assert main(["datagen", "--data-dir", str(data_dir), *arguments]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line_error(err), err
    assert arguments[1] in err  # the table is named
    assert not data_dir.exists()


def test_cli_generates_a_join_dataset(tmp_path, capsys):
    assert main(["datagen", "--table", "join", "--rows", "tiny", "--data-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    data = Dataset.load(Path(out.strip()))
    assert data.tables == ["x", "small", "medium", "big"]
    assert err.startswith(f"generated {data.name}: 20,020 rows, 4 files,")


PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    import datagen.table
    from datagen import DatasetSpec, ensure_dataset
    datagen.table.MAX_ROW_GROUP_ROWS = 50_000  # the same chunks at both scales
    spec = DatasetSpec(**json.loads(sys.argv[1]))
    ensure_dataset(spec, Path(sys.argv[2]), jobs=1, progress=False)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


def worker_peak_kib(spec: DatasetSpec, data_dir: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, json.dumps(spec.to_dict()), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and fork are Linux's")
@pytest.mark.parametrize("table", NEW_TABLES)
def test_memory_does_not_grow_with_rows(tmp_path, table):
    """With chunks of the same size, the writer's peak is the same at 1e6 and 3e6 rows: no
    table holds more than a chunk or two (3e6 rows of ml would be some 400 MB)."""
    small = worker_peak_kib(DatasetSpec(table=table, rows=1_000_000), tmp_path)
    large = worker_peak_kib(DatasetSpec(table=table, rows=3_000_000), tmp_path)
    assert large < small + 24 * 1024, (small, large)
