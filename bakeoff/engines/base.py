"""The engine adapter contract: one session per engine, started with documented settings.

An adapter knows how to start and stop its engine on this machine, how to read a dataset
natively, how to force a result to be fully computed by the engine with the cheapest sink that
computes every row and column (the timed part), and how to hand that result over as Arrow for
validation and release it (untimed). Between two timed runs nothing computed by the first may
be reused by the second: no result, no metadata, no task keys (:meth:`Engine.before_run`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pyarrow as pa

from bakeoff import paths
from datagen.dataset import Dataset
from shared.errors import InputError
from shared.units import format_bytes, parse_bytes
from workloads.spec import TABLE_ALIAS

GIB = 1024**3
# A memory cap for a whole run (``4GiB``): every engine derives its own native limit from it,
# as it would from a machine of that size, and the tree probe ends a run that crosses it.
MEMORY_CAP_VARIABLE = "BAKEOFF_MEMORY_CAP"


def memory_cap() -> int | None:
    """The cap ``BAKEOFF_MEMORY_CAP`` sets, in bytes, or None."""
    text = os.environ.get(MEMORY_CAP_VARIABLE, "").strip()
    return parse_memory_cap(text) if text else None


def parse_memory_cap(text: str, name: str = MEMORY_CAP_VARIABLE) -> int:
    """A memory cap (``4GiB``) in bytes: ``--memory-cap`` or ``BAKEOFF_MEMORY_CAP``."""
    try:
        count = parse_bytes(text)
    except InputError as error:
        raise InputError(f"{name}: {error}") from None
    return within_memory(count, name, text)


def within_memory(count: float, name: str, text: str) -> int:
    """``count`` bytes (``text`` as given), refused above this machine's physical memory. A
    limit the machine cannot reach never fires (swap or the kernel's OOM killer act first, and
    the run is recorded as a crash) while the record claims it was in force; clamping it
    silently would record a limit nobody asked for."""
    total = psutil.virtual_memory().total
    if not count <= total:
        raise InputError(
            f"{name} must be at most this machine's physical memory ({format_bytes(total)}), "
            f"not {text!r}"
        )
    return int(count)


@dataclass(frozen=True)
class Resources:
    """What the machine gives an engine: cores, memory (the cap, if one is set) and a
    directory to spill to."""

    cores: int
    memory_bytes: int
    scratch_dir: Path
    capped: bool = False  # memory_bytes is a cap below the machine's memory

    @classmethod
    def detect(cls) -> Resources:
        total, cap = psutil.virtual_memory().total, memory_cap()
        return cls(
            cores=len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
            memory_bytes=min(total, cap) if cap else total,
            scratch_dir=paths.scratch_dir(),
            capped=cap is not None and cap < total,
        )

    def spill_dir(self, engine: str) -> Path:
        path = self.scratch_dir / engine
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class EngineOptions:
    """User choices that change how an engine runs; recorded with every result.

    ``address`` points Spark or Dask at an existing cluster (``spark://…``, ``tcp://…``);
    ``extra`` carries engine-specific switches such as Polars' ``engine=streaming``.
    """

    address: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, engine: str) -> EngineOptions:
        """Options from configuration: ``BAKEOFF_<ENGINE>_ADDRESS`` and
        ``BAKEOFF_<ENGINE>_OPTIONS`` (``key=value,key=value``), as asv runs take them."""
        address, options = option_variables(engine)
        pairs = filter(None, os.environ.get(options, "").split(","))
        return cls(address=os.environ.get(address) or None, extra=parse_options(pairs))


def option_variables(engine: str) -> tuple[str, str]:
    """The environment variables of an engine's cluster address and of its options."""
    prefix = f"BAKEOFF_{engine.upper()}_"
    return prefix + "ADDRESS", prefix + "OPTIONS"


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["engine=streaming"]`` -> ``{"engine": "streaming"}``; InputError on anything else."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"an engine option is key=value, not {pair!r}")
        options[key.strip()] = value.strip()
    return options


class Engine(ABC):
    name: ClassVar[str]
    distribution: ClassVar[str]  # the pip distribution whose version we report
    import_name: ClassVar[str]  # the module the adapter imports
    address_schemes: ClassVar[tuple[str, ...]] = ()  # cluster addresses it accepts, if any
    option_choices: ClassVar[dict[str, tuple[str, ...]]] = {}  # engine options, default first
    # Labelled variants the suite runs beside the default, each an asv environment of its own
    # with these options (``BAKEOFF_<ENGINE>_OPTIONS``): name -> options text.
    variants: ClassVar[dict[str, str]] = {}
    # Whether reading a result back for validation runs its plan a second time (a lazy result
    # sunk to ``noop``, a statement): the estimate of a bench counts that run.
    reads_back_by_running_again: ClassVar[bool] = False

    def __init__(
        self, resources: Resources | None = None, options: EngineOptions | None = None
    ) -> None:
        self.resources = resources or Resources.detect()
        self.options = options or EngineOptions.from_environment(self.name)
        self.runs = 0  # timed runs made in this session
        self.check_options(self.options)

    @classmethod
    def check_options(cls, options: EngineOptions) -> None:
        """Refuse an address or option this engine does not take, before anything runs: by
        every instance, and by ``bakeoff bench`` before asv, where no engine is made."""
        address = options.address
        if address and not cls.address_schemes:
            raise InputError(f"{cls.name} takes no cluster address")
        if address and not address.startswith(cls.address_schemes):
            accepted = ", ".join(f"{scheme}…" for scheme in cls.address_schemes)
            raise InputError(f"{cls.name} takes a cluster address {accepted}, not {address!r}")
        for key, value in options.extra.items():
            choices = cls.option_choices.get(key)
            if choices is None:
                known = ", ".join(cls.option_choices) or "none"
                raise InputError(f"{cls.name} has no option {key!r} (options: {known})")
            if value not in choices:
                raise InputError(
                    f"{cls.name} option {key} is one of {', '.join(choices)}, not {value!r}"
                )

    def option(self, key: str) -> str:
        """An engine option's value; the first choice is the default."""
        return self.options.extra.get(key, self.option_choices[key][0])

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Import the library, then start the session with the settings :meth:`settings` reports.

        The import happens here, outside every timed region, so no query pays for it.
        """
        for variable, value in self.environment().items():
            os.environ.setdefault(variable, value)  # an explicit user setting wins
        importlib.import_module(self.import_name)
        self._start()

    def environment(self) -> dict[str, str]:
        """Environment variables the library reads at import time (thread pools)."""
        return {}

    @abstractmethod
    def _start(self) -> None:
        """Start the engine's session."""

    @abstractmethod
    def stop(self) -> None:
        """Release the session and every process it started."""

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- provenance -------------------------------------------------------------------------
    def version(self) -> str:
        return importlib.metadata.version(self.distribution)

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every setting that affects performance, as applied (JSON-serializable)."""

    # -- running ----------------------------------------------------------------------------
    def prepare(self, dataset: Dataset) -> None:  # noqa: B027 - optional hook
        """Tune per-dataset settings (Spark sizes its shuffle partitions here)."""

    def cannot_read(self, dataset: Dataset) -> str | None:
        """Why this started engine cannot read ``dataset`` where it lives (object storage it
        has no connector for), as a user should read it; None when it can."""
        return None

    @abstractmethod
    def scan(self, dataset: Dataset, table: str | None = None) -> Any:
        """A table of the dataset (its only one by default) as the engine's own, lazy where it
        can be, table read from Parquet."""

    def before_run(self) -> None:  # noqa: B027 - optional hook
        """Drop what an earlier run left that a user's first query would not find. Not timed."""

    def run(self, query: Callable[..., Any], dataset: Dataset, output: Any = None) -> Any:
        """The timed work: build the query from the Parquet files and compute its result.

        A write workload (``output``, a :class:`bakeoff.output.Output`) is its own sink: the
        query writes with the engine's Parquet writer to ``output.location`` and returns once
        every file is closed; the output is then the result, read back by the harness."""
        self.runs += 1
        if output is not None:
            query(self, dataset, output.location)
            return output
        answer = query(self, dataset)
        if isinstance(answer, pa.Table):  # finished by the query itself: nothing left to compute
            return answer
        return self.materialize(answer)

    # What the harness calls on a run's result. An Arrow table is an answer the query finished
    # outside the engine (an ml answer computed in numpy from the engine's aggregates): it is
    # kept as it is, since copying a few rows back into the engine would time the harness.
    def read_back(self, materialized: Any) -> pa.Table:
        """The result as Arrow, for validation. Not timed."""
        return materialized if isinstance(materialized, pa.Table) else self.to_arrow(materialized)

    def count_rows(self, materialized: Any) -> int:
        """The result's row count, without reading it back. Not timed."""
        if isinstance(materialized, pa.Table):
            return materialized.num_rows
        return self.result_rows(materialized)

    def resolved_for(self, materialized: Any) -> dict[str, Any]:
        """What the engine chose for the run (:meth:`resolved`). Not timed."""
        return {} if isinstance(materialized, pa.Table) else self.resolved(materialized)

    def discard(self, materialized: Any) -> None:
        """Drop what the engine keeps of the result. Not timed."""
        if not isinstance(materialized, pa.Table):
            self.release(materialized)

    @abstractmethod
    def materialize(self, result: Any) -> Any:
        """Compute every row and column of ``result`` with the engine's cheapest complete sink
        (the one its own benchmarks use); return what :meth:`to_arrow` reads back. Timed."""

    @abstractmethod
    def to_arrow(self, materialized: Any) -> pa.Table:
        """The materialized result as Arrow, for validation. Not timed."""

    @abstractmethod
    def result_rows(self, materialized: Any) -> int:
        """The materialized result's row count, without reading it back. Not timed."""

    def resolved(self, materialized: Any) -> dict[str, Any]:
        """Settings the engine chose for this run (``auto`` values as resolved). Not timed."""
        return {}

    def release(self, materialized: Any) -> None:  # noqa: B027 - optional hook
        """Drop a materialized result that the engine keeps (a table, persisted futures)."""

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether ``error`` means the engine ran out of memory rather than failed otherwise."""
        if isinstance(error, MemoryError):
            return True
        text = f"{type(error).__name__}: {error}".lower()
        return any(marker in text for marker in self.out_of_memory_markers)

    out_of_memory_markers: ClassVar[tuple[str, ...]] = ("out of memory", "outofmemory")

    # -- fault injection (bakeoff.chaos) ----------------------------------------------------
    def worker_processes(self) -> dict[str, int]:
        """The engine's workers running on this machine, by name, each as the pid of the
        process whose tree is that worker; empty for an engine that computes in this process."""
        return {}

    def no_worker_reason(self) -> str:
        """Why :meth:`worker_processes` is empty, for the fault-tolerance record."""
        return "single-process engine, no worker to kill"


def sql_tables(dataset: Dataset) -> dict[str, str | None]:
    """The names canonical SQL reads a dataset's tables by: ``x`` for a dataset of one table,
    each table's own name (``x``, ``small``, ``medium``, ``big``) for a dataset of several."""
    if len(dataset.tables) == 1:
        return {TABLE_ALIAS: None}
    return {name: name for name in dataset.tables}


def memory_limit(resources: Resources, share: float) -> int:
    """A share of physical memory, in whole MiB, for engines that take an explicit limit."""
    return int(resources.memory_bytes * share) // (1024**2) * (1024**2)
