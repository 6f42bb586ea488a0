"""Determinism and properties: the generator's options (valid ones give datasets that meet
their spec, invalid ones are refused), result comparison (no reordering is a difference, every
single change is), the same bytes from the same seed, the same digest from a rerun."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.cli import main
from bakeoff.engines import ENGINE_NAMES
from bakeoff.validation import compare, digest_table, row_order
from datagen import TABLES, ensure_dataset, generate
from datagen.dataset import DatasetSpec
from datagen.groupby import KEYS, PARTITION_COLUMNS, share
from tests.helpers import python_for
from workloads import get_workload

FAST = settings(
    max_examples=12,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),  # CI checks the same examples every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the generator's options ---------------------------------------------------------------------
@st.composite
def valid_specs(draw: st.DrawFn) -> DatasetSpec:
    rows = draw(st.integers(1, 3_000))
    partition_by = draw(st.sampled_from([None, *PARTITION_COLUMNS]))
    k = draw(st.integers(1, min(rows, 12 if partition_by else 200)))  # files per partition
    return DatasetSpec(
        rows=rows,
        k=k,
        null_pct=draw(st.sampled_from([0.0, 0.5, 10.0, 33.3, 99.0])),
        sorted=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
        partition_by=partition_by,
        rows_per_file=draw(st.integers(max(1, rows // 4), 4_000)),
    )


def is_sorted(table: pa.Table, keys: list[str]) -> bool:
    rows = list(zip(*(table[key].to_pylist() for key in keys), strict=True))
    ordered = [tuple((value is None, value) for value in row) for row in rows]
    return ordered == sorted(ordered)


@FAST
@given(spec=valid_specs())
def test_valid_generator_options_give_a_dataset_that_meets_them(spec):
    with tempfile.TemporaryDirectory() as root:
        dataset = ensure_dataset(spec, Path(root), jobs=2, progress=False)
        assert dataset.spec == spec and dataset.verify(full=True) == len(dataset.files)
        files = dataset.manifest["files"]
        assert sum(entry["rows"] for entry in files) == spec.rows
        assert all(entry["rows"] <= spec.rows_per_file for entry in files)
        # The partition column's type from the manifest: with K=1 and most ids NULL, it can be
        # NULL throughout, and then no reader can infer it from the directory names.
        partitioning = None
        if column := spec.partition_by:
            kind = pa.type_for_alias(dataset.manifest["schema"][column])
            partitioning = pads.partitioning(pa.schema([(column, kind)]), flavor="hive")
        table = pads.dataset(dataset.path, format="parquet", partitioning=partitioning).to_table()
        assert table.num_rows == spec.rows
        for key in ("id1", "id2", "id4", "id5"):
            assert len(set(table[key].drop_null().to_pylist())) <= spec.k
        assert table["v1"].null_count == share(spec.rows, spec.null_pct)
        if spec.partition_by:
            assert all(p.parent.name.startswith(f"{spec.partition_by}=") for p in dataset.files)
        if spec.sorted:
            keys = [key for key in KEYS if key != spec.partition_by]
            assert all(is_sorted(pq.read_table(path), keys) for path in dataset.files)


@st.composite
def invalid_options(draw: st.DrawFn) -> list[str]:
    return draw(
        st.one_of(
            st.integers(-(10**6), 0).map(lambda rows: ["--rows", str(rows)]),
            st.integers(2, 1_000).map(lambda k: ["--rows", str(k - 1), "--k", str(k)]),
            st.integers(-(10**6), 0).map(lambda k: ["--k", str(k)]),
            st.floats(100, 1e6).map(lambda pct: ["--null-pct", repr(pct)]),
            st.floats(-1e6, -1e-9).map(lambda pct: ["--null-pct", repr(pct)]),
            st.sampled_from(["id3", "id6", "v1", "v3", "nope"]).map(
                lambda column: ["--partition-by", column]
            ),
            st.integers(-(10**6), 0).map(lambda rows: ["--rows-per-file", str(rows)]),
            st.floats(1.01, 99.99)
            .filter(lambda x: not x.is_integer())
            .map(lambda rows: ["--rows", repr(rows)]),
            st.text("abcxyz-", min_size=1).map(lambda text: ["--rows", f"1e{text}"]),
        )
    )


@FAST
@given(arguments=invalid_options())
def test_invalid_generator_options_are_refused_with_exit_2(arguments, capsys):
    with tempfile.TemporaryDirectory() as root:
        data = Path(root) / "data"
        assert main(["datagen", "--data-dir", str(data), *arguments]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("bakeoff: error: ") and err.count("\n") == 1, err
        assert not data.exists()


# -- result comparison ---------------------------------------------------------------------------
Q3 = get_workload("groupby_q3")  # id3 (string key), v1 = sum (int), v3 = avg (float, nullable)


@st.composite
def results(draw: st.DrawFn) -> pa.Table:
    size = draw(st.integers(2, 60))
    keys = draw(st.lists(st.integers(0, 10**6), min_size=size, max_size=size, unique=True))
    v1 = draw(st.lists(st.integers(-(10**9), 10**9), min_size=size, max_size=size))
    finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    v3 = draw(st.lists(st.none() | finite, min_size=size, max_size=size))
    return pa.table(
        {
            "id3": pa.array([f"id{key:010d}" for key in keys]),
            "v1": pa.array(v1, pa.int64()),
            "v3": pa.array(v3, pa.float64()),
        }
    )


def assert_differs(actual: pa.Table, expected: pa.Table, *, by_digest: bool = True) -> None:
    """Value by value, and by digests (used above 1e7 result rows), the difference is found."""
    assert compare(actual, expected, Q3) is not None, actual.to_pylist()
    if by_digest:
        assert compare(actual, digest_table(expected, Q3), Q3) is not None, actual.to_pylist()


@FAST
@given(table=results(), data=st.data())
def test_a_result_equals_itself_in_any_row_order(table, data):
    order = data.draw(st.permutations(range(table.num_rows)))
    shuffled = table.take(pa.array(order))
    assert compare(shuffled, table, Q3) is None
    assert compare(shuffled, digest_table(table, Q3), Q3) is None


@FAST
@given(table=results(), data=st.data())
def test_any_single_change_is_detected(table, data):
    row = data.draw(st.integers(0, table.num_rows - 1))
    values = {name: table[name].to_pylist() for name in table.column_names}
    change = data.draw(st.sampled_from(["v1", "v3", "drop", "duplicate", "swap"]))
    if change == "v1":
        values["v1"][row] += data.draw(st.integers(1, 10**6)) * data.draw(st.sampled_from([-1, 1]))
    elif change == "v3":  # far beyond the tolerance (1e-9) of the value itself
        old = values["v3"][row]
        values["v3"][row] = new = 1.0 if old is None else old + max(1.0, abs(old)) * 1e-6
        # Digests hold a float column's sums to the tolerance of its total magnitude, so a
        # small value's change is visible to them only if it is large against that total.
        total = sum(abs(value) for value in values["v3"] if value is not None)
        if old is not None and abs(new - old) < 1e-8 * total:
            assert_differs(pa.table(values, schema=table.schema), table, by_digest=False)
            return
    elif change in ("drop", "duplicate"):
        rows = table.to_pylist()
        changed = rows[:row] + rows[row + 1 :] if change == "drop" else [*rows, rows[row]]
        assert_differs(pa.Table.from_pylist(changed, schema=table.schema), table)
        return
    else:  # two keys swapped: their values now belong to the other key
        other = data.draw(st.integers(0, table.num_rows - 1).filter(lambda i: i != row))
        pair = [(values["v1"][i], values["v3"][i]) for i in (row, other)]
        if pair[0] == pair[1]:
            return  # nothing to tell apart
        ids = values["id3"]
        ids[row], ids[other] = ids[other], ids[row]
    assert_differs(pa.table(values, schema=table.schema), table)


@st.composite
def sortable_tables(draw: st.DrawFn) -> pa.Table:
    """Columns of every kind a result has, with NULLs, ties, negative and widely spread
    integers (sorted by Arrow, not ranked by offset), and enough key columns of many distinct
    values that their combined ranks overflow 64 bits and are re-ranked."""
    size = draw(st.integers(1, 80))

    def column(values: st.SearchStrategy) -> list:
        return draw(st.lists(st.none() | values, min_size=size, max_size=size))

    narrow = st.integers(-5, 5)
    wide = st.integers(-(2**62), 2**62)
    words = st.text(alphabet="ab\u00e9", max_size=3)
    finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0)
    return pa.table(
        {
            "narrow": pa.array(column(narrow), pa.int32()),
            "word": pa.array(column(words), pa.string()),
            "wide": pa.array(column(wide), pa.int64()),
            "real": pa.array(column(finite), pa.float64()),
            "day": pa.array(column(st.integers(0, 20_000)), pa.int32()).cast(pa.date32()),
            "flag": pa.array(column(st.booleans()), pa.bool_()),
            "word2": pa.array(column(st.text(alphabet="xyz", max_size=4)), pa.string()),
            "wide2": pa.array(column(wide), pa.int64()),
            "real2": pa.array(column(finite), pa.float64()),
        }
    )


@FAST
@given(table=sortable_tables(), data=st.data())
def test_the_rank_sort_orders_rows_as_arrows_sort_does(table, data):
    names = data.draw(st.permutations(table.column_names))
    keys = data.draw(st.integers(0, len(names)))
    expected = table.take(pc.sort_indices(table, [(name, "ascending", "at_end") for name in names]))
    got = table.take(row_order(table, names, keys=keys))
    assert got.select(names).equals(expected.select(names)), (got.to_pylist(), names)


# -- same seed, same bytes -----------------------------------------------------------------------
@pytest.mark.parametrize("table", list(TABLES))
def test_the_same_seed_writes_the_same_bytes_in_every_run(table, tmp_path):
    """Every table, a second run (forced) and three writer processes against one: identical
    SHA-256 for every file. (Jobs 1 against 2 and 3 for each table: test_datagen*.py.)"""
    spec = DatasetSpec(table=table, rows=12_000, rows_per_file=5_000)
    first = generate(spec, tmp_path / "a", jobs=3, progress=False).dataset
    again = generate(spec, tmp_path / "a", jobs=3, force=True, progress=False)
    one = generate(spec, tmp_path / "b", jobs=1, progress=False).dataset
    assert again.generated and len(first.files) >= 3
    assert first.manifest["files"] == again.dataset.manifest["files"] == one.manifest["files"]


# -- same question, same digest ------------------------------------------------------------------
RERUN = """
import json, sys
from pathlib import Path
from bakeoff.engines import create_engine
from bakeoff.runner import run_workload
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import select_workloads

engine = create_engine(sys.argv[1])
engine.start()
digests = {}
for workload in select_workloads(sys.argv[3].split(",")):
    spec = DatasetSpec(table=workload.table, rows=10_000)
    dataset = ensure_dataset(spec, Path(sys.argv[2]), progress=False)
    runs = [run_workload(engine, workload, dataset, reference=None) for _ in range(2)]
    digests[workload.name] = [[run.status, run.digest] for run in runs]
engine.stop()
print(json.dumps(digests))
"""


def same_digest(first: dict, second: dict, rel_tol: float) -> str | None:
    """Identical, as far as arithmetic allows: row count, columns, NULL counts and integer
    sums exactly; float sums and keyed checksums within the workload's tolerance, because a
    float sum's last bits follow the order a multi-threaded engine adds in."""
    for field in ("rows", "columns", "nulls"):
        if first[field] != second[field]:
            return f"{field}: {first[field]} then {second[field]}"
    for name, value in first["sums"].items():
        again = second["sums"][name]
        if isinstance(value, int) or value is None:
            if again != value:
                return f"sum of {name}: {value} then {again}"
        elif not math.isclose(value, again, rel_tol=rel_tol, abs_tol=1e-12):
            return f"sum of {name}: {value!r} then {again!r}"
    for name, (value, scale, *exact) in first["keyed"].items():
        again, _, *again_exact = second["keyed"][name]
        if exact != again_exact or abs(value - again) > rel_tol * max(scale, 1.0) + 1e-12:
            return f"keyed checksum of {name}: {value!r} then {again!r}"
    return None


# Every read question where a run takes milliseconds; elsewhere (an engine start, and a second
# or more a query at tiny scale) the first question of each family, and one with float means.
# The etl writes are checked run after run by tests/test_etl.py, against their reference.
EVERY_READ = "groupby,join,window,ml"
RERUN_WORKLOADS = {
    "duckdb": EVERY_READ,
    "polars": EVERY_READ,
    "datafusion": EVERY_READ,
    "spark": "groupby_q3,join_q1",
}
SAMPLE = "groupby_q1,groupby_q3,join_q1,window_w1,ml_m1"


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_rerun_gives_the_same_digest(engine, data_dir):
    python = python_for(engine)
    chosen = RERUN_WORKLOADS.get(engine, SAMPLE)
    done = subprocess.run(
        [python, "-c", RERUN, engine, str(data_dir), chosen],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    digests = json.loads(done.stdout.splitlines()[-1])
    compared = 0
    for name, ((status, first), (again_status, second)) in digests.items():
        assert status == again_status, (name, status, again_status)
        if status == "unsupported":
            continue
        assert first is not None and second is not None, (name, status)
        problem = same_digest(first, second, get_workload(name).rel_tol)
        assert problem is None, f"{engine} {name}: {problem}"
        compared += 1
    assert compared >= (8 if chosen == "all" else 2), digests
