"""``bakeoff bench`` and ``bakeoff continuous``: data first, then asv across engine environments,
then the report.

Datasets and their reference answers are made once, here in the harness environment, before
asv starts, so no engine environment generates data and none is timed while pandas works.
The asv configuration is derived from ``asv.conf.json`` with the chosen engines as its
matrix, so choosing engines never means editing the committed configuration. An engine named
with versions (``polars==2.0.0,polars==2.1.0``) gets one environment per version: the
version is the environment's ``BAKEOFF_ENGINE_VERSION``, which asv.conf.json's install
command pins, and which names the environment (and so the report's A/B section).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from tqdm import tqdm

from bakeoff import paths
from bakeoff.cells import (
    DEFAULT_SCALES,
    ENGINE_VARIABLE,
    HARNESS_ENVIRONMENT,
    RUN_VARIABLE,
    SCALES_VARIABLE,
    WORKLOADS_VARIABLE,
    peaks_dir,
    suite_scales,
    suite_workloads,
)
from bakeoff.commands import add_memory_cap_argument, factor_option
from bakeoff.engines import ENGINE_NAMES, engine_class, variant_label
from bakeoff.engines.base import option_variables
from bakeoff.environments import BackgroundInstall
from bakeoff.estimate import (
    EngineEstimate,
    asv_sample_seconds,
    estimate,
    estimate_text,
    log_lines,
    progress,
    run_history,
    split_text,
)
from bakeoff.load import RUN_PID_VARIABLE, idle_warning
from bakeoff.redact import redact_text
from bakeoff.reference import reference_answer
from bakeoff.report.asvlog import LOG_NAME
from bakeoff.runner import kill_children
from bakeoff.suite import check_environment
from datagen.cli import usable_dataset
from datagen.dataset import DatasetSpec
from shared.errors import InputError
from shared.lifetime import die_with_parent
from workloads import Workload, get_workload

VERSION_VARIABLE = "BAKEOFF_ENGINE_VERSION"
LATEST = "latest"  # ``polars==latest``: the newest release, resolved to its number first
DEFAULT_CONTINUOUS_FACTOR = 1.5
REGRESSED = 1  # bakeoff continuous's exit code when a benchmark got slower; 2: could not run
REFERENCE_MEMORY_BYTES = 4 * 1024**3  # one pandas reference at 1e7 rows peaked at 3.3 GiB
DATAGEN_BENCHMARKS = "bench_datagen"  # the generator's asv module, in benchmarks/
REGRESSION_VERDICT = "PERFORMANCE DECREASED."  # asv continuous's line for a slowdown
CONTINUOUS_EXIT_CODES = (
    "exit codes: 0, no benchmark got significantly slower; 1, one did (a regression, and "
    "only that); 2, nothing could be compared: bad input (an unknown commit, a bad option or "
    "environment variable), refused in one line before any work, or asv failing (an "
    "environment that did not build, a benchmark that failed), said in one line after the "
    "report is written"
)


@dataclasses.dataclass(frozen=True)
class EngineChoice:
    """One asv environment: an engine, pinned to a version or not, in its default form or as
    one of its labelled variants (``polars[in-memory]``)."""

    name: str
    version: str = ""
    variant: str = ""

    @property
    def label(self) -> str:
        return variant_label(self.name, self.variant) + (
            f"=={self.version}" if self.version else ""
        )

    def options(self) -> dict[str, str]:
        """The variant's options, as the environment variable its benchmarks read."""
        if not self.variant:
            return {}
        return {option_variables(self.name)[1]: engine_class(self.name).variants[self.variant]}


def default_choices(name: str) -> list[EngineChoice]:
    """An engine as the catalogue runs it: its default form, then each labelled variant."""
    return [
        EngineChoice(name),
        *(EngineChoice(name, variant=v) for v in engine_class(name).variants),
    ]


def parse_engines(specs: list[str] | None, with_datagen: bool = False) -> list[EngineChoice]:
    """``duckdb,polars==2.0.0,polars[in-memory]`` -> choices; every engine and its labelled
    variants when none is named.

    The generator's own benchmarks (the ``harness`` environment) are the harness's business,
    not the main job's: they run only when named (``--engines harness,...``) or with
    ``with_datagen`` (``--with-datagen``).
    """
    extra = [EngineChoice(HARNESS_ENVIRONMENT)] if with_datagen else []
    if not specs:
        return [*extra, *(choice for name in ENGINE_NAMES for choice in default_choices(name))]
    choices = []
    for spec in (part.strip() for item in specs for part in item.split(",")):
        if not spec:
            continue
        named, _, version = spec.partition("==")
        name, _, variant = named.removesuffix("]").partition("[")
        if name not in (*ENGINE_NAMES, HARNESS_ENVIRONMENT):
            raise InputError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_NAMES)}")
        if version and name == HARNESS_ENVIRONMENT:
            raise InputError(f"{HARNESS_ENVIRONMENT} has no engine to pin")
        known = engine_class(name).variants if name in ENGINE_NAMES else {}
        if variant and variant not in known:
            offered = ", ".join(variant_label(name, v) for v in known) or "none"
            raise InputError(f"{name} has no variant {variant!r} (variants: {offered})")
        version = resolve_latest(name) if version == LATEST else version
        choices.append(EngineChoice(name, version, variant))
    return list(dict.fromkeys([*extra, *choices]))


def resolve_latest(engine: str) -> str:
    """The newest release of the engine's distribution, as pip resolves it (nothing installed)."""
    distribution = engine_class(engine).distribution
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--no-deps",
            "--ignore-installed",
            "--report",
            "-",
            distribution,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise InputError(f"could not resolve the newest {distribution}: {done.stderr.strip()}")
    return json.loads(done.stdout)["install"][0]["metadata"]["version"]


def engine_matrix(choices: list[EngineChoice], pythons: list[str]) -> dict[str, object]:
    """asv ``matrix`` and ``include`` entries: unpinned engines in the matrix, each pinned
    version and each variant its own included environment (a plain product would cross
    engines, versions and options). A variant's options are ``env_nobuild``: it shares the
    virtualenv of its engine (and version) and has a result file of its own."""
    plain = [c.name for c in choices if not (c.version or c.variant)]
    others = [c for c in choices if c.version or c.variant]
    include = [
        {
            "python": python,
            "env": {
                ENGINE_VARIABLE: c.name,
                **({VERSION_VARIABLE: c.version} if c.version else {}),
            },
            **({"env_nobuild": c.options()} if c.variant else {}),
        }
        for c in others
        for python in pythons
    ]
    if plain:
        return {"matrix": {"env": {ENGINE_VARIABLE: plain}}, "include": include}
    # asv's matrix must not be empty: the first other choice goes there
    first = include.pop(0)
    matrix = {
        key: {k: [v] for k, v in first[key].items()}
        for key in ("env", "env_nobuild")
        if key in first
    }
    return {"matrix": matrix, "include": include}


def derived_config(repo: Path, choices: list[EngineChoice], work_dir: Path) -> Path:
    """An asv config for these engines, results under ``BAKEOFF_RESULTS_DIR``, paths absolute.

    Environments stay in the repository's ``env_dir``, so later runs reuse them.
    """
    from asv.util import load_json

    config = load_json(str(repo / "asv.conf.json"), js_comments=True)
    config.update(engine_matrix(choices, config["pythons"]))
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
    """Every dataset the suite reads, then the reference answer of every workload on them.

    Generating a dataset uses every core already; pandas answers a question on one. The
    references are computed in ``reference_workers`` processes at once, the heaviest first.
    """
    needed: dict[DatasetSpec, list[Workload]] = {}
    for rows in scales:
        for workload in workloads:
            spec = DatasetSpec(
                table=workload.table,
                rows=workload.suite_rows(rows),
                file_format=workload.file_format,
            )
            needed.setdefault(spec, []).append(workload)
    for spec in needed:
        print(f"dataset ready: {usable_dataset(spec, paths.data_root()).location}", flush=True)
    jobs = sorted(
        ((spec, workload.name) for spec, readers in needed.items() for workload in readers),
        key=lambda job: -job[0].rows,
    )
    workers = reference_workers(len(jobs))
    began = time.monotonic()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = [pool.submit(_reference, spec, name, str(paths.data_root())) for spec, name in jobs]
        for future in done:
            future.result()  # the first failure, as it would have been raised here
    print(
        f"references ready: {len(jobs)} answers in {time.monotonic() - began:.0f} s, "
        f"{workers} at a time",
        flush=True,
    )


def reference_workers(jobs: int) -> int:
    """Processes computing references at once: one per core, no more than the available memory
    holds at ``REFERENCE_MEMORY_BYTES`` each, and at least one."""
    room = psutil.virtual_memory().available // REFERENCE_MEMORY_BYTES
    return max(1, min(os.cpu_count() or 1, jobs, room))


def _reference(spec: DatasetSpec, workload: str, data_root: str) -> None:
    """One stored reference answer, in a worker process (the dataset exists and is checked)."""
    reference_answer(usable_dataset(spec, data_root), get_workload(workload))


def asv(
    config: Path,
    *arguments: str,
    env: dict[str, str],
    quiet: bool = False,
    output: list[str] | None = None,
) -> int:
    """Run asv with this config. Its output also goes, redacted, to ``asv-output.log`` in the
    results, because asv's result files keep no reason for a failure and the report needs it;
    with ``output``, its lines are kept there too (``continuous`` reads its verdict from them).

    On Ctrl-C or SIGTERM asv and everything under it (benchmark processes lead process groups
    of their own; JVMs, Dask workers) are killed: asv keeps the results of each environment
    it finished, and the next ``bakeoff bench`` skips them (``--skip-existing-successful``).
    """
    command = [sys.executable, "-m", "asv", *arguments, "--config", str(config)]
    print("+ " + " ".join(command), flush=True)
    paths.results_dir().mkdir(parents=True, exist_ok=True)
    with (
        subprocess.Popen(
            command,
            env=env,
            preexec_fn=die_with_parent,  # a bench killed with -9 takes asv along
            stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
            stderr=None if quiet else subprocess.STDOUT,
            text=True,
        ) as process,
        open(paths.results_dir() / LOG_NAME, "a") as log,
    ):
        try:
            for line in process.stdout or []:
                tqdm.write(line, end="")  # above the progress bar, when there is one
                sys.stdout.flush()
                log.write(redact_text(line))
                if output is not None:
                    output.append(line)
            process.wait()
        except BaseException:
            kill_children()
            raise
    return process.returncode


def prepare(args: argparse.Namespace, commit: str | None = None) -> tuple[Path, dict[str, str]]:
    """Data, references and the derived asv config for the chosen engines, scales and
    workloads; the environment asv runs in. Shared by ``bench`` and ``continuous``. With a
    ``commit``, asv's environments get it installed meanwhile, in a background process."""
    choices = select_suite(args)
    repo = suite_repo(args)
    env = dict(
        os.environ,
        **{RUN_PID_VARIABLE: str(os.getpid())},  # the load sampler leaves this run's tree out
        **{RUN_VARIABLE: uuid.uuid4().hex},  # names what this run's cells leave each other
        BAKEOFF_DATA_DIR=str(paths.data_root()),
        BAKEOFF_LOCAL_DATA_DIR=str(paths.data_dir()),
        BAKEOFF_RESULTS_DIR=str(paths.results_dir()),
    )
    # asv must measure the commit it installed: a PYTHONPATH pointing at a checkout would
    # make every commit's benchmarks import that checkout's code instead.
    env.pop("PYTHONPATH", None)
    # The version is this command's to set, per pinned environment (engine_matrix): one left
    # in the shell would pin every other environment's engine to it.
    env.pop(VERSION_VARIABLE, None)
    config = derived_config(repo, choices, repo / ".asv")
    installing = (
        BackgroundInstall(config, commit, env, repo / ".asv" / "install.log") if commit else None
    )
    try:
        prepare_data(suite_scales(), suite_workloads())
    except BaseException:
        if installing is not None:
            installing.stop()
        raise
    if installing is not None:
        print(installing.wait(), flush=True)
    asv(config, "machine", "--yes", env=env, quiet=True)  # records this machine's facts
    return config, env


def suite_repo(args: argparse.Namespace) -> Path:
    """The repository asv benchmarks (``--repo``), which must hold asv.conf.json."""
    repo = Path(args.repo).resolve()
    if not (repo / "asv.conf.json").exists():
        raise InputError(f"{repo} has no asv.conf.json; run from the bakeoff repository")
    return repo


def check_suite(args: argparse.Namespace) -> list[EngineChoice]:
    """The chosen environments, after every option and environment variable their benchmarks
    will read has been parsed (:func:`bakeoff.suite.check_environment`): bad input is one line
    and exit code 2 before any data, environment or asv process is made."""
    choices = select_suite(args)
    check_environment([c.name for c in choices if c.name in ENGINE_NAMES])
    return choices


def verify_commit(repo: Path, ref: str) -> str:
    """The commit ``ref`` names in ``repo``, checked before any work: asv would otherwise
    find out only after the data is made, and exit 1, the code of a regression."""
    verify = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
    done = subprocess.run(
        ["git", "-C", str(repo), *verify],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise InputError(
            f"{ref!r} names no commit in {repo}: name a commit, branch or tag "
            "(fetch it first if it is a remote's)"
        )
    return done.stdout.strip()


def select_suite(args: argparse.Namespace) -> list[EngineChoice]:
    """The engine environments, and the scales and workloads (as the environment variables
    the benchmarks read) the command chose."""
    os.environ[SCALES_VARIABLE] = args.rows
    os.environ[WORKLOADS_VARIABLE] = args.workloads
    return parse_engines(args.engines, getattr(args, "with_datagen", False))


def announce(args: argparse.Namespace) -> list[EngineEstimate]:
    """Before anything starts: a warning when the machine is not idle, and how long the run
    will take per engine."""
    engines = [c for c in check_suite(args) if c.name in ENGINE_NAMES]
    found = [  # bad input: one line, first; a variant is estimated as its engine
        dataclasses.replace(figure, engine=choice.label)
        for choice, figure in zip(
            engines,
            estimate(
                [c.name for c in engines],
                suite_workloads(),
                suite_scales(),
                run_history(paths.run_log()),
            ),
            strict=True,
        )
    ]
    if (warning := idle_warning()) is not None:
        print(warning, file=sys.stderr, flush=True)
    print(estimate_text(found), flush=True)
    return found


def selection(args: argparse.Namespace, config: Path) -> list[str]:
    """How asv runs the benchmarks, and which: without ``--bench``, the generator's own
    benchmarks only where the harness environment was chosen. In an engine's environment they
    are skipped, but asv still starts a process for each of their 30 cells (about 25 s per
    environment, 2 minutes of a five-engine catalogue)."""
    chosen = args.bench
    if chosen is None and HARNESS_ENVIRONMENT not in _matrix_engines(config):
        chosen = f"^(?!{DATAGEN_BENCHMARKS}\\.)"
    return ["--show-stderr", "--launch-method", "spawn"] + (["--bench", chosen] if chosen else [])


def _matrix_engines(config: Path) -> list[str]:
    """The engines of a derived config's matrix, where the harness environment is when chosen
    (it is never pinned or a variant, which go to ``include``)."""
    return json.loads(config.read_text())["matrix"]["env"].get(ENGINE_VARIABLE, [])


def asv_results(config: Path) -> Path:
    """Where the derived asv config keeps its result files."""
    return Path(json.loads(config.read_text())["results_dir"])


def finish(config: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    from bakeoff.report import write_report

    shutil.rmtree(peaks_dir(env[RUN_VARIABLE]), ignore_errors=True)
    asv(config, "publish", env=env, quiet=True)
    report = write_report(paths.results_dir(), asv_results(config), ab_factor=args.ab_factor)
    print(f"report: {report}")


def cmd_bench(args: argparse.Namespace) -> int:
    found = announce(args)
    if args.dry_run:
        return 0
    began, wall_began = time.monotonic(), time.time()
    config, env = prepare(args, verify_commit(suite_repo(args), "HEAD"))
    data_s, first_line = time.monotonic() - began, log_lines(paths.run_log())
    run = ["run", "HEAD^!", "--record-samples", *selection(args, config)]
    if args.quick:
        run.append("--quick")
    elif not args.rerun:  # resume: what asv recorded for this commit and environment stays
        run.append("--skip-existing-successful")
    with progress(paths.run_log(), found):
        status = asv(config, *run, env=env)
    samples_s = asv_sample_seconds(asv_results(config), wall_began)
    asv_s = time.monotonic() - began - data_s
    print(split_text(data_s, asv_s, paths.run_log(), first_line, samples_s))
    finish(config, env, args)
    return status


def cmd_continuous(args: argparse.Namespace) -> int:
    """``asv continuous`` on this suite, base against head, with distinct exit codes
    (``CONTINUOUS_EXIT_CODES``, its help's epilog) so that CI can tell a slowdown, the one
    reason for 1, from a comparison that could not be made (2)."""
    check_suite(args)
    repo = suite_repo(args)
    base, head = verify_commit(repo, args.base), verify_commit(repo, args.head)
    config, env = prepare(args)
    output: list[str] = []
    status = asv(
        config,
        "continuous",
        "--factor",
        str(args.factor),
        *selection(args, config),
        args.base,
        args.head,
        env=env,
        output=output,
    )
    finish(config, env, args)
    if status == 0:
        return 0
    # asv exits 1 for a regression but also for its own errors: its verdict line tells them apart.
    if status == REGRESSED and any(line.strip() == REGRESSION_VERDICT for line in output):
        return REGRESSED
    raise InputError(
        f"asv continuous could not compare {base[:12]} with {head[:12]} (asv exit code "
        f"{status}): see its output above, also in {paths.results_dir() / LOG_NAME}"
    )


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    from bakeoff.report import DEFAULT_AB_FACTOR

    parser.add_argument(
        "--engines",
        action="append",
        default=None,
        help=f"engines to run, comma-separated; name==version (or ==latest) pins one "
        f"environment per version for an A/B (default: all: {','.join(ENGINE_NAMES)}); "
        f"{HARNESS_ENVIRONMENT} runs the data generator's own benchmarks",
    )
    parser.add_argument(
        "--with-datagen",
        action="store_true",
        help=f"also run the data generator's own benchmarks (the {HARNESS_ENVIRONMENT} "
        "environment), which the main job leaves out",
    )
    parser.add_argument(
        "--rows",
        default=os.environ.get(SCALES_VARIABLE) or DEFAULT_SCALES,
        help="scales, comma-separated, e.g. 1e6,1e7 (default %(default)s)",
    )
    parser.add_argument(
        "--workloads",
        default=os.environ.get(WORKLOADS_VARIABLE) or "all",
        help="workloads or families, comma-separated (default %(default)s)",
    )
    parser.add_argument("--bench", default=None, help="asv --bench regex to select benchmarks")
    add_memory_cap_argument(parser)
    parser.add_argument("--repo", default=".", help="the bakeoff repository (default: here)")
    parser.add_argument(
        "--ab-factor",
        type=factor_option,
        default=DEFAULT_AB_FACTOR,
        help="report's A/B: flag a version slower or larger than this factor (default %(default)s)",
    )


def configure(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="the main job: generate data, run asv, write the report")
    add_suite_arguments(bench)
    bench.add_argument("--quick", action="store_true", help="asv --quick: one sample each")
    bench.add_argument(
        "--dry-run",
        action="store_true",
        help="only check the machine is idle and print the estimate; run nothing",
    )
    bench.add_argument(
        "--rerun",
        action="store_true",
        help="measure again what asv already recorded for this commit and environment "
        "(by default a second bench resumes: it runs only what is missing or failed)",
    )
    bench.set_defaults(handler=cmd_bench)

    continuous = sub.add_parser(
        "continuous",
        help="asv continuous: benchmark two commits, fail on a significant slowdown",
        description="Benchmark two commits with asv continuous; fail (exit 1) on a "
        "significant slowdown.",
        epilog=CONTINUOUS_EXIT_CODES,
    )
    continuous.add_argument("base", help="the commit to compare against, e.g. origin/main")
    continuous.add_argument("head", nargs="?", default="HEAD", help="default: %(default)s")
    continuous.add_argument(
        "--factor",
        type=factor_option,
        default=DEFAULT_CONTINUOUS_FACTOR,
        help="a slowdown larger than this factor, and significant, fails (default %(default)s)",
    )
    add_suite_arguments(continuous)
    continuous.set_defaults(handler=cmd_continuous)
