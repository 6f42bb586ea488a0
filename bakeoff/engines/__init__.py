"""The engine registry. Adding an engine is one adapter module here named after it."""

from __future__ import annotations

import importlib
import importlib.util

from bakeoff.engines.base import Engine, EngineOptions, Resources, parse_options

ENGINE_NAMES: tuple[str, ...] = ("duckdb", "polars", "dask", "spark", "vaex")


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINE_NAMES:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
    module = importlib.import_module(f"bakeoff.engines.{name}")
    return module.ENGINE


def is_installed(name: str) -> bool:
    """Whether this environment can import the engine's library."""
    try:
        return importlib.util.find_spec(engine_class(name).import_name) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


def create_engine(
    name: str, options: EngineOptions | None = None, resources: Resources | None = None
) -> Engine:
    return engine_class(name)(resources=resources, options=options)


__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "EngineOptions",
    "Resources",
    "create_engine",
    "engine_class",
    "is_installed",
    "parse_options",
]
