"""Daft's adapter: the settings it records as applied, and no sample reusing an earlier one's work.

Daft fixes its compute threads once per process, so the settings are checked in a fresh
interpreter, where this adapter is the first to set them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bakeoff.engines import create_engine
from bakeoff.engines.base import GIB, Resources
from datagen import ensure_dataset
from datagen.dataset import Dataset, DatasetSpec
from workloads import get_workload, implementation
from workloads.etl import EVENTS_SCHEMA

pytest.importorskip("daft")

SESSIONS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import daft
    from bakeoff.engines import create_engine
    from bakeoff.engines.base import Resources

    def session(cores):
        resources = Resources(cores=cores, memory_bytes=2**30, scratch_dir=Path(sys.argv[1]))
        engine = create_engine("daft", resources=resources)
        engine.start()
        try:
            return engine.settings()
        finally:
            engine.stop()

    first, second = session(1), session(2)
    try:
        daft.set_runner_native(num_threads=3)
        refused = None
    except Exception as error:
        refused = str(error)
    config = daft.context.get_context().daft_execution_config
    print(json.dumps({
        "first": first,
        "second": second,
        "refused": refused,
        "morsel": config.default_morsel_size,
        "maintain_order": config.maintain_order,
        "broadcast": config.get_broadcast_join_size_bytes_threshold(),
    }))
    """
)


def _sessions(tmp_path) -> dict:
    """Two sessions in one fresh interpreter, under a memory cap; what each recorded."""
    done = subprocess.run(
        [sys.executable, "-c", SESSIONS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BAKEOFF_MEMORY_CAP": "1GiB"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_settings_are_the_native_runner_with_the_threads_applied(tmp_path):
    recorded = _sessions(tmp_path)
    first = recorded["first"]
    assert first["runner"] == "native"
    assert first["threads"] == 1
    # Daft has no memory limit or spill directory of its own, even under a cap.
    assert first["memory_limit"] == "none" and first["spill_dir"] == "none"
    assert first["DAFT_ANALYTICS_ENABLED"] == "0" and first["DAFT_PROGRESS_BAR"] == "0"
    applied = first["applied"]
    assert applied["default_morsel_size"] == recorded["morsel"]
    assert applied["maintain_order"] == recorded["maintain_order"]
    assert applied["broadcast_join_size_bytes_threshold"] == recorded["broadcast"]
    # The threads were fixed by the first session: Daft refuses any other count afterwards.
    assert "already set" in recorded["refused"]


def test_a_second_session_in_the_process_records_the_threads_daft_kept(tmp_path):
    second = _sessions(tmp_path)["second"]
    assert second["runner"] == "native"
    assert second["threads"] == 1  # asked for 2; Daft keeps the first session's count


def test_a_later_run_reads_the_files_again(tmp_path):
    """Nothing of the first run (a result, a file's metadata) serves the second: the same
    question after the data changed on disk gives the new answer."""
    source = ensure_dataset(DatasetSpec(rows=10_000), tmp_path / "data")
    copy = tmp_path / "copy" / source.path.name
    shutil.copytree(source.path, copy)
    dataset = Dataset.open(copy)
    workload = get_workload("groupby_q1")
    query = implementation("daft", workload)
    resources = Resources(cores=1, memory_bytes=GIB, scratch_dir=tmp_path / "scratch")
    engine = create_engine("daft", resources=resources)
    engine.start()
    try:
        engine.prepare(dataset)
        before = engine.to_arrow(engine.run(query, dataset))
        for part in sorted(copy.rglob("*.parquet")):
            table = pq.read_table(part)
            column = table.schema.get_field_index("v1")
            doubled = pc.multiply(table.column("v1"), 2)
            pq.write_table(table.set_column(column, "v1", doubled), part)
        again = engine.run(query, dataset)
        after = engine.to_arrow(again)
        assert engine.result_rows(again) == before.num_rows
    finally:
        engine.stop()
    total = pc.sum(before.column("v1")).as_py()
    assert total > 0
    assert pc.sum(after.column("v1")).as_py() == 2 * total


# -- the etl writes -----------------------------------------------------------------------------
def _written_types(output) -> tuple[dict[str, str], set[str]]:
    """Every data file's column types (strings as one kind: Daft writes large_string) and the
    directories the files sit in, relative to ``output``."""
    types, directories = {}, set()
    for path in sorted(output.rglob("*.parquet")):
        directories.add(str(path.parent.relative_to(output)))
        for field in pq.read_schema(path):
            kind = pa.string() if pa.types.is_large_string(field.type) else field.type
            assert types.setdefault(field.name, str(kind)) == str(kind), (path, field)
    return types, directories


@pytest.fixture(scope="module")
def etl_engine(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    resources = Resources(cores=1, memory_bytes=GIB, scratch_dir=scratch)
    engine = create_engine("daft", resources=resources)
    engine.start()
    yield engine
    engine.stop()


def test_the_etl_writes_declare_the_types_the_harness_expects(etl_engine, tmp_path):
    """Value checks cast integers to int64 and would pass Daft's unsigned hour and count: the
    written schema is checked here. int64 hour and n, timestamp[us] without a time zone, the
    declared schema from CSV, ``date=YYYY-MM-DD`` directories without a date column inside."""
    events = ensure_dataset(DatasetSpec(table="events", rows=10_000), tmp_path / "data")
    csv = ensure_dataset(
        DatasetSpec(table="events", rows=10_000, file_format="csv"), events.path.parent
    )
    declared = {name: str(pa.type_for_alias(kind)) for name, kind in EVENTS_SCHEMA.items()}
    days = {f"date={day}" for day in events.days}
    written = {}
    for name, dataset in [(f"etl_e{i}", events) for i in range(1, 5)] + [("etl_e5", csv)]:
        output = tmp_path / name
        etl_engine.prepare(dataset)
        implementation("daft", get_workload(name))(etl_engine, dataset, str(output))
        written[name] = _written_types(output)
    hourly = {
        "hour": "int64",
        "status": "string",
        "n": "int64",
        "mean_value": "double",
        "min_value": "double",
        "max_value": "double",
    }
    assert written["etl_e1"] == ({**declared, "hour": "int64"}, days)
    assert written["etl_e2"] == (hourly, days)
    assert written["etl_e3"] == (declared, {"."})
    # e4 read only the last day's files: its one partition is the last day's.
    assert written["etl_e4"] == (hourly, {f"date={events.days[-1]}"})
    assert written["etl_e5"] == (declared, {"."})
