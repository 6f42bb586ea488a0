"""The engine x workload matrix is complete: every cell answered or explained."""

from __future__ import annotations

import json

from bakeoff.cli import main
from bakeoff.engines import ENGINE_NAMES, engine_class
from workloads import FAMILIES, Unsupported, all_workloads, declared, implementation


def test_every_cell_is_implemented_or_has_a_reason():
    for workload in all_workloads().values():
        for engine in ENGINE_NAMES:
            assert declared(engine, workload), f"{engine} neither answers nor declines {workload}"
            cell = implementation(engine, workload)
            if isinstance(cell, Unsupported):
                assert len(cell.reason) > 10, (engine, workload.name)
            else:
                assert callable(cell), (engine, workload.name)


def test_groupby_q1_to_q5_are_implemented_on_every_engine():
    names = [f"groupby_q{i}" for i in range(1, 6)]
    workloads = all_workloads()
    for engine in ENGINE_NAMES:
        for name in names:
            assert not isinstance(implementation(engine, workloads[name]), Unsupported)


def test_every_engine_has_an_adapter_named_after_it():
    for engine in ENGINE_NAMES:
        assert engine_class(engine).name == engine


def test_workload_names_follow_family_convention():
    for name, workload in all_workloads().items():
        assert workload.family in FAMILIES
        assert name.startswith(f"{workload.family}_")


def test_every_family_has_workloads():
    for family in FAMILIES:
        assert any(w.family == family for w in all_workloads().values()), family


def test_workloads_command_prints_the_matrix(capsys):
    assert main(["workloads", "--json"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    assert set(matrix) == set(all_workloads())
    for entry in matrix.values():
        assert set(entry["engines"]) == set(ENGINE_NAMES)


def test_every_engine_is_wired_everywhere_it_must_be():
    """The places docs/adding-an-engine.md names: an answer module per family, a pip extra of
    the engine's name, an asv environment, and its own colour in the charts."""
    import tomllib
    from pathlib import Path

    from asv.util import load_json

    from bakeoff.bench import engine_matrix, parse_engines
    from bakeoff.report.charts import ENGINE_COLOURS

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    asv_config = load_json(str(root / "asv.conf.json"), js_comments=True)
    asv_engines = asv_config["matrix"]["env"]["BAKEOFF_ENGINE"]
    for engine in ENGINE_NAMES:
        for family in FAMILIES:
            module = root / "workloads" / family / f"{engine}.py"
            assert module.exists(), f"{engine}: no {module.relative_to(root)}"
        assert engine in extras, f"{engine}: no pip extra {engine!r} in pyproject.toml"
        assert engine in asv_engines, f"{engine}: not in asv.conf.json's BAKEOFF_ENGINE matrix"
        assert engine in ENGINE_COLOURS, f"{engine}: no colour in bakeoff/report/charts.py"
    variants = engine_matrix(parse_engines(None), asv_config["pythons"])["include"]
    assert asv_config["include"] == variants, "asv.conf.json's include: the engines' variants"
