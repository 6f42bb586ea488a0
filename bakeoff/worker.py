"""The process that actually runs workloads for ``bakeoff run``.

The parent sends one JSON request on stdin; the worker starts the engine once, runs each
workload through :func:`bakeoff.runner.run_workload` and appends one record per workload to
the records file the parent named. Running in a child keeps the parent alive to report a
crash (a segfault, the kernel's OOM killer) as a record instead of dying with the engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bakeoff.engines import EngineOptions, create_engine
from bakeoff.reference import reference_answer
from bakeoff.runner import Limits, RunRecord, Status, first_line, new_record, run_workload
from datagen.dataset import Dataset
from shared.lifetime import watch_parent
from workloads import get_workload


def main() -> int:
    # First: a `bakeoff run` killed with -9 (even before this line) takes this worker and its
    # process group (JVM, Dask workers) along, through the lifeline the supervisor passed.
    watch_parent()
    request = json.load(sys.stdin)
    records = Path(request["records"])
    dataset = Dataset.load(Path(request["dataset"]), request.get("dataset_url"))
    workloads = [get_workload(name) for name in request["workloads"]]
    limits = Limits(**request["limits"])
    engine = create_engine(request["engine"], EngineOptions(**request["options"]))

    def emit(record: RunRecord) -> None:
        with open(records, "a") as handle:
            handle.write(record.to_json() + "\n")

    try:
        engine.start()
    except Exception as error:  # e.g. no Java for Spark: every workload reports why
        for workload in workloads:
            emit(
                new_record(
                    engine,
                    workload,
                    dataset,
                    Status.ERROR,
                    f"{engine.name} did not start: {first_line(error)}",
                    limits=limits.recorded(),
                )
            )
        return 0
    try:
        for workload in workloads:
            run_workload(
                engine,
                workload,
                dataset,
                limits=limits,
                emit=emit,
                reference=reference_answer(dataset, workload),
            )
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
