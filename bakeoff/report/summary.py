"""Which engine for what: the numbers the report's summary and A/B section state.

The combined score follows ClickBench: for every question (workload at a scale) an engine's
ratio is ``(10 ms + t) / (10 ms + best t)``, a failed or missing cell costs ``PENALTY_RATIO``,
and the score is the geometric mean of the ratios (1.0 = fastest everywhere). The 10 ms keeps
questions that every engine answers in a blink from deciding the ranking.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bakeoff.report.table import ASV, Row

BASE_S = 0.010
PENALTY_RATIO = 10.0
SCORE_FORMULA = (
    "score = geometric mean over questions (workload x scale) of "
    f"(10 ms + t) / (10 ms + t_best); a failed or missing cell counts {PENALTY_RATIO:g}; "
    "1.00 is the fastest engine on every question, lower is better"
)

Key = tuple[str, str, int]  # (engine label, workload, rows)


def current(rows: list[Row]) -> dict[Key, Row]:
    """What the summary speaks about: asv's newest measurement of every cell on the machine
    that ran last. Older commits and other machines stay in the full table and the CSV."""
    measured = [row for row in rows if row.source == ASV]
    if not measured:
        return {}
    machine = max(measured, key=lambda row: row.date).machine
    cells: dict[Key, Row] = {}
    for row in sorted(measured, key=lambda row: row.date):
        if row.machine == machine:
            cells[row.label, row.workload, row.rows] = row
    return cells


def labels_of(cells: dict[Key, Row]) -> list[str]:
    return sorted({key[0] for key in cells})


def workloads_of(cells: dict[Key, Row], family: str | None = None) -> list[str]:
    """Workload names in reading order: groupby_q2 before groupby_q10."""
    names = {r.workload for r in cells.values() if family in (None, r.family)}
    return sorted(
        names, key=lambda name: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
    )


def scales_of(cells: dict[Key, Row], family: str | None = None) -> list[int]:
    return sorted({r.rows for r in cells.values() if family in (None, r.family)})


def families_of(cells: dict[Key, Row]) -> list[str]:
    return sorted({r.family for r in cells.values()})


def combined_scores(cells: dict[Key, Row]) -> dict[str, float]:
    """ClickBench's combined score of every engine label over every question asked."""
    labels = labels_of(cells)
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    for workload, rows in sorted({(key[1], key[2]) for key in cells}):
        times = {
            label: cell.time_s
            for label in labels
            if (cell := cells.get((label, workload, rows))) is not None and cell.ok
        }
        best = min(times.values(), default=None)
        for label in labels:
            time_s = times.get(label)
            ratio = PENALTY_RATIO
            if time_s is not None and best is not None:
                ratio = (BASE_S + time_s) / (BASE_S + best)
            ratios[label].append(ratio)
    return {
        label: math.exp(sum(map(math.log, values)) / len(values))
        for label, values in ratios.items()
        if values
    }


LIBRARY_SUFFIX = "_lib"  # ml_m1_lib: the question answered by the engine's own ML library


def group_of(workload: str, family: str) -> str:
    """The ranking group of a workload: its family, or its family's library variants, which
    engines without an ML library leave unsupported by design and are ranked apart."""
    return f"{family} (ML libraries)" if workload.endswith(LIBRARY_SUFFIX) else family


def groups_of(cells: dict[Key, Row]) -> dict[str, list[str]]:
    """Ranking group -> its workloads in reading order, groups in family order."""
    groups: dict[str, list[str]] = {}
    for family in families_of(cells):
        for workload in workloads_of(cells, family):
            groups.setdefault(group_of(workload, family), []).append(workload)
    return groups


def family_total(
    cells: dict[Key, Row],
    label: str,
    family: str,
    rows: int,
    measure: str = "time",
    workloads: list[str] | None = None,
) -> float | None:
    """Total time (or the largest peak) of the family's questions (or of ``workloads``) at a
    scale; None unless the engine answered all of them."""
    values = []
    for workload in workloads if workloads is not None else workloads_of(cells, family):
        cell = cells.get((label, workload, rows))
        if cell is None or not cell.ok:
            return None
        value = cell.time_s if measure == "time" else cell.peak_bytes
        if value is None:
            return None
        values.append(value)
    if not values:
        return None
    return sum(values) if measure == "time" else max(values)


def _answered(cells: dict[Key, Row], label: str, workload: str, rows: int) -> bool:
    cell = cells.get((label, workload, rows))
    return cell is not None and cell.ok


@dataclass
class Best:
    """One ranking group at one scale: who wins, by how much, and on which questions."""

    family: str  # the ranking group (see group_of)
    rows: int
    fastest: str | None
    fastest_s: float | None
    leanest: str | None
    leanest_bytes: float | None
    complete: list[str] = field(default_factory=list)  # engines that answered every question
    questions: list[str] = field(default_factory=list)  # the questions the ranking is over
    asked: list[str] = field(default_factory=list)  # every question of the group
    runner_up: str | None = None
    margin: float | None = None  # runner-up's total / the fastest's
    margin_low: float | None = None  # the same over the interquartile ranges: least ...
    margin_high: float | None = None  # ... and most favourable to the fastest
    unanswered: list[str] = field(default_factory=list)  # engines that answered nothing


def _quartile_total(cells: dict[Key, Row], label: str, questions: list[str], rows: int, q: str):
    """Sum of one quartile (``time_q25_s`` or ``time_q75_s``), the median where it is absent."""
    total = 0.0
    for workload in questions:
        cell = cells[label, workload, rows]
        value = getattr(cell, q)
        total += value if value is not None else cell.time_s
    return total


def rank_group(cells: dict[Key, Row], group: str, asked: list[str], rows: int) -> Best:
    """Rank the engines on one group at one scale. The contenders are the engines that answered
    every question of the group anyone answered; if none did, every engine that answered one,
    on the questions all of them answered. Engines that answered nothing (unsupported by
    design, say) are named, not ranked."""
    labels = labels_of(cells)
    answered = [w for w in asked if any(_answered(cells, lb, w, rows) for lb in labels)]
    answering = [lb for lb in labels if any(_answered(cells, lb, w, rows) for w in answered)]
    unanswered = [lb for lb in labels if lb not in answering]
    complete = [lb for lb in answering if all(_answered(cells, lb, w, rows) for w in answered)]
    contenders = complete or answering
    questions = [w for w in answered if all(_answered(cells, lb, w, rows) for lb in contenders)]
    best = Best(group, rows, None, None, None, None, complete, questions, asked)
    best.unanswered = unanswered
    if not questions:
        return best
    times = {lb: family_total(cells, lb, group, rows, "time", questions) for lb in contenders}
    peaks = {lb: family_total(cells, lb, group, rows, "memory", questions) for lb in contenders}
    ordered = sorted((t, lb) for lb, t in times.items() if t is not None)
    best.fastest_s, best.fastest = ordered[0]
    lean = sorted((p, lb) for lb, p in peaks.items() if p is not None)
    if lean:
        best.leanest_bytes, best.leanest = lean[0]
    if len(ordered) > 1:
        runner_s, best.runner_up = ordered[1]
        best.margin = runner_s / best.fastest_s
        q25 = {lb: _quartile_total(cells, lb, questions, rows, "time_q25_s") for lb in times}
        q75 = {lb: _quartile_total(cells, lb, questions, rows, "time_q75_s") for lb in times}
        best.margin_low = q25[best.runner_up] / q75[best.fastest]
        best.margin_high = q75[best.runner_up] / q25[best.fastest]
    return best


def best_per_family(cells: dict[Key, Row]) -> list[Best]:
    """Per ranking group and scale, the fastest (total time) and the leanest (largest peak),
    with the fastest's margin over the next engine (see :func:`rank_group`)."""
    found = []
    for group, asked in groups_of(cells).items():
        scales = sorted({rows for (_, workload, rows) in cells if workload in asked})
        found += [rank_group(cells, group, asked, rows) for rows in scales]
    return found


@dataclass(frozen=True)
class Crossover:
    family: str
    measure: str  # "time" or "memory"
    winner: str  # better at the larger scale
    loser: str
    rows: float  # where the curves cross, interpolated on log-log axes
    value: float  # the curves' value there


def series(cells: dict[Key, Row], family: str, measure: str) -> dict[str, dict[int, float]]:
    """Each engine's family total by scale (only the scales where it answered everything)."""
    curves: dict[str, dict[int, float]] = {}
    for label in labels_of(cells):
        for rows in scales_of(cells, family):
            value = family_total(cells, label, family, rows, measure)
            if value is not None:
                curves.setdefault(label, {})[rows] = value
    return curves


def crossovers(curves: dict[str, dict[int, float]], family: str, measure: str) -> list[Crossover]:
    """Where one engine's curve crosses another's between two measured scales."""
    found = []
    labels = sorted(curves)
    for index, a in enumerate(labels):
        for b in labels[index + 1 :]:
            shared = sorted(set(curves[a]) & set(curves[b]))
            for low, high in itertools.pairwise(shared):
                gap_low = math.log(curves[a][low] / curves[b][low])
                gap_high = math.log(curves[a][high] / curves[b][high])
                if gap_low * gap_high >= 0:
                    continue
                share = gap_low / (gap_low - gap_high)
                log_rows = math.log(low) + share * (math.log(high) - math.log(low))
                log_value = math.log(curves[b][low]) + share * (
                    math.log(curves[b][high]) - math.log(curves[b][low])
                )
                winner, loser = (a, b) if gap_high < 0 else (b, a)
                found.append(
                    Crossover(
                        family, measure, winner, loser, math.exp(log_rows), math.exp(log_value)
                    )
                )
    return found


def relative_to_fastest(cells: dict[Key, Row], rows: int) -> dict[tuple[str, str], float]:
    """(label, workload) -> time / the fastest engine's time on that workload, at one scale."""
    ratios = {}
    for workload in workloads_of(cells):
        times = {
            label: cell.time_s
            for label in labels_of(cells)
            if (cell := cells.get((label, workload, rows))) is not None and cell.ok
        }
        best = min(times.values(), default=None)
        for label, time_s in times.items():
            if best:
                ratios[label, workload] = time_s / best
    return ratios


@dataclass
class Comparison:
    """One workload at one scale, an engine's newer version against its older one."""

    engine: str
    old: str
    new: str
    workload: str
    rows: int
    time_ratio: float | None
    significant: bool | None  # asv's own test; None without samples to test
    memory_ratio: float | None
    flags: list[str]


def _version_key(version: str) -> tuple[int, object]:
    try:
        from packaging.version import Version

        return (0, Version(version))
    except Exception:  # not a PEP 440 version: order it as text, after the real ones
        return (1, version)


def is_significant(old: Row, new: Row) -> bool | None:
    """asv's own test (the one ``asv compare`` uses) on the two cells' samples."""
    from asv import _stats

    if not (old.stats and new.stats and old.sample_values and new.sample_values):
        return None
    if 1 in (old.stats.get("repeat"), new.stats.get("repeat")):
        return None
    return bool(_stats.is_different(old.sample_values, new.sample_values, old.stats, new.stats))


def _ratio(old: float | None, new: float | None) -> float | None:
    return new / old if old and new is not None else None


def compare_versions(old: Row, new: Row, factor: float) -> Comparison:
    time_ratio = _ratio(old.time_s, new.time_s) if old.ok and new.ok else None
    memory_ratio = _ratio(old.peak_bytes, new.peak_bytes) if old.ok and new.ok else None
    significant = is_significant(old, new) if time_ratio is not None else None
    flags = []
    if time_ratio is not None and time_ratio > factor and significant is not False:
        flags.append(f"slower by more than {factor:g}x")
    if memory_ratio is not None and memory_ratio > factor:
        flags.append(f"memory grew by more than {factor:g}x")
    if old.ok and not new.ok:
        flags.append(f"now fails: {new.status}")
    if new.ok and not old.ok:
        flags.append(f"fixed: was {old.status}")
    return Comparison(
        old.engine,
        old.pinned,
        new.pinned,
        old.workload,
        old.rows,
        time_ratio,
        significant,
        memory_ratio,
        flags,
    )


def version_pairs(cells: dict[Key, Row]) -> Iterable[tuple[str, str, str]]:
    """(engine, older label, newer label) for consecutive pinned versions of each engine."""
    pinned: dict[str, set[str]] = {}
    for row in cells.values():
        if row.pinned:
            pinned.setdefault(row.engine, set()).add(row.pinned)
    for engine, versions in sorted(pinned.items()):
        ordered = sorted(versions, key=_version_key)
        for old, new in itertools.pairwise(ordered):
            yield engine, f"{engine}=={old}", f"{engine}=={new}"


def ab_comparisons(cells: dict[Key, Row], factor: float) -> list[Comparison]:
    found = []
    for _, old, new in version_pairs(cells):
        for (label, workload, rows), row in sorted(cells.items()):
            other = cells.get((new, workload, rows))
            if label == old and other is not None:
                found.append(compare_versions(row, other, factor))
    return found
