"""``bakeoff bench``: the main job. Data first, then asv across engine environments, then report.

Datasets and their reference answers are made once, here in the harness environment, before
asv starts, so no engine environment generates data and none is timed while pandas works.
The asv configuration is derived from ``asv.conf.json`` with the chosen engines as its
matrix, so choosing engines never means editing the committed configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bakeoff import paths
from bakeoff.engines import ENGINE_NAMES
from bakeoff.errors import InputError
from bakeoff.reference import reference_digest
from bakeoff.suite import (
    DEFAULT_SCALES,
    ENGINE_VARIABLE,
    HARNESS_ENVIRONMENT,
    SCALES_VARIABLE,
    WORKLOADS_VARIABLE,
    suite_scales,
    suite_workloads,
)
from datagen import ensure_dataset
from datagen.dataset import DatasetSpec
from workloads import Workload


def derived_config(repo: Path, engines: list[str], work_dir: Path) -> Path:
    """An asv config for these engines, results under ``BAKEOFF_RESULTS_DIR``, paths absolute.

    Environments stay in the repository's ``env_dir``, so later runs reuse them.
    """
    from asv.util import load_json

    config = load_json(str(repo / "asv.conf.json"), js_comments=True)
    config["matrix"] = {"env": {ENGINE_VARIABLE: engines}}
    config["repo"] = str(repo)
    for key in ("benchmark_dir", "env_dir"):
        config[key] = str((repo / config[key]).resolve())
    config["results_dir"] = str(paths.results_dir() / "asv")
    config["html_dir"] = str(paths.results_dir() / "html")
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "asv.bakeoff.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def prepare_data(scales: list[int], workloads: list[Workload]) -> None:
    """Every dataset the suite reads, and the reference answer of every workload on it."""
    for rows in scales:
        for table in sorted({w.table for w in workloads}):
            dataset = ensure_dataset(DatasetSpec(table=table, rows=rows), paths.data_dir())
            for workload in workloads:
                if workload.table == table:
                    reference_digest(dataset, workload)
            print(f"dataset ready: {dataset.path}", flush=True)


def asv(config: Path, *arguments: str, env: dict[str, str], quiet: bool = False) -> int:
    command = [sys.executable, "-m", "asv", *arguments, "--config", str(config)]
    print("+ " + " ".join(command), flush=True)
    output = subprocess.DEVNULL if quiet else None
    return subprocess.run(command, env=env, check=False, stdout=output).returncode


def cmd_bench(args: argparse.Namespace) -> int:
    from bakeoff.report import write_report

    engines = (
        [e for part in args.engines for e in part.split(",") if e]
        if args.engines
        else [HARNESS_ENVIRONMENT, *ENGINE_NAMES]
    )
    unknown = sorted(set(engines) - set(ENGINE_NAMES) - {HARNESS_ENVIRONMENT})
    if unknown:
        raise InputError(f"unknown engine {unknown[0]!r}; choose from {', '.join(ENGINE_NAMES)}")
    repo = Path(args.repo).resolve()
    if not (repo / "asv.conf.json").exists():
        raise InputError(f"{repo} has no asv.conf.json; run from the bakeoff repository")
    os.environ[SCALES_VARIABLE] = args.rows
    os.environ[WORKLOADS_VARIABLE] = args.workloads
    scales, workloads = suite_scales(), suite_workloads()
    env = dict(
        os.environ,
        BAKEOFF_DATA_DIR=str(paths.data_dir()),
        BAKEOFF_RESULTS_DIR=str(paths.results_dir()),
    )
    prepare_data(scales, workloads)
    config = derived_config(repo, engines, repo / ".asv")
    asv(config, "machine", "--yes", env=env, quiet=True)  # records this machine's facts
    run = ["run", "HEAD^!", "--show-stderr", "--launch-method", "spawn"]
    if args.quick:
        run.append("--quick")
    if args.bench:
        run += ["--bench", args.bench]
    status = asv(config, *run, env=env)
    asv(config, "publish", env=env, quiet=True)
    report = write_report(paths.results_dir(), Path(json.loads(config.read_text())["results_dir"]))
    print(f"report: {report}")
    return status


def configure(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="the main job: generate data, run asv, write the report")
    bench.add_argument(
        "--engines",
        action="append",
        default=None,
        help=f"engines to run, comma-separated (default: all: "
        f"{','.join(ENGINE_NAMES)}, plus the generator's own benchmarks)",
    )
    bench.add_argument(
        "--rows",
        default=os.environ.get(SCALES_VARIABLE) or DEFAULT_SCALES,
        help="scales, comma-separated, e.g. 1e6,1e7 (default %(default)s)",
    )
    bench.add_argument(
        "--workloads",
        default=os.environ.get("BAKEOFF_WORKLOADS") or "all",
        help="workloads or families, comma-separated (default %(default)s)",
    )
    bench.add_argument("--quick", action="store_true", help="asv --quick: one sample each")
    bench.add_argument("--bench", default=None, help="asv --bench regex to select benchmarks")
    bench.add_argument("--repo", default=".", help="the bakeoff repository (default: here)")
    bench.set_defaults(handler=cmd_bench)
