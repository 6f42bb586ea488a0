"""Engine-version A/B: ``--engines polars==2.0.0,polars==2.1.0`` becomes one asv environment
per version, named after it, with the version pinned by asv.conf.json's install command."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.bench import EngineChoice, derived_config, parse_engines, selection
from shared.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_engines_with_versions_parse():
    assert parse_engines(["duckdb,polars==2.0.0", "polars==2.1.0"]) == [
        EngineChoice("duckdb"),
        EngineChoice("polars", "2.0.0"),
        EngineChoice("polars", "2.1.0"),
    ]
    with pytest.raises(InputError, match="unknown engine"):
        parse_engines(["pandas==2.0"])
    with pytest.raises(InputError, match="no engine to pin"):
        parse_engines(["harness==1"])


@pytest.mark.parametrize(
    "engines",
    [["duckdb", "polars==2.0.0", "polars==2.1.0"], ["polars==2.0.0", "polars==2.1.0"]],
)
def test_one_asv_environment_per_version(tmp_path, monkeypatch, engines):
    from asv.config import Config
    from asv.environment import get_env_name, iter_matrix

    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    path = derived_config(REPO, parse_engines(engines), tmp_path)
    config = Config.load(str(path))
    names = set()
    for combination in iter_matrix("virtualenv", config.pythons, config):
        env_vars = {key: value for (kind, key), value in combination.items() if kind == "env"}
        tagged = {("env", key): value for key, value in env_vars.items()}
        names.add(get_env_name("virtualenv", "3.11", {}, tagged))
    expected = {
        "virtualenv-py3.11-BAKEOFF_ENGINEpolars-BAKEOFF_ENGINE_VERSION2.0.0",
        "virtualenv-py3.11-BAKEOFF_ENGINEpolars-BAKEOFF_ENGINE_VERSION2.1.0",
    }
    if "duckdb" in engines:
        expected.add("virtualenv-py3.11-BAKEOFF_ENGINEduckdb")
    assert names == expected


@pytest.mark.parametrize(
    "engines, bench, datagen, workloads",
    [
        (["duckdb", "polars[in-memory]"], None, False, True),
        (["harness", "duckdb"], None, True, True),
        (["duckdb"], "DataGenerator", True, False),  # a --bench of the user's is theirs
    ],
)
def test_the_generators_benchmarks_run_only_where_the_harness_is_chosen(
    tmp_path, monkeypatch, engines, bench, datagen, workloads
):
    """asv's own filter, given the options a bench run passes it."""
    from asv.benchmarks import Benchmarks
    from asv.config import Config

    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    path = derived_config(REPO, parse_engines(engines), tmp_path)
    options = selection(argparse.Namespace(bench=bench), path)
    regex = [options[options.index("--bench") + 1]] if "--bench" in options else []
    names = (
        "bench_datagen.DataGenerator.track_rows_per_second",
        "bench_workloads.GroupBy.time_query",
        "bench_workloads.GroupByMemory.track_peak_tree_bytes",
    )
    suite = [{"name": name, "params": [["'groupby'"], ["10000000"]]} for name in names]
    chosen = Benchmarks(Config.load(str(path)), suite, regex=regex)
    assert (names[0] in chosen) == datagen
    assert all((name in chosen) == workloads for name in names[1:])


def test_install_command_pins_every_distribution_of_the_extra(tmp_path):
    """asv.conf.json's install command, run with pip replaced by a printer."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), REPO],
        check=True,
    )
    wheel = next(tmp_path.glob("*.whl"))
    from asv.util import load_json

    command = load_json(str(REPO / "asv.conf.json"), js_comments=True)["install_command"][0]
    arguments = shlex.split(command.format(env_dir=tmp_path, wheel_file=wheel))
    code = arguments[arguments.index("-c") + 1].replace("subprocess.check_call(", "print(")

    def install(engine: str, version: str) -> list[str]:
        env = dict(os.environ, BAKEOFF_ENGINE=engine, BAKEOFF_ENGINE_VERSION=version)
        done = subprocess.run(
            [sys.executable, "-c", code, str(wheel)], env=env, capture_output=True, text=True
        )
        return json.loads(done.stdout.replace("'", '"'))[5:]

    assert install("dask", "2024.12.1") == [  # dask-ml, versioned apart, is never pinned
        f"{wheel}[dask,dask-lib]",
        "dask==2024.12.1",
        "distributed==2024.12.1",
    ]
    assert install("polars", "") == [f"{wheel}[polars]"]


def test_a_variant_is_an_environment_of_its_own_sharing_its_engines_virtualenv(
    tmp_path, monkeypatch
):
    """``polars[in-memory]``: its options reach the benchmarks as an environment variable that
    does not rebuild, so asv reuses the Polars virtualenv and keeps a result file apart."""
    from asv.config import Config
    from asv.environment import get_environments

    assert [c.label for c in parse_engines(None) if c.name == "polars"] == [
        "polars",
        "polars[in-memory]",
    ]
    assert parse_engines(["polars[in-memory]==2.0.0"]) == [
        EngineChoice("polars", "2.0.0", "in-memory")
    ]
    with pytest.raises(InputError, match=r"polars has no variant 'gpu' \(variants: polars\[in"):
        parse_engines(["polars[gpu]"])
    with pytest.raises(InputError, match=r"duckdb has no variant 'x' \(variants: none"):
        parse_engines(["duckdb[x]"])
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    for engines in (["duckdb", "polars", "polars[in-memory]"], ["polars[in-memory]"]):
        config = Config.load(str(derived_config(REPO, parse_engines(engines), tmp_path)))
        found = {env.name: env for env in get_environments(config, None)}
        variant = found[
            "virtualenv-py3.11-BAKEOFF_ENGINEpolars-BAKEOFF_POLARS_OPTIONSengine=in-memory"
        ]
        assert variant.env_vars["BAKEOFF_POLARS_OPTIONS"] == "engine=in-memory"
        if "polars" in engines:
            plain = found["virtualenv-py3.11-BAKEOFF_ENGINEpolars"]
            assert plain.dir_name == variant.dir_name  # one install for both
            assert "BAKEOFF_POLARS_OPTIONS" not in plain.env_vars
        assert len(found) == len(engines)


def test_references_are_computed_by_worker_processes_and_equal_the_in_process_answer(
    tmp_path, monkeypatch
):
    """Two workers at once on three datasets; each stored answer loads as a valid reference
    whose digest is that of the answer computed here, in this process."""
    from bakeoff import bench
    from bakeoff.reference import compute_reference, reference_answer, reference_path
    from bakeoff.validation import digest_table
    from datagen.cli import usable_dataset
    from datagen.dataset import DatasetSpec
    from workloads import select_workloads

    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(bench, "reference_workers", lambda jobs: 2)
    workloads = select_workloads(["groupby_q1", "join_q1", "window_w1"])
    bench.prepare_data([2_000], workloads)
    for workload in workloads:
        spec = DatasetSpec(
            table=workload.table, rows=workload.suite_rows(2_000), file_format=workload.file_format
        )
        dataset = usable_dataset(spec, tmp_path / "data")
        assert reference_path(dataset, workload).is_file()
        stored = reference_answer(dataset, workload)
        assert stored is not None
        answer = compute_reference(dataset, workload)
        assert stored.digest == digest_table(answer, workload, normalized=True)


def test_reference_workers_fit_the_available_memory(monkeypatch):
    from bakeoff import bench

    class Memory:
        available = bench.REFERENCE_MEMORY_BYTES * 3 // 2

    monkeypatch.setattr(bench.psutil, "virtual_memory", Memory)
    assert bench.reference_workers(10) == 1
    Memory.available = bench.REFERENCE_MEMORY_BYTES // 2
    assert bench.reference_workers(10) == 1  # never none
    Memory.available = bench.REFERENCE_MEMORY_BYTES * 64
    assert bench.reference_workers(10) == min(os.cpu_count() or 1, 10)
    assert bench.reference_workers(1) == 1
