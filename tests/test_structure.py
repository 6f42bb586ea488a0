"""The house's floors: every import points down, and no two modules import each other.

From the ground up: ``shared`` (errors, lazy imports, units), ``datagen`` (the data),
``workloads`` (the questions and their per-engine answers), ``bakeoff`` (the runtime), then
``benchmarks`` (asv). A module may import its own floor and the floors below; imports inside
functions and under ``TYPE_CHECKING`` count too, since a reader must follow them all the same.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("shared", "datagen", "workloads", "bakeoff", "benchmarks")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path for floor in FLOORS for path in sorted((ROOT / floor).rglob("*.py"))
    }


def imported(path: Path, modules: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """(line, project module) of every import in ``path``: ``from a import b`` names the
    module ``a.b`` when there is one, else ``a``."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    package = package if package is not None else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(node.lineno, alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield from _known(node.lineno, target if target in modules else base, modules)


def _known(line: int, name: str, modules: dict[str, Path]) -> Iterator[tuple[int, str]]:
    while name and name not in modules:  # `import a.b.c` of a project module, or a library
        name = name.rpartition(".")[0]
    if name:
        yield line, name


def floor_of(module: str) -> int:
    return FLOORS.index(module.split(".")[0])


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: {target for _, target in imported(path, modules) if target != name}
        for name, path in modules.items()
    }


def test_every_import_points_down() -> None:
    modules = project_modules()
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules.items()
        for line, target in imported(path, modules)
        if floor_of(target) > floor_of(name)
    ]
    assert not upward, "imports that run back up a floor:\n" + "\n".join(upward)


def test_no_module_imports_itself_through_others() -> None:
    graph = import_graph()
    circles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_rule_sees_imports_inside_functions() -> None:
    """The checker itself: an import inside a function, and a relative one, are found."""
    modules = project_modules()
    found = {target for _, target in imported(ROOT / "bakeoff" / "cli.py", modules)}
    assert {"bakeoff.commands", "bakeoff.bench", "datagen.cli", "shared.errors"} <= found
    assert floor_of("shared.errors") < floor_of("datagen.storage") < floor_of("bakeoff.paths")


# Libraries the engines bring beside their own package: Dask's scheduler, the ML libraries.
ENGINE_COMPANIONS = ("distributed", "dask_ml", "sklearn")
HARNESS_LIBRARIES = ("pyarrow",)  # the harness's own dependency, and the pyarrow engine's


def engine_libraries() -> list[str]:
    """Every registered engine's top-level package, and their companions: a new engine's
    library is blocked here without a list to keep."""
    from bakeoff.engines import ENGINE_NAMES, engine_class

    packages = {engine_class(name).import_name.partition(".")[0] for name in ENGINE_NAMES}
    return sorted((packages - set(HARNESS_LIBRARIES)) | set(ENGINE_COMPANIONS))


def test_the_harness_imports_without_any_engine() -> None:
    """``make bench``'s harness environment has no engine: every module below ``benchmarks``
    (the engines' adapters and answers included) must import with the engines missing, its
    engine loaded lazily on first use. The peers' plain scripts import their engine outright."""
    names = [
        name
        for name in project_modules()
        if floor_of(name) < floor_of("benchmarks") and not name.endswith("__main__")
    ]
    script = (
        "import importlib, sys\n"
        f"for library in {engine_libraries()!r}: sys.modules[library] = None\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    try: importlib.import_module(name)\n"
        "    except ImportError as error: failed.append(f'{name}: {error}')\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert not result.stdout.strip(), "modules that import an engine at once:\n" + result.stdout


def test_a_lazy_import_imports_on_first_use_then_gets_out_of_the_way() -> None:
    """The first attribute imports the module; each name is then held by the stand-in, so an
    engine's expression of hundreds of ``pl.col`` calls pays no lookup through it."""
    from shared.lazy import LazyModule

    calls: list[str] = []

    class Counting(LazyModule):
        def __getattr__(self, attribute: str) -> object:
            calls.append(attribute)
            return super().__getattr__(attribute)

    stand_in = Counting("json")
    import json

    assert stand_in.dumps is json.dumps and stand_in.dumps({"a": 1}) == '{"a": 1}'
    assert stand_in.loads is json.loads
    assert calls == ["dumps", "loads"]
