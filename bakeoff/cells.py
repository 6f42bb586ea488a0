"""The asv suite's cells and how asv samples them, light to import.

asv starts a process for every cell of every benchmark, twice a cell (its time and its peak),
so what those processes import before a cell starts is paid about 300 times in a catalogue
run. This module holds the suite's configuration (engine, scales, workloads, time limit,
samples) without the engine adapters, the run log or validation, and a peak cell needs nothing
more: it reads the peak its timing process left (:func:`record_peak`) instead of importing the
harness to find it in the run log. The cell's work is :mod:`bakeoff.suite`'s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bakeoff import paths
from datagen.dataset import parse_rows
from shared import atomic
from shared.errors import InputError
from shared.units import positive_number
from workloads import Workload, select_workloads

ENGINE_VARIABLE = "BAKEOFF_ENGINE"
HARNESS_ENVIRONMENT = "harness"  # the asv environment with no engine: the generator's
SCALES_VARIABLE = "BAKEOFF_SCALES"
TIMEOUT_VARIABLE = "BAKEOFF_TIMEOUT"
WORKLOADS_VARIABLE = "BAKEOFF_WORKLOADS"
DEFAULT_SCALES = "1e7"  # db-benchmark's smallest size; at 1e6 fixed overheads dominate
# asv's samples per cell (its ``repeat``): 2 to 5, none started once 3 s have gone. Two at
# least, so an A/B always has a significance test; a cell of seconds is not sampled for half a
# minute (asv's default of 20 s made samples the largest share of a catalogue run; 5 s took a
# third sample of a 2 s join, about 70 s of a five-engine catalogue's samples at 1e7). One
# sample for a cell of tens of seconds, at most three, until 10 s, was measured and left:
# docs/running.md.
SAMPLE_REPEAT: tuple[int, int, float] = (2, 5, 3.0)
# Seconds a workload may take, by the largest scale it applies to: db-benchmark's limits of
# 10, 30 and 60 minutes at 1e7, 1e8 and 1e9 rows (and 60 minutes beyond).
SCALE_TIMEOUTS_S: tuple[tuple[int, float], ...] = (
    (10_000_000, 600.0),
    (100_000_000, 1800.0),
    (1_000_000_000, 3600.0),
)


_untimed_s = 0.0  # seconds inside timed samples that were not the sample's run (see below)


def sample_timer() -> float:
    """asv's clock for the timed samples (its ``timer``): wall time less what a sample spent on
    a failed attempt, the cleanup after it and the log line about it, so that a sample re-run
    after an engine error times one run, as every other sample does."""
    return time.perf_counter() - _untimed_s


def leave_out_of_sample(seconds: float) -> None:
    global _untimed_s
    _untimed_s += seconds


def suite_scales() -> list[int]:
    """Row counts the suite runs at: ``BAKEOFF_SCALES``, comma-separated (``1e6,1e7``)."""
    text = os.environ.get(SCALES_VARIABLE) or DEFAULT_SCALES
    try:
        scales = [parse_rows(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise InputError(str(error)) from None
    if not scales or any(rows <= 0 for rows in scales):
        raise InputError(f"scales must be positive row counts, not {text!r}")
    return scales


def suite_workloads() -> list[Workload]:
    """Workloads the suite runs: ``BAKEOFF_WORKLOADS`` (names, families or all; default all)."""
    return select_workloads([os.environ.get(WORKLOADS_VARIABLE) or "all"])


def default_timeout(rows: int) -> float:
    """The time limit of one workload at ``rows`` (see ``SCALE_TIMEOUTS_S``)."""
    return next(
        (seconds for most, seconds in SCALE_TIMEOUTS_S if rows <= most), SCALE_TIMEOUTS_S[-1][1]
    )


def parse_timeout(text: str, name: str = TIMEOUT_VARIABLE) -> float:
    """A time limit in seconds: ``--timeout`` or ``BAKEOFF_TIMEOUT``."""
    return positive_number(text, name, "seconds")


def suite_timeout(rows: int | None = None) -> float:
    """``BAKEOFF_TIMEOUT`` seconds if set, else the default at ``rows``; without ``rows``, the
    largest limit of the suite's scales (asv's own backstop covers every scale)."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text:
        return parse_timeout(text)
    if rows is None:
        return max(default_timeout(scale) for scale in suite_scales())
    return default_timeout(rows)


# -- a cell's peak, from its timing process to its peak process --------------------------------
RUN_VARIABLE = "BAKEOFF_BENCH_RUN"  # set by ``bakeoff bench``: which bench run asv serves


def _peak_file(workload: str, rows: int) -> Path | None:
    """Where this bench run's timing process of a cell leaves its peak: one file per bench
    run, asv environment and commit; ``None`` outside a bench's asv (nothing names the run)."""
    names = [os.environ.get(key, "") for key in (RUN_VARIABLE, "ASV_ENV_NAME", "ASV_COMMIT")]
    if not all(names):
        return None
    return peaks_dir(names[0]).joinpath(*names[1:], f"{workload}-{rows}.json")


def peaks_dir(run: str) -> Path:
    """Everything one bench run's timing processes left (``bakeoff bench`` removes it)."""
    return paths.results_dir() / ".peaks" / run


def record_peak(workload: str, rows: int, peak_bytes: int | None, unsupported: str = "") -> None:
    """Leave the peak of the cell's validated run (or why the engine does not answer it) for
    the cell's peak process."""
    path = _peak_file(workload, rows)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps({"peak_bytes": peak_bytes, "unsupported": unsupported}))


def recorded_peak(workload: str, rows: int) -> dict[str, Any] | None:
    """What :func:`record_peak` left for this cell in this bench run, if anything."""
    path = _peak_file(workload, rows)
    try:
        return json.loads(path.read_text()) if path is not None else None
    except (OSError, ValueError):
        return None


def left_peak(workload: str, rows: int) -> float | None:
    """The tree peak of the cell's validated run as its timing process left it, ``None`` where
    it left none (asv resumed, ``--bench`` chose only the peak, asv run by hand: then the run
    log has it, :func:`bakeoff.suite.validated_peak`). NotImplementedError (asv: skipped) where
    the engine does not answer the cell."""
    left = recorded_peak(workload, rows)
    if left is None:
        return None
    if left["unsupported"]:
        raise NotImplementedError(left["unsupported"])
    return float(left["peak_bytes"])
