"""The events table: schema, values, day files, re-sent events, the CSV twin, determinism."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from bakeoff.cli import main
from datagen import TABLES, Dataset, DatasetSpec, build_chunk, ensure_dataset, plan_files
from datagen.cli import datagen_command
from datagen.columns import share
from datagen.dataset import DatasetError
from datagen.events import CATEGORIES, SCHEMA, STATUSES
from datagen.table import row_group_rows
from datagen.writer import written_encodings
from tests.test_datagen_tables import worker_peak_kib

ROWS = 100_000
COLUMNS = SCHEMA.names


def one_line_error(text: str) -> bool:
    return text.startswith("bakeoff: error: ") and text.count("\n") == 1


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("events")


def events(data_dir: Path, **options: object) -> Dataset:
    options = {"rows": ROWS, "rows_per_file": 2_000, **options}
    spec = DatasetSpec(table="events", **options)  # type: ignore[arg-type]
    return ensure_dataset(spec, data_dir, jobs=2, progress=False)


@pytest.fixture(scope="module")
def parquet(data_dir: Path) -> Dataset:
    return events(data_dir)


@pytest.fixture(scope="module")
def rows(parquet: Dataset) -> pa.Table:
    return pa.concat_tables(pq.read_table(path) for path in parquet.files)


def test_schema_encodings_and_manifest(parquet: Dataset):
    manifest = parquet.manifest
    assert pq.read_schema(parquet.files[0]) == SCHEMA  # plain strings, not dictionaries
    assert manifest["schema"] == {field.name: str(field.type) for field in SCHEMA}
    assert manifest["format"]["file_format"] == parquet.file_format == "parquet"
    assert manifest["parameters"]["null_pct"] == 5.0 and manifest["parameters"]["dup_pct"] == 2.0
    encodings = manifest["format"]["encodings"]
    assert {name for name, how in encodings.items() if how == "dictionary"} == {
        "status",
        "category",
    }
    for path in parquet.files:
        assert written_encodings(pq.read_metadata(path)) == encodings
    # the row-group rule is the table's: a day's file is shorter than a row group here
    assert manifest["format"]["row_group_rows"] == row_group_rows(ROWS)
    groups = [pq.read_metadata(path).num_row_groups for path in parquet.files]
    assert set(groups) == {1} and manifest["format"]["row_groups"] == len(parquet.files) == 60


def test_day_files_split_the_rows_evenly_and_sort_by_day(parquet: Dataset):
    metadata = parquet.metadata
    days = [(date(2024, 1, 1) + timedelta(days=d)).isoformat() for d in range(30)]
    assert metadata["days"] == 30 and metadata["first_day"] == "2024-01-01"
    assert parquet.days == list(metadata["day_files"]) == days
    listed = [entry["path"] for entry in parquet.manifest["files"]]
    assert listed == sorted(listed) == [p for day in days for p in metadata["day_files"][day]]
    sizes = {entry["path"]: entry["rows"] for entry in parquet.manifest["files"]}
    for number, day in enumerate(days):
        files = metadata["day_files"][day]
        assert all(path.startswith(f"part-{day}-") for path in files)
        expected = ROWS // 30 + (number < ROWS % 30)
        assert sum(sizes[path] for path in files) == expected == metadata["day_rows"][day]
        assert parquet.day_files(day) == [parquet.path / path for path in files]
        start = datetime.fromisoformat(day)
        for path in parquet.day_files(day):
            ts = pq.read_table(path, columns=["ts"])["ts"]
            assert pc.min(ts).as_py() >= start
            assert pc.max(ts).as_py() < start + timedelta(days=1)


def test_values(rows: pa.Table, parquet: Dataset):
    assert rows.num_rows == ROWS
    assert sorted(pc.unique(rows["status"]).to_pylist()) == sorted(STATUSES)
    assert (
        sorted(pc.unique(rows["category"]).to_pylist())
        == list(CATEGORIES)
        == [f"cat{n:02d}" for n in range(100)]
    )
    users = pc.unique(rows["user_id"]).to_numpy()
    assert users.min() >= 1 and users.max() <= ROWS // 100
    assert len(users) > 0.95 * ROWS // 100
    assert rows["value"].null_count == share(ROWS, 5) == parquet.metadata["null_rows"]
    assert pc.min(rows["value"]).as_py() > 0
    for column in ("event_id", "user_id", "ts", "status", "category"):
        assert rows[column].null_count == 0
    ids = rows["event_id"].to_numpy()
    originals = parquet.metadata["original_events"]
    assert np.array_equal(np.unique(ids), np.arange(1, originals + 1))
    assert not np.all(np.diff(ids) > 0)  # not sorted


def duplicate_facts(rows: pa.Table) -> tuple[int, int]:
    """Exact duplicate rows, and re-sent rows (same event_id, another ts), checking each
    re-send's rules on the way."""
    positions = pa.array(np.arange(rows.num_rows))
    distinct = rows.group_by(COLUMNS, use_threads=False).aggregate([])  # one row per version
    exact = rows.num_rows - distinct.num_rows
    resent = distinct.num_rows - len(pc.unique(rows["event_id"]))

    indexed = rows.append_column("position", positions)
    order = pc.sort_indices(indexed, [("event_id", "ascending"), ("position", "ascending")])
    by_event = indexed.take(order)
    ids = by_event["event_id"].to_numpy()
    same = ids[1:] == ids[:-1]  # a row and the one before it belong to one event
    first = np.concatenate([[True], ~same])
    starts = np.flatnonzero(first)
    origin = np.repeat(starts, np.diff(np.append(starts, len(ids))))  # each row's first row
    ts = by_event["ts"].cast(pa.int64()).to_numpy()
    day = ts // (86_400 * 10**6)
    assert np.all(ts >= ts[origin])  # the first row of an event is its original
    assert np.array_equal(day, day[origin])  # a re-send stays in its day
    for column in ("user_id", "status", "category"):
        values = by_event[column].to_numpy(zero_copy_only=False)
        assert np.array_equal(values, values[origin])
    later = ts > ts[origin]
    values = by_event["value"].fill_null(-1.0).to_numpy()
    assert np.all(values[~later] == values[origin][~later])  # same ts: an exact duplicate
    both = later & (values >= 0) & (values[origin] >= 0)
    assert both.any() and np.all(values[both] != values[origin][both])  # another value
    return exact, resent


def test_duplicates_as_recorded_and_specified(rows: pa.Table, parquet: Dataset):
    metadata = parquet.metadata
    exact, resent = duplicate_facts(rows)
    assert (exact, resent) == (metadata["exact_dup_rows"], metadata["resent_rows"])
    assert exact + resent == share(ROWS, 2)  # chunks of 1,334 rows hold every one
    assert exact == share(ROWS, 2) // 2
    assert metadata["dup_pct"] == 2.0 and metadata["null_pct"] == 5.0


@pytest.mark.parametrize(
    "options",
    [
        {"rows": 45, "dup_pct": 50, "null_pct": 60},
        {"rows": 3_000, "dup_pct": 50, "null_pct": 99},
        {"rows": 3_000, "dup_pct": 33.3, "null_pct": 50, "seed": 7},
        {"rows": 600, "dup_pct": 10, "null_pct": 0},
        {"rows": 1},
    ],
)
def test_duplicates_and_nulls_stay_exact_at_extremes(options):
    """Heavy duplication and nulls, and chunks of a few rows: an exact duplicate is still its
    source's copy (nulls included), nulls still exactly the share, and the counts the plan
    records are those drawn."""
    spec = DatasetSpec(table="events", **options)  # type: ignore[arg-type]
    chunks = [chunk for file in plan_files(spec) for chunk in file.chunks]
    table = pa.concat_tables(build_chunk(spec, chunk) for chunk in chunks)
    metadata = TABLES["events"].metadata(spec)
    assert table["value"].null_count == share(spec.rows, spec.null_pct)
    exact = table.num_rows - table.group_by(COLUMNS, use_threads=False).aggregate([]).num_rows
    assert exact == metadata["exact_dup_rows"]
    assert metadata["exact_dup_rows"] + metadata["resent_rows"] <= share(spec.rows, spec.dup_pct)
    assert len(pc.unique(table["event_id"])) == metadata["original_events"]


def test_the_same_bytes_for_any_jobs(tmp_path: Path):
    spec = DatasetSpec(table="events", rows=20_000, rows_per_file=500)
    one = ensure_dataset(spec, tmp_path / "one", jobs=1, progress=False)
    two = ensure_dataset(spec, tmp_path / "two", jobs=2, progress=False)
    assert one.manifest["files"] == two.manifest["files"]
    assert len(one.files) > 30 and one.checksum == two.checksum


def test_the_csv_twin_parses_to_the_parquet_rows(data_dir: Path, parquet: Dataset, rows):
    twin = events(data_dir, file_format="csv")
    assert twin.name == parquet.name + "_csv" and twin.checksum != parquet.checksum
    assert twin.manifest["format"]["file_format"] == twin.file_format == "csv"
    assert twin.manifest["parameters"]["file_format"] == "csv"
    assert "encodings" not in twin.manifest["format"]
    expected = {**parquet.metadata, "day_files": None}
    assert {**twin.metadata, "day_files": None} == expected
    swapped = {
        day: [path.replace(".parquet", ".csv") for path in files]
        for day, files in parquet.metadata["day_files"].items()
    }
    assert twin.metadata["day_files"] == swapped
    assert twin.verify(full=True) == len(twin.files)
    head = twin.files[0].read_text().splitlines()[:2]
    assert head[0] == ",".join(COLUMNS)
    assert head[1].split(",")[2].startswith("2024-01-01T") and len(head[1].split(",")[2]) == 26
    options = pa_csv.ConvertOptions(column_types=SCHEMA)
    parsed = pa.concat_tables(pa_csv.read_csv(path, convert_options=options) for path in twin.files)
    assert parsed.schema == SCHEMA
    assert parsed.equals(rows)
    assert any(line.endswith(",") for line in twin.files[0].read_text().splitlines())  # a NULL


def test_a_foreign_csv_file_fails_verification(tmp_path: Path):
    twin = events(tmp_path, rows=300, file_format="csv")
    (twin.path / "part-2024-01-01-99999.csv").write_text("event_id\n1\n")
    with pytest.raises(DatasetError, match="does not list"):
        twin.verify()


def test_parameters_round_trip(parquet: Dataset):
    assert parquet.spec == DatasetSpec(table="events", rows=ROWS, rows_per_file=2_000)
    plain = DatasetSpec(table="events", dup_pct=0, null_pct=0, file_format="csv")
    assert DatasetSpec(**plain.to_dict()) == plain and plain.dup_pct == 0
    assert "dup0" in plain.name
    assert datagen_command(plain) == (
        "bakeoff datagen --table events --rows 1e4 --null-pct 0 --dup-pct 0 --format csv"
    )
    assert (
        datagen_command(DatasetSpec(table="events")) == "bakeoff datagen --table events --rows 1e4"
    )
    # the other tables' specs, names and parameters are what they were
    groupby = DatasetSpec()
    assert groupby.null_pct == 0.0 and groupby.dup_pct == 0.0
    assert set(groupby.to_dict()) == {
        "table", "rows", "k", "null_pct", "sorted", "seed", "partition_by", "rows_per_file"
    }  # fmt: skip
    assert groupby.name == "groupby_1e4_k1e2_na0_sorted0_seed0_rpf5e6"


def test_cli_generates_events(tmp_path: Path, capsys):
    assert main(["datagen", "--table", "events", "--rows", "1e4", "--data-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    data = Dataset.load(Path(out.strip()))
    assert data.name == "events_1e4_k1e2_na5_sorted0_seed0_rpf5e6_dup2"
    assert err.startswith(f"generated {data.name}: 10,000 rows, 30 files,")
    assert json.loads((data.path / "_manifest.json").read_text())["table_metadata"]["days"] == 30


BAD_ARGUMENTS = [
    ["--table", "events", "--dup-pct", "-1"],
    ["--table", "events", "--dup-pct", "50.5"],
    ["--table", "events", "--dup-pct", "nan"],
    ["--table", "events", "--null-pct", "100"],
    ["--table", "events", "--k", "10"],
    ["--table", "events", "--sorted"],
    ["--table", "events", "--partition-by", "status"],
    ["--table", "events", "--format", "json"],
    *(["--table", table, "--format", "csv"] for table in ("groupby", "join", "window")),
    *(["--table", table, "--dup-pct", "1"] for table in ("groupby", "window", "blobs")),
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=" ".join)
def test_bad_input_is_refused(tmp_path: Path, capsys, arguments):
    data_dir = tmp_path / "data"
    assert main(["datagen", "--data-dir", str(data_dir), *arguments]) == 2
    out, err = capsys.readouterr()
    assert out == "" and one_line_error(err), err
    assert not data_dir.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units and fork are Linux's")
def test_memory_does_not_grow_with_rows(tmp_path: Path):
    """Files (so chunks) of 5,000 rows at 3e5 and 1e6 rows: the writer's peak is the same."""
    small = worker_peak_kib(
        DatasetSpec(table="events", rows=300_000, rows_per_file=5_000), tmp_path
    )
    large = worker_peak_kib(DatasetSpec(table="events", rows=10**6, rows_per_file=5_000), tmp_path)
    assert large < small + 24 * 1024, (small, large)
