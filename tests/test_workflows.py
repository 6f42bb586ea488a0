"""The GitHub Actions workflows parse, and every command they run exists: each ``make``
target is in the Makefile, each ``bakeoff`` and ``asv`` command line parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(?P<name>[^}]+?)\s*\}\}")
VARIABLE = re.compile(r"\$\{?(?P<name>[A-Z_]+)\}?")


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on` as true
    return workflow


def commands(job: dict[str, Any]) -> list[list[str]]:
    """Every command line of the job's ``run`` steps, with the matrix's first values and the
    job's environment filled in (as the runner would)."""
    matrix = job.get("strategy", {}).get("matrix", {})
    values = {f"matrix.{k}": v for k, v in (matrix.get("include") or [{}])[0].items()}
    env = {
        name: EXPRESSION.sub(lambda m: "1.5", str(value))
        for name, value in job.get("env", {}).items()
    }
    found = []
    for step in job["steps"]:
        if "run" not in step:
            continue
        script = EXPRESSION.sub(lambda m: str(values.get(m["name"], "main")), step["run"])
        script = VARIABLE.sub(lambda m: env.get(m["name"], m[0]), script)
        for line in script.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                found.append(shlex.split(line))
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w./-]+):", (REPO / "Makefile").read_text(), re.M))


def check(command: list[str]) -> None:
    program, arguments = Path(command[0]).name, command[1:]
    if program == "make":
        targets = {a for a in arguments if "=" not in a and not a.startswith("-")}
        assert targets <= make_targets(), command
    elif program == "bakeoff":
        from bakeoff.cli import build_parser

        args = build_parser().parse_args(arguments)
        assert callable(args.handler)
    elif program == "asv":
        from asv.commands import make_argparser

        parser, _ = make_argparser()
        parser.parse_args(arguments)
    else:
        raise AssertionError(f"a workflow runs {command[0]!r}: use make, bakeoff or asv")


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"pull-request.yml", "engine-versions.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_parses_and_its_commands_exist(path):
    workflow = load(path)
    assert workflow["on"] and workflow["jobs"]
    for job in workflow["jobs"].values():
        assert job.get("timeout-minutes", 360) <= 90
        lines = commands(job)
        assert lines
        for command in lines:
            check(command)


def test_pull_requests_fail_on_a_slowdown_and_keep_the_report():
    job = load(REPO / ".github/workflows/pull-request.yml")["jobs"]["regressions"]
    continuous = next(c for c in commands(job) if c[:2] == [".venv/bin/bakeoff", "continuous"])
    assert continuous[continuous.index("--factor") + 1] == "1.5"
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert "results/" in uploads[0]["with"]["path"]


def test_the_schedule_compares_pinned_and_newest_versions():
    job = load(REPO / ".github/workflows/engine-versions.yml")["jobs"]["newest-against-pinned"]
    bench = next(c for c in commands(job) if c[:2] == [".venv/bin/bakeoff", "bench"])
    assert bench[bench.index("--engines") + 1] == "duckdb==2.0.1,duckdb==latest"
    engines = {entry["engine"] for entry in job["strategy"]["matrix"]["include"]}
    assert engines == {"duckdb", "polars", "dask", "spark", "vaex"}
