"""The workload registry: every question, and every engine's answer to it.

A family's questions live in ``workloads/<family>/__init__.py`` as ``WORKLOADS``; each engine
answers them in ``workloads/<family>/<engine>.py``, which maps workload names to functions in
``QUERIES`` and, where an engine cannot answer, names the reason in ``UNSUPPORTED``. The
modules import their engine lazily, so the whole matrix can be listed from any environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any

from shared.errors import InputError
from workloads.spec import Workload

FAMILIES: tuple[str, ...] = ("groupby", "join", "window", "ml", "etl")

# An implementation takes the started engine and the dataset and returns the engine's own
# (usually lazy) result; the engine adapter materializes it inside the timed region. A write
# workload's (etl) also takes the output location and writes there itself (workloads.etl).
Implementation = Callable[..., Any]


@dataclass(frozen=True)
class Unsupported:
    reason: str


def _family_module(family: str) -> ModuleType:
    return importlib.import_module(f"workloads.{family}")


def all_workloads() -> dict[str, Workload]:
    return {w.name: w for family in FAMILIES for w in _family_module(family).WORKLOADS}


def get_workload(name: str) -> Workload:
    workloads = all_workloads()
    if name not in workloads:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(workloads)}")
    return workloads[name]


def select_workloads(names: list[str]) -> list[Workload]:
    """Workload names, family names (``groupby``) or ``all``, comma-separated or repeated."""
    known = all_workloads()
    chosen: list[Workload] = []
    for name in (part for item in names for part in item.split(",") if part):
        if name == "all":
            chosen.extend(known.values())
        elif name in FAMILIES:
            chosen.extend(w for w in known.values() if w.family == name)
        elif name in known:
            chosen.append(known[name])
        else:
            raise InputError(
                f"unknown workload {name!r}; choose from all, "
                f"{', '.join(FAMILIES)}, {', '.join(known)}"
            )
    return list(dict.fromkeys(chosen))


def _engine_module(engine: str, family: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"workloads.{family}.{engine}")
    except ModuleNotFoundError as exc:
        if exc.name != f"workloads.{family}.{engine}":
            raise
        return None


def declared(engine: str, workload: Workload) -> bool:
    """Whether the engine's module answers the workload or says why it cannot."""
    module = _engine_module(engine, workload.family)
    return module is not None and (
        workload.name in getattr(module, "QUERIES", {})
        or workload.name in getattr(module, "UNSUPPORTED", {})
    )


def implementation(engine: str, workload: Workload) -> Implementation | Unsupported:
    """The engine's function for this workload, or why it has none."""
    module = _engine_module(engine, workload.family)
    if module is None:
        return Unsupported(f"no {workload.family} module for {engine}")
    unsupported: dict[str, str] = getattr(module, "UNSUPPORTED", {})
    if workload.name in unsupported:
        return Unsupported(unsupported[workload.name])
    queries: dict[str, Implementation] = module.QUERIES
    if workload.name not in queries:  # tests/test_matrix.py keeps this from happening
        return Unsupported(f"{engine} has no implementation of {workload.name}")
    return queries[workload.name]


def run_canonical_sql(workload: Workload, engine: Any, dataset: Any) -> Any:
    """The workload's canonical SQL, on an engine whose adapter runs SQL (``engine.sql``)."""
    return engine.sql(dataset, workload.sql)


def canonical_sql_queries(workloads: tuple[Workload, ...]) -> dict[str, Implementation]:
    """``QUERIES`` for a SQL engine that answers each question with its canonical statement."""
    return {workload.name: partial(run_canonical_sql, workload) for workload in workloads}


__all__ = [
    "FAMILIES",
    "Unsupported",
    "Workload",
    "all_workloads",
    "canonical_sql_queries",
    "declared",
    "get_workload",
    "implementation",
    "select_workloads",
]
