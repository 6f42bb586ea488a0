"""The engine registry. Adding an engine is one adapter module here named after it."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from bakeoff.engines.base import Engine, EngineOptions, Resources, parse_options

ENGINE_NAMES: tuple[str, ...] = (
    "duckdb",
    "polars",
    "dask",
    "spark",
    "vaex",
    "pyarrow",
    "datafusion",
    "daft",
    "chdb",
    "sail",
)


def engine_class(name: str) -> type[Engine]:
    if name not in ENGINE_NAMES:
        raise KeyError(f"unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
    module = importlib.import_module(f"bakeoff.engines.{name}")
    return module.ENGINE


def variant_label(engine: str, variant: str) -> str:
    """How results name an engine's labelled variant (``polars[in-memory]``); the engine's
    name for its default form."""
    return f"{engine}[{variant}]" if variant else engine


def variant_of(engine: str, options: str) -> str:
    """The labelled variant whose options (``BAKEOFF_<ENGINE>_OPTIONS``) these are; the options
    themselves when they are no declared variant's, "" for none."""
    declared = {text: name for name, text in engine_class(engine).variants.items()}
    return declared.get(options.strip(), options.strip())


def catalogue_labels() -> list[str]:
    """Every engine and each of its labelled variants, as the default suite runs them."""
    return [
        variant_label(name, variant)
        for name in ENGINE_NAMES
        for variant in ("", *engine_class(name).variants)
    ]


def is_installed(name: str) -> bool:
    """Whether this environment can import the engine's library."""
    try:
        return importlib.util.find_spec(engine_class(name).import_name) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


def engine_pythons() -> dict[str, str]:
    """The Python that has each engine: this one where it is installed, and the virtualenvs
    ``BAKEOFF_ENGINE_PYTHONS=vaex=/path/to/python`` names (Vaex's pins need one of its own)."""
    pythons = {name: sys.executable for name in ENGINE_NAMES if is_installed(name)}
    for pair in filter(None, os.environ.get("BAKEOFF_ENGINE_PYTHONS", "").split(",")):
        name, _, python = pair.partition("=")
        pythons[name.strip()] = python.strip()
    return pythons


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
    "engine_pythons",
    "is_installed",
    "parse_options",
]
