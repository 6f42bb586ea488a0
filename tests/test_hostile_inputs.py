"""Hostile inputs: no credential is ever written, and bad input is one line and exit code 2
before any work (limits that are not numbers, environment variables the benchmarks would only
read inside asv, commits that do not exist), while ``continuous`` keeps exit code 1 for a
regression alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
import pytest

from bakeoff import bench
from bakeoff.cells import SCALES_VARIABLE, TIMEOUT_VARIABLE, WORKLOADS_VARIABLE
from bakeoff.cli import main
from bakeoff.engines.base import MEMORY_CAP_VARIABLE
from bakeoff.redact import MASK, redact_text
from bakeoff.runner import RunRecord
from tests.test_inputs import assert_refused

REPO = Path(__file__).resolve().parents[1]
SUITE = ["--engines", "duckdb", "--rows", "2e3", "--workloads", "groupby_q1"]
TOO_MUCH_GIB = str(2 * psutil.virtual_memory().total / 2**30)


# -- redaction -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secrets", "kept"),
    [
        (  # Spark Connect: token is the secret; user_id, use_ssl and the host:port are not
            "sc://spark.example:15002/;use_ssl=true;token=SECRET;user_id=alice",
            ["SECRET"],
            ["sc://spark.example:15002/;use_ssl=true;", "user_id=alice"],
        ),
        ("sc://h:15002/;TOKEN=SECRET", ["SECRET"], ["sc://h:15002/;TOKEN="]),
        (  # AWS SigV4 presigned URL
            "https://b.s3.amazonaws.com/k.parquet?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIDEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20250101T000000Z&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=a1b2c3d4e5f6",
            ["AKIDEXAMPLE", "FQoGZXIvYXdzEXAMPLE", "a1b2c3d4e5f6"],
            ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Date=20250101T000000Z", "host"],
        ),
        (  # GCS V4 signed URL, lower case
            "https://storage.googleapis.com/b/o?x-goog-signature=0badc0ffee"
            "&x-goog-credential=svc%40proj.iam.gserviceaccount.com%2F20250101",
            ["0badc0ffee", "svc%40proj"],
            ["https://storage.googleapis.com/b/o?x-goog-signature="],
        ),
        (  # Azure SAS
            "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&se=2025-01-01&sp=r"
            "&sig=Zm9vYmFyYmF6%3D",
            ["Zm9vYmFyYmF6"],
            ["sv=2022-11-02&se=2025-01-01&sp=r&sig="],
        ),
        ("https://h/f?Signature=AbCdEf&Expires=1", ["AbCdEf"], ["Expires=1"]),  # generic
        ("see 'https://h/f?SIG=AbCdEf' there", ["AbCdEf"], ["'https://h/f?SIG=***' there"]),
    ],
    ids=["spark connect", "spark connect case", "aws", "gcs", "azure", "signature", "sig"],
)
def test_every_credential_parameter_is_masked(text, secrets, kept):
    redacted = redact_text(text)
    for secret in secrets:
        assert secret not in redacted, redacted
    for part in kept:
        assert part in redacted, redacted
    assert MASK in redacted


@pytest.mark.parametrize(
    "text",
    [
        "sc://spark.example:15002/;use_ssl=true;user_id=alice;session_id=1234-abcd",
        "spark://cluster.example:7077 and tcp://10.0.0.1:8786",
        "https://h/f?signal=1&design=2&x=3",
        "a=1; b=2 and q?x=y",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_a_record_never_carries_a_spark_connect_token_or_a_signature():
    record = RunRecord(
        engine="spark",
        version="4",
        settings={"address": "sc://spark.example:15002/;use_ssl=true;token=t0k3n-s3cr3t"},
        workload="groupby_q1",
        rows=1,
        status="error",
        detail="cannot read https://b.s3.amazonaws.com/k?X-Amz-Signature=f00dfeed",
    )
    line = record.to_json()
    assert "t0k3n-s3cr3t" not in line and "f00dfeed" not in line
    assert "sc://spark.example:15002/;use_ssl=true;token=***" in line


# -- bad input, up front -------------------------------------------------------------------------
@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``bakeoff`` in this process, its data and results under ``tmp_path``, with asv and the
    data preparation replaced by recorders: a refused command must not reach either."""
    for variable in (SCALES_VARIABLE, WORKLOADS_VARIABLE):  # bench sets them: restored after
        monkeypatch.setenv(variable, "")
    monkeypatch.delenv(MEMORY_CAP_VARIABLE, raising=False)  # --memory-cap sets it
    monkeypatch.setenv("BAKEOFF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BAKEOFF_RESULTS_DIR", str(tmp_path / "results"))
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(bench, "asv", lambda config, *arguments, **kw: started.append(arguments))
    monkeypatch.setattr(bench, "prepare_data", lambda *a: started.append(("prepare_data",)))

    def run(*arguments: str | Path) -> subprocess.CompletedProcess:
        code = main([str(argument) for argument in arguments])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(started, code, out, err)

    return run


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        *[
            (["run", f"--timeout={value}"], f"positive, finite number of seconds, not '{value}'")
            for value in ("nan", "inf", "-inf", "0", "-1", "soon")
        ],
        *[
            (["run", "--memory-limit", value], "--memory-limit must be a positive, finite number")
            for value in ("nan", "inf", "0", "-2")
        ],
        *[
            (["run", "--memory-limit", value], "--memory-limit must be at most this machine's")
            for value in ("1e300", TOO_MUCH_GIB)
        ],
        (["run", "--memory-cap", "1000TiB"], "--memory-cap must be at most this machine's"),
        (["bench", *SUITE, "--memory-cap", "1000TiB"], "--memory-cap must be at most"),
        (["bench", *SUITE, "--ab-factor", "nan"], "a factor must be a finite number of 1 or more"),
        (["continuous", "HEAD", *SUITE, "--factor", "inf"], "a factor must be a finite number"),
        (["continuous", "HEAD", *SUITE, "--factor", "0.5"], "not '0.5'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_a_limit_that_is_not_a_finite_positive_number_is_refused(arguments, message, cli, tmp_path):
    if arguments[0] == "run":
        arguments = [*arguments, "--engine", "duckdb", "--workload", "groupby_q1", "--rows", "2e3"]
    done = cli(*arguments)
    assert_refused(done, message)
    assert done.args == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        *[
            (TIMEOUT_VARIABLE, value, f"{TIMEOUT_VARIABLE} must be a positive, finite number")
            for value in ("nan", "inf", "-1", "ten")
        ],
        (MEMORY_CAP_VARIABLE, "lots", f"{MEMORY_CAP_VARIABLE}: a memory size is"),
        (MEMORY_CAP_VARIABLE, "1000TiB", f"{MEMORY_CAP_VARIABLE} must be at most"),
        ("BAKEOFF_DUCKDB_OPTIONS", "threads=1", "duckdb has no option 'threads'"),
        ("BAKEOFF_DUCKDB_OPTIONS", "garbage", "an engine option is key=value, not 'garbage'"),
        ("BAKEOFF_DUCKDB_ADDRESS", "spark://h:7077", "duckdb takes no cluster address"),
        ("BAKEOFF_CHAOS_KILL_AFTER", "soon", "BAKEOFF_CHAOS_KILL_AFTER is a positive time"),
        (SCALES_VARIABLE, "-5", "scales must be positive"),
    ],
)
@pytest.mark.parametrize("command", ["bench", "bench --dry-run", "continuous HEAD"])
def test_an_environment_variable_the_suite_reads_is_checked_before_any_work(
    command, variable, value, message, cli, monkeypatch, tmp_path
):
    """Before, each was read only inside asv, after the data and every environment were made,
    and every cell of the report said "asv failed"."""
    monkeypatch.setenv(variable, value)
    suite = SUITE[:2] + SUITE[4:] if variable == SCALES_VARIABLE else SUITE  # no --rows
    done = cli(*command.split(), *suite)
    assert_refused(done, message)
    if variable.endswith(("_OPTIONS", "_ADDRESS")):
        assert "set in BAKEOFF_DUCKDB_ADDRESS or BAKEOFF_DUCKDB_OPTIONS" in done.stderr
    assert done.args == [] and list(tmp_path.iterdir()) == []


def test_only_the_chosen_engines_options_are_checked(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("BAKEOFF_SPARK_ADDRESS", "http://not-spark")
    done = cli("bench", *SUITE, "--dry-run")
    assert done.returncode == 0, done.stderr


# -- continuous: 1 is a regression, 2 is "could not compare" ------------------------------------
@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository of one commit holding the project's asv.conf.json."""
    path = tmp_path / "repo"
    path.mkdir()
    (path / "asv.conf.json").write_text((REPO / "asv.conf.json").read_text())
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "asv.conf.json"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    return path


@pytest.mark.parametrize(
    ("refs", "bad"),
    [
        (["NOSUCHREF", "HEAD"], "NOSUCHREF"),
        (["HEAD", "NOSUCHREF"], "NOSUCHREF"),
        (["HEAD:asv.conf.json"], "HEAD:asv.conf.json"),  # a file, not a commit
    ],
)
def test_an_unknown_commit_is_refused_before_asv_starts(refs, bad, repo, cli, tmp_path):
    done = cli("continuous", *refs, *SUITE, "--repo", repo)
    assert_refused(done, f"{bad!r} names no commit in {repo}")
    assert done.args == []  # neither asv nor the data preparation started
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]
    assert not (repo / ".asv").exists()


@pytest.mark.parametrize(
    ("asv_code", "asv_says", "code", "message"),
    [
        (0, "BENCHMARKS NOT SIGNIFICANTLY CHANGED.", 0, None),
        (1, "PERFORMANCE DECREASED.", 1, None),
        (1, "Unknown commit 0123", 2, "asv continuous could not compare"),  # asv's own error
        (2, "", 2, "(asv exit code 2)"),  # a benchmark failed
    ],
    ids=["unchanged", "regressed", "asv error", "benchmark failed"],
)
def test_continuous_exits_1_only_for_a_regression(
    asv_code, asv_says, code, message, repo, cli, monkeypatch
):
    """asv continuous itself exits 1 for a slowdown and for its own errors alike."""
    calls = []

    def fake_asv(config, *arguments, env, quiet=False, output=None):
        calls.append(arguments[0])
        assert bench.VERSION_VARIABLE not in env  # only engine_matrix pins a version
        if arguments[0] != "continuous":
            return 0
        output.append(f"{asv_says}\n")
        return asv_code

    monkeypatch.setattr(bench, "asv", fake_asv)
    monkeypatch.setenv(bench.VERSION_VARIABLE, "0.0.1")  # left in the shell: not passed on
    monkeypatch.setattr(bench, "finish", lambda *a: calls.append("finish"))
    done = cli("continuous", "HEAD", "HEAD", *SUITE, "--repo", repo)
    assert calls == ["machine", "continuous", "finish"]  # the report is written in every case
    if message is None:
        assert done.returncode == code and not done.stderr.strip(), done.stderr
    else:
        assert_refused(done, message, code=code)


def test_continuous_help_gives_its_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        main(["continuous", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    assert "exit codes: 0, no benchmark got significantly slower; 1, one did" in out
    assert "2, nothing could be compared" in out
