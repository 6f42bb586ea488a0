"""Every workload on this environment's engine: wall time and peak process-tree memory.

Parameterized by workload and scale (``BAKEOFF_SCALES``, default 1e7 rows). For the timing,
``setup`` starts the engine and makes one validated, memory-probed run (a wrong answer fails
the benchmark before anything is timed), then, before every sample, releases the previous
sample's result and drops what the engine could reuse; ``teardown`` releases the sample's
result. The timed function measures Parquet on disk to the full result computed, and nothing
else. The peak is that validated run's, which the timing process leaves for a class of its
own: asv's second process per cell neither starts the engine nor validates all over again.
"""

import os
from pathlib import Path
from typing import ClassVar

# asv runs benchmarks outside the repository: find the shared datasets and log from here.
_REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("BAKEOFF_DATA_DIR", str(_REPO / "data"))
os.environ.setdefault("BAKEOFF_RESULTS_DIR", str(_REPO / "results"))

from bakeoff.cells import (  # noqa: E402
    SAMPLE_REPEAT,
    left_peak,
    sample_timer,
    suite_scales,
    suite_timeout,
    suite_workloads,
)
from workloads import FAMILIES, Workload  # noqa: E402


class _WorkloadFamily:
    param_names: ClassVar[list[str]] = ["workload", "rows"]
    timeout = suite_timeout() + 300  # asv's own backstop, past the runner's watchdog
    number = 1  # one call is one full query; no batching
    repeat = SAMPLE_REPEAT  # 2 to 5 samples, none started once 3 s have gone
    rounds = 1  # each round restarts the engine: once is enough next to `repeat`
    warmup_time = 0  # setup's validated run is the warm-up
    timer = staticmethod(sample_timer)  # a sample re-run after an engine error times the re-run

    def setup(self, workload, rows):
        # One engine session per process, reused by asv's per-sample setup calls; the harness
        # is imported here, not with the module, which a peak cell's process imports too.
        from bakeoff.suite import prepared_workload

        self.prepared = prepared_workload(workload, rows)
        self.prepared.before_sample()

    def teardown(self, workload, rows):
        if hasattr(self, "prepared"):  # setup ran (not skipped as unsupported)
            self.prepared.after_sample()

    def time_query(self, workload, rows):
        self.prepared.run_once()


class _WorkloadFamilyMemory:
    """The peak of each cell's validated run, as the cell's timing process left it: no engine
    starts and no harness is imported in the usual case (:func:`bakeoff.cells.left_peak`)."""

    param_names = _WorkloadFamily.param_names
    timeout = _WorkloadFamily.timeout

    def setup(self, workload, rows):
        # skipped, as the timing is, where this engine does not answer
        self.peak = left_peak(workload, rows)
        if self.peak is None:  # no timing process of this bench run left it
            from bakeoff.suite import validated_peak

            self.peak = validated_peak(workload, rows)

    def track_peak_tree_bytes(self, workload, rows):
        return self.peak

    track_peak_tree_bytes.unit = "bytes"


def _family_benchmarks(family: str, workloads: list[Workload]) -> list[type]:
    """Two asv classes per workload family (``GroupBy`` and ``GroupByMemory``, ...): its
    workloads x the rows they read at the suite's scales (the ml family reads a share)."""
    title = {"groupby": "GroupBy", "ml": "ML", "etl": "ETL"}.get(family, family.title())
    names = [w.name for w in workloads]
    rows = sorted({w.suite_rows(scale) for w in workloads for scale in suite_scales()})
    shared = {"params": (names, rows)}
    memory_doc = f"Peak tree memory of the {family} workloads."
    return [
        type(title, (_WorkloadFamily,), {"__doc__": f"The {family} workloads.", **shared}),
        type(f"{title}Memory", (_WorkloadFamilyMemory,), {"__doc__": memory_doc, **shared}),
    ]


# asv finds benchmarks as module attributes; a new family needs no code here.
for _family in FAMILIES:
    _workloads = [w for w in suite_workloads() if w.family == _family]
    for _benchmark in _family_benchmarks(_family, _workloads) if _workloads else []:
        globals()[_benchmark.__name__] = _benchmark
