"""Datasets in S3-compatible object storage: a real S3 server (moto's, on 127.0.0.1), written
by the generator and read by every engine the way its users read S3.

The server runs in this process on a free loopback port; everything else runs through the
real ``bakeoff`` command, which finds the endpoint and credentials where every S3 client
does, in the standard AWS environment variables, and must never write them into a result.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.engines import ENGINE_NAMES
from bakeoff.engines.spark import NO_S3A
from bakeoff.runner import RunRecord
from datagen.dataset import MANIFEST_NAME
from tests.helpers import assert_answered, bakeoff, python_for

BUCKET = "bakeoff-data"
ROOT = f"s3://{BUCKET}/suite"
SECRET = "secret-9f2c7a1e-never-in-results"
KEY_ID = "AKIA-BAKEOFF-TEST-ID"
WORKLOADS = {"groupby": ["groupby_q1", "groupby_q3"], "join": ["join_q1", "join_q5"]}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto S3 server on loopback with one bucket; the environment that reaches it."""
    pytest.importorskip("moto")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], **_credentials(env)).create_bucket(
        Bucket=BUCKET
    )
    local = tmp_path_factory.mktemp("local")
    env |= {"BAKEOFF_DATA_DIR": ROOT, "BAKEOFF_LOCAL_DATA_DIR": str(local)}
    try:
        yield env
    finally:
        server.stop()


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_REGION"],
    }


def _client(env: dict[str, str]):
    import boto3

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], **_credentials(env))


def _keys(env: dict[str, str], prefix: str) -> list[str]:
    listed = _client(env).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def _datagen(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return bakeoff(python_for("duckdb"), "datagen", *arguments, env=dict(os.environ, **env))


def _run(engine: str, env: dict[str, str], results: Path, table: str) -> tuple[list, object]:
    done = bakeoff(
        python_for(engine),
        *("run", "--engine", engine, "--table", table, "--rows", "tiny", "--json"),
        *("--workload", ",".join(WORKLOADS[table]), "--share-session"),
        env=dict(os.environ, **env, BAKEOFF_RESULTS_DIR=str(results)),
    )
    records = [RunRecord.from_json(line) for line in done.stdout.splitlines() if line[:1] == "{"]
    return records, done


def test_the_generator_uploads_the_manifest_last_and_reuses_a_complete_dataset(s3):
    arguments = ("--table", "join", "--rows", "tiny", "--rows-per-file", "2500")
    done = _datagen(s3, *arguments)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url == f"{ROOT}/join_1e4_k1e2_na0_sorted0_seed0_rpf2500"
    prefix = url.removeprefix(f"s3://{BUCKET}/")
    manifest = json.loads(
        _client(s3).get_object(Bucket=BUCKET, Key=f"{prefix}/{MANIFEST_NAME}")["Body"].read()
    )
    listed = [f"{prefix}/{entry['path']}" for entry in manifest["files"]]
    assert _keys(s3, prefix + "/") == sorted([*listed, f"{prefix}/{MANIFEST_NAME}"])
    assert len([key for key in listed if "/x/" in key]) == 4  # x over four files
    # the manifest came last: no part file is newer than it
    heads = {key: _client(s3).head_object(Bucket=BUCKET, Key=key) for key in _keys(s3, prefix)}
    written = {key: head["LastModified"] for key, head in heads.items()}
    assert max(written.values()) == written[f"{prefix}/{MANIFEST_NAME}"]

    again = _datagen(s3, *arguments)
    assert again.returncode == 0 and "reused" in again.stderr, again.stderr
    checked = _datagen(s3, *arguments, "--verify")
    assert checked.returncode == 0 and "match their manifest's SHA-256" in checked.stderr


def test_a_dataset_without_its_manifest_is_incomplete_and_regenerated(s3):
    arguments = ("--table", "groupby", "--rows", "tiny", "--rows-per-file", "4000")
    url = _datagen(s3, *arguments).stdout.strip()
    prefix = url.removeprefix(f"s3://{BUCKET}/")
    _client(s3).delete_object(Bucket=BUCKET, Key=f"{prefix}/{MANIFEST_NAME}")  # an upload cut off
    verify = _datagen(s3, *arguments, "--verify")
    assert verify.returncode == 2 and "there is no dataset" in verify.stderr
    done = _datagen(s3, *arguments)
    assert done.returncode == 0 and "generated" in done.stderr, done.stderr
    assert f"{prefix}/{MANIFEST_NAME}" in _keys(s3, prefix)


def test_an_altered_object_is_refused_with_the_command_that_repairs_it(s3, tmp_path):
    arguments = ("--table", "groupby", "--rows", "tiny", "--rows-per-file", "3000")
    url = _datagen(s3, *arguments).stdout.strip()
    prefix = url.removeprefix(f"s3://{BUCKET}/")
    part = next(key for key in _keys(s3, prefix) if key.endswith(".parquet"))
    body = bytearray(_client(s3).get_object(Bucket=BUCKET, Key=part)["Body"].read())
    body[len(body) // 2] ^= 0xFF  # same size, other bytes
    _client(s3).put_object(Bucket=BUCKET, Key=part, Body=bytes(body))
    done = bakeoff(
        python_for("duckdb"),
        *("run", "--engine", "duckdb", "--workload", "groupby_q1", *arguments),
        env=dict(os.environ, **s3, BAKEOFF_RESULTS_DIR=str(tmp_path)),
    )
    assert done.returncode == 2
    assert "does not match its manifest's SHA-256" in done.stderr
    assert "bakeoff datagen" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("table", sorted(WORKLOADS))
@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_every_engine_reads_object_storage(s3, engine, table, tmp_path):
    records, done = _run(engine, s3, tmp_path, table)
    if engine == "spark" and records and records[0].status == "unsupported":
        # S3A is not in the pyspark wheel; where it is on the class path, Spark answers
        assert {(r.status, r.detail) for r in records} == {("unsupported", NO_S3A)}
        assert done.returncode == 0
    else:
        assert_answered(engine, records, done, WORKLOADS[table])
    assert all(r.dataset["path"].startswith(f"{ROOT}/{table}_1e4") for r in records)
    # objects are listed before a run, not hashed again: every record says so
    assert all(r.dataset["note"].startswith("dataset not re-verified:") for r in records)
    written = "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET not in written and KEY_ID not in written
    assert SECRET not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("s3://", "names no bucket"),
        ("gs://bucket/data", "through s3:// only"),
    ],
)
def test_a_bad_object_storage_root_is_one_line(s3, root, message):
    done = _datagen(s3, "--rows", "tiny", "--data-dir", root)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_report_describes_a_dataset_read_from_object_storage(s3, tmp_path):
    """The report's dataset table reads the manifest where the run read the data."""
    records, done = _run("duckdb", s3, tmp_path, "groupby")
    assert_answered("duckdb", records, done, WORKLOADS["groupby"])
    env = dict(os.environ, **s3, BAKEOFF_RESULTS_DIR=str(tmp_path))
    report = bakeoff(python_for("duckdb"), "report", env=env)
    assert report.returncode == 0, report.stderr
    (line,) = [
        line
        for line in (tmp_path / "report.md").read_text().splitlines()
        if line.startswith(f"| {records[0].dataset['name']} |")
    ]
    assert "manifest not found" not in line and "compression=" in line
